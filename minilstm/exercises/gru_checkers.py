"""The checker of exercise 5, the GRU's ``gru_step_backward``: each mistake written out as the code a learner
would write (``checkers`` holds the shared machinery and the LSTM's exercises)."""
import numpy as np

from ..core import gru
from ..gradcheck import check_function
from .checkers import Feedback, _call, _diagnose, _error_feedback

# ---- exercise 5: gru_step_backward ----------------------------------------------------------

GRU_PARAM_KEYS = ("W_x", "W_h", "b_x", "b_h")


def _random_gru_step(seed=0, B=3, D=4, H=5):
    rng = np.random.default_rng(seed)
    params = {"W_x": rng.standard_normal((D, 3 * H)) * 0.5, "W_h": rng.standard_normal((H, 3 * H)) * 0.5,
              "b_x": rng.standard_normal(3 * H) * 0.5, "b_h": rng.standard_normal(3 * H) * 0.5}
    return rng.standard_normal((B, D)), rng.standard_normal((B, H)), params, rng


def _gru_backward_variant(dh, cache, kind):
    """What ``gru_step_backward`` returns with the mistake ``kind`` (the reference when kind is None)."""
    x, h_prev, gates, hn, p = cache
    H = dh.shape[1]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    if kind == "swapped_r_z":
        r, z = z, r
    sig = (lambda s: 1 - s ** 2) if kind == "sigmoid_prime_as_tanh" else (lambda s: s * (1 - s))
    dn = dh if kind == "missing_one_minus_z" else dh * (1 - z)
    dz = dh * ((n - h_prev) if kind == "dz_sign" else (h_prev - n))
    da_n = dn if kind == "missing_tanh_prime" else dn * (1 - n ** 2)
    hn_used = hn - p["b_h"][2 * H:] if kind == "reset_outside_bias" else hn
    da_x = np.concatenate([da_n * hn_used * sig(r), dz * sig(z), da_n], axis=1)
    da_h = da_x.copy()
    if kind != "h_side_without_r":
        da_h[:, 2 * H:] = da_n * r
    dh_prev = da_h @ p["W_h"].T + (0 if kind == "dropped_z_carry" else dh * z)
    db_h = da_x.sum(0) if kind == "b_hn_without_r" else da_h.sum(0)
    return (da_x @ p["W_x"].T, dh_prev,
            {"W_x": x.T @ da_x, "W_h": h_prev.T @ da_h, "b_x": da_x.sum(0), "b_h": db_h})


GRU_BACKWARD_HINTS = {
    "missing_one_minus_z": "the candidate's gradient is missing the (1 - z_t) factor: h_t = (1 - z_t) * n_t + "
                           "z_t * h_{t-1}, so dn_t = dh_t * (1 - z_t).",
    "dropped_z_carry": "dh_prev is missing the direct path: h_{t-1} also reaches h_t as z_t * h_{t-1}, so "
                       "dh_prev = dh_t * z_t + da_h @ W_h.T.",
    "dz_sign": "dz_t has the wrong sign: h_t = (1 - z_t) * n_t + z_t * h_{t-1} gives dz_t = dh_t * (h_{t-1} - n_t).",
    "swapped_r_z": "the reset and update gates are swapped: the 3H axis is ordered r, z, n, so r_t = gates[:, :H] "
                   "and z_t = gates[:, H:2H].",
    "missing_tanh_prime": "the candidate's gradient is missing tanh's derivative: da_n = dn_t * (1 - n_t^2).",
    "sigmoid_prime_as_tanh": "a gate uses tanh's derivative 1 - s^2; the sigmoid gates r_t and z_t use s * (1 - s).",
    "h_side_without_r": "the hidden side of the candidate is missing r_t: n_t = tanh(x W_xn + b_xn + r_t * (h W_hn + "
                        "b_hn)), so dW_h, db_h and dh_prev get da_n * r_t in the n block (dW_x and db_x get da_n).",
    "b_hn_without_r": "db_h's n block is missing r_t: b_hn sits inside r_t * (h_{t-1} W_hn + b_hn), so its "
                      "gradient is the sum of da_n * r_t, not of da_n (db_h is not db_x).",
    "reset_outside_bias": "dr_t uses h_{t-1} W_hn without b_hn: r_t multiplies h_{t-1} W_hn + b_hn (the cached hn), "
                          "so da_r = da_n * hn * r_t * (1 - r_t).",
}


