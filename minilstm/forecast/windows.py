r"""The windowing contract: one function that ``fit``, ``predict`` and ``evaluate`` all use.

A window is L = ``sequence_length`` consecutive rows of X. The window that starts
at row j covers rows [j, j+L) and predicts the target ``horizon`` rows after its
last row (and, with ``output_steps = k``, the k rows from there)::

    rows of X:   ... | j | j+1 | ... | j+L-1 |   ...   | j+L-1+horizon | ...
                     \_______ window j ______/          ^ target y[j+L-1+horizon]
                                                       (+ the next k-1 rows when output_steps = k)

horizon = 1 (default): the row right after the window. horizon = 0: the window's
own last row, for users whose y is already shifted. A series of N rows has
N - L + 1 windows; those whose targets all lie inside the series,
N - L - horizon - k + 2 of them, can be trained on or scored.
"""
import numpy as np


def n_windows(n_rows, L):
    """Number of windows of length L in n_rows rows (all of them, for predict)."""
    return max(n_rows - L + 1, 0)


def n_labeled(n_rows, L, horizon, steps=1):
    """Number of windows whose ``steps`` targets all lie inside the series."""
    return max(n_rows - L - horizon - steps + 2, 0)


def target_rows(n, L, horizon, steps=1):
    """Row index of every target: (n, steps) array, entry [j, s] = j + L - 1 + horizon + s."""
    return np.arange(n)[:, None] + (L - 1 + horizon) + np.arange(steps)[None, :]


def sliding_windows(X, L):
    """All windows of X (N, F) as a read-only view (N - L + 1, L, F) (no copy)."""
    return np.lib.stride_tricks.sliding_window_view(X, L, axis=0).transpose(0, 2, 1)


def window_targets(y, L, horizon, steps=1):
    """Targets of the labeled windows: y (N, T) -> (n_labeled, steps, T)."""
    n = n_labeled(len(y), L, horizon, steps)
    return y[target_rows(n, L, horizon, steps)]
