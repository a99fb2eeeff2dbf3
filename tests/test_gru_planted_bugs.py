"""The gradient checker must fail on wrong GRU gradients: plant typical bugs in copies of the GRU backward
(and of the bidirectional wrapper), run the copy's forward and backward, compare with finite differences
of the true forward."""
import inspect

import numpy as np
import pytest

from minilstm.core import bidirectional, gru
from minilstm.gradcheck import check_function


def absolute_imports(module):
    """A core module's source with its relative imports made absolute, to run as a copy."""
    return inspect.getsource(module).replace("from ..", "from minilstm.").replace("from .", "from minilstm.core.")


GRU_SOURCE = absolute_imports(gru)
BI_SOURCE = absolute_imports(bidirectional)

GRU_BUGS = {
    "reset gate applied outside the bias (dr from h W_hn alone)": (
        "gates[t], hn[t], hs[t])", "gates[t], hs[t] @ W_h[:, 2 * hs.shape[-1]:], hs[t])"),
    "missing (1 - z) path to the candidate": ("dn = dh * (1.0 - z_t)", "dn = dh"),
    "dropped z * dh carry to h_{t-1}": ("dh_next = dh_z + da_h[t] @ W_h.T", "dh_next = da_h[t] @ W_h.T"),
    "b_hn gradient without r": ('"b_h": dah2.sum(axis=0)', '"b_h": dax2.sum(axis=0)'),
    "swapped r and z": ("r_t, z_t, n_t = gates[:, R], gates[:, Z], gates[:, N]",
                        "z_t, r_t, n_t = gates[:, R], gates[:, Z], gates[:, N]"),
    "missing tanh' of the candidate": ("da_n = dn * (1.0 - n_t * n_t)", "da_n = dn"),
    "update gate derivative with the wrong sign": ("dz = dh * (h_prev - n_t)", "dz = dh * (n_t - h_prev)"),
    "W_hn gradient without r": ("da_h[:, N] = da_n * r_t", "da_h[:, N] = da_n"),
    "= instead of += for the carried dh": ("else dh_tm[t] + dh_next", "else dh_tm[t]"),
    "h_t used for h_{t-1} (off-by-one state)": ("gates[t], hn[t], hs[t])", "gates[t], hn[t], hs[t + 1])"),
}
BIDIRECTIONAL_BUGS = {
    "reversed direction's dx not flipped back": ("res_f[0] + res_r[0][:, ::-1]", "res_f[0] + res_r[0]"),
    "reversed direction's dout not reversed": ("d_r = reverse_time(dout[..., H:])", "d_r = dout[..., H:].copy()"),
    "directions' dout halves swapped": ("d_f = xp.ascontiguousarray(dout[..., :H])",
                                        "d_f = xp.ascontiguousarray(dout[..., H:])"),
}


def load_variant(source, old=None, new=None, name="variant.py"):
    if old is not None:
        assert source.count(old) == 1, f"planted-bug anchor not found exactly once: {old!r}"
        source = source.replace(old, new)
    ns = {}
    exec(compile(source, name, "exec"), ns)
    return ns


def gru_inputs(rng, B, T, D, H):
    return dict(x=rng.standard_normal((B, T, D)), h0=rng.standard_normal((B, H)) * 0.5,
                W_x=rng.standard_normal((D, 3 * H)) * 0.5, W_h=rng.standard_normal((H, 3 * H)) * 0.5,
                b_x=rng.standard_normal(3 * H) * 0.5, b_h=rng.standard_normal(3 * H) * 0.5)


def check_gru_sequence(ns, seed=0, B=2, T=4, D=3, H=3):
    rng = np.random.default_rng(seed)
    inputs = gru_inputs(rng, B, T, D, H)

    def fwd(x, h0, **p):
        h_seq, h_T, _ = gru.gru_forward(x, h0, p)            # the true forward
        return h_seq, h_T

    def bwd(G, G_T):
        p = {k: inputs[k] for k in gru.GRU_PARAMS}
        _, _, cache = ns["gru_forward"](inputs["x"], inputs["h0"], p)
        dx, dh0, dp = ns["gru_backward"](G, G_T, cache)
        return {"x": dx, "h0": dh0, **dp}

    return check_function(fwd, bwd, inputs, tol=1e-6, seed=seed)