def _gru_flat(out):
    dx, dh, dp = out
    return (dx, dh, *(dp.get(k) for k in GRU_PARAM_KEYS))


def _gru_structure_feedback(name, out, ref):
    """Keys of dparams, then the shape of every gradient, against the reference's; None if all fine."""
    dx, dh_prev, dp = out
    if set(dp) != set(GRU_PARAM_KEYS):
        got = sorted(map(str, dp))
        hint = f"dparams must have exactly the keys {list(GRU_PARAM_KEYS)} (those of params), got {got}"
        if sorted(k[1:] for k in got if k.startswith("d")) == sorted(GRU_PARAM_KEYS):
            hint += ": drop the 'd' prefix (the dict already holds gradients, keyed like the parameters)"
        elif "b" in got:
            hint += ": the GRU has two biases, b_x and b_h (b_hn sits inside r_t * (...), so they differ)"
        return Feedback(name, False, hint + ".", "param_keys")
    for label, a, r in (("dx_t", dx, ref[0]), ("dh_prev", dh_prev, ref[1]),
                        *((f"d{k}", dp[k], ref[2][k]) for k in GRU_PARAM_KEYS)):
        if np.shape(a) != r.shape:
            return Feedback(name, False, f"{label} must have shape {r.shape}, got {np.shape(a)} (a gradient has the "
                            "shape of its variable; e.g. dW_x = x_t.T @ da_x is (D, 3H)).", "shape")
    return None


def check_gru_step_backward(fn, seed=0):
    """Check ``gru_step_backward(dh_t, cache) -> (dx_t, dh_prev, dparams)`` for the GRU of ``minilstm.gru``
    (cache = (x_t, h_prev, gates [r, z, n] (B, 3H), hn = h_{t-1} W_hn + b_hn (B, H), params)) by a gradient check
    against finite differences of the reference forward, then name the mistake."""
    name = "gru_step_backward"
    x, h, p, rng = _random_gru_step(seed)
    _, cache = gru.gru_step_forward(x, h, p)
    dh = rng.standard_normal(h.shape)
    out, err = _call(fn, dh.copy(), cache)
    if err:
        return _error_feedback(name, err)
    if not isinstance(out, tuple) or len(out) != 3 or not isinstance(out[2], dict):
        return Feedback(name, False, "return (dx_t, dh_prev, dparams) with dparams a dict W_x, W_h, b_x, b_h.",
                        "return_value")
    bad = _gru_structure_feedback(name, out, gru.gru_step_backward(dh, cache))
    if bad is not None:
        return bad

    def fwd(x, h, W_x, W_h, b_x, b_h):
        return gru.gru_step_forward(x, h, {"W_x": W_x, "W_h": W_h, "b_x": b_x, "b_h": b_h})[0]

    def bwd(g_h):
        r, e = _call(fn, g_h, gru.gru_step_forward(x, h, p)[1])
        return {} if e else {"x": r[0], "h": r[1], **r[2]}

    report = check_function(fwd, bwd, dict(x=x, h=h, **p), tol=1e-7, seed=seed, title=name)
    if report.passed:
        return Feedback(name, True, f"gradient check passed (max rel error {report.max_error:.1e}).",
                        details=str(report))
    variants = {k: (_gru_flat(_gru_backward_variant(dh, cache, k)), hint) for k, hint in GRU_BACKWARD_HINTS.items()}
    fb = _diagnose(name, _gru_flat(out), variants, f"gradient check failed for {', '.join(report.failures)}.")
    fb.details = str(report)
    return fb