def check_bidirectional_gru(ns, seed=0, B=2, T=4, D=2, H=2):
    rng = np.random.default_rng(seed)
    f, r = gru_inputs(rng, B, T, D, H), gru_inputs(rng, B, T, D, H)
    inputs = {"x": f["x"], "h0_f": f["h0"], "h0_r": r["h0"], **{f"{k}_f": f[k] for k in gru.GRU_PARAMS},
              **{f"{k}_r": r[k] for k in gru.GRU_PARAMS}}

    def split(kw):
        return tuple({k: kw[f"{k}_{d}"] for k in gru.GRU_PARAMS} for d in "fr")

    def fwd(x, h0_f, h0_r, **kw):
        out, states, _ = bidirectional.bidirectional_forward(gru.gru_forward, x, ((h0_f,), (h0_r,)), split(kw))
        return out, states[0][0], states[1][0]

    def bwd(G, G_f, G_r):
        _, _, caches = ns["bidirectional_forward"](gru.gru_forward, inputs["x"], ((inputs["h0_f"],), (inputs["h0_r"],)),
                                                   split(inputs))
        dx, (ds_f, ds_r), (dp_f, dp_r) = ns["bidirectional_backward"](gru.gru_backward, G, ((G_f,), (G_r,)), caches)
        return {"x": dx, "h0_f": ds_f[0], "h0_r": ds_r[0], **{f"{k}_f": v for k, v in dp_f.items()},
                **{f"{k}_r": v for k, v in dp_r.items()}}

    return check_function(fwd, bwd, inputs, tol=1e-6, seed=seed)


def test_unmodified_copies_pass():
    report = check_gru_sequence(load_variant(GRU_SOURCE))
    assert report.passed, str(report)
    report = check_bidirectional_gru(load_variant(BI_SOURCE))
    assert report.passed, str(report)


@pytest.mark.parametrize("bug", list(GRU_BUGS))
def test_planted_gru_bug_is_reported(bug):
    report = check_gru_sequence(load_variant(GRU_SOURCE, *GRU_BUGS[bug]))
    assert not report.passed, f"checker missed: {bug}\n{report}"
    assert "FAIL" in str(report)


@pytest.mark.parametrize("bug", list(BIDIRECTIONAL_BUGS))
def test_planted_bidirectional_bug_is_reported(bug):
    report = check_bidirectional_gru(load_variant(BI_SOURCE, *BIDIRECTIONAL_BUGS[bug]))
    assert not report.passed, f"checker missed: {bug}\n{report}"
    assert "x" in report.failures                           # dx is where a direction mix-up shows


@pytest.mark.parametrize("bug", ["missing (1 - z) path to the candidate", "swapped r and z",
                                 "missing tanh' of the candidate", "W_hn gradient without r"])
def test_step_backward_bugs_are_reported(bug):
    ns = load_variant(GRU_SOURCE, *GRU_BUGS[bug])
    rng = np.random.default_rng(1)
    inputs = gru_inputs(rng, 2, 1, 3, 4)
    inputs["x"], inputs["h"] = inputs["x"][:, 0], inputs.pop("h0")

    def fwd(x, h, **p):
        return gru.gru_step_forward(x, h, p)[0]

    def bwd(dh):
        _, cache = ns["gru_step_forward"](inputs["x"], inputs["h"], {k: inputs[k] for k in gru.GRU_PARAMS})
        dx, dh_prev, dp = ns["gru_step_backward"](dh, cache)
        return {"x": dx, "h": dh_prev, **dp}

    assert check_function(fwd, bwd, inputs, tol=1e-7).passed is False
