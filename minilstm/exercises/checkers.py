"""The checkers behind ``minilstm.exercises``. Each mistake is written out as the code a learner
would write, so that the answer can be matched against it and the hint can be specific."""
import traceback

import numpy as np

from ..core import lstm as core
from ..core.common import sigmoid
from ..core.lstm import gate_slices
from ..gradcheck import check_function, rel_error


class Feedback:
    """A checker's answer: ``passed``, ``mistake`` (an id such as ``"dc_prev_missing_forget_gate"``, or
    None), ``message`` and ``details`` (the gradient-check table, or the learner's traceback).
    ``bool(feedback)`` is ``passed``; ``print(feedback)`` shows the message and the details."""

    def __init__(self, name, passed, message, mistake=None, details=""):
        self.name, self.passed, self.message, self.mistake, self.details = name, passed, message, mistake, details

    def __bool__(self):
        return self.passed

    def __str__(self):
        mark = "PASS" if self.passed else "FAIL"
        return f"[{mark}] {self.name}: {self.message}" + (f"\n{self.details}" if self.details else "")

    __repr__ = __str__


def _close(a, b, tol=1e-7):
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return a.shape == np.shape(b) and rel_error(a, b) < tol


def _random_step(seed=0, B=3, D=4, H=5):
    rng = np.random.default_rng(seed)
    params = {"W_x": rng.standard_normal((D, 4 * H)) * 0.5, "W_h": rng.standard_normal((H, 4 * H)) * 0.5,
              "b": rng.standard_normal(4 * H) * 0.5}
    return rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H)), params, rng


def _call(fn, *args):
    """Run the learner's function -> (result, None), or (None, Feedback text) when it raises.

    A crash is reported with the learner's full traceback (the checker's own frame left out), so
    that the line of their code that failed is in front of them; the notebook itself does not crash.
    """
    try:
        return fn(*args), None
    except NotImplementedError as e:
        return None, (f"not implemented yet ({e}).", "")
    except Exception as e:  # the learner's bug: report it with its traceback, do not crash the notebook
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__.tb_next))
        return None, (f"raised {type(e).__name__}: {e} (the full traceback is below).", tb.rstrip())


def _error_feedback(name, err):
    message, details = err
    return Feedback(name, False, message, "error", details)


def _diagnose(name, answer_parts, variants, generic):
    """Match the answer against each mistake's output; the first match gives the hint (a part given as None
    matches anything: a mistake whose other outputs betray it whatever the learner returns there)."""
    for mistake, (expected_parts, hint) in variants.items():
        if all(e is None or _close(a, e, 1e-6) for a, e in zip(answer_parts, expected_parts)):
            return Feedback(name, False, hint, mistake)
    return Feedback(name, False, generic, "unknown")


# ---- exercise 1: lstm_step_forward ---------------------------------------------------------

def _forward_variant(x, h, c, p, kind):
    H = h.shape[1]
    F, I, G, O = gate_slices(H)
    a = x @ p["W_x"] + h @ p["W_h"] + (0 if kind == "missing_bias" else p["b"])
    f, i, g, o = sigmoid(a[:, F]), sigmoid(a[:, I]), np.tanh(a[:, G]), sigmoid(a[:, O])
    if kind == "swapped_i_f":
        f, i = i, f
    if kind == "candidate_sigmoid":
        g = sigmoid(a[:, G])
    if kind == "output_gate_tanh":
        o = np.tanh(a[:, O])
    if kind == "forget_gate_tanh":
        f = np.tanh(a[:, F])
    if kind == "input_gate_tanh":
        i = np.tanh(a[:, I])
    C = (c if kind == "no_forget_gate" else f * c) + i * g
    if kind == "h_missing_tanh":
        return o * C, C
    if kind == "h_uses_prev_cell":
        return o * np.tanh(c), C
    return o * np.tanh(C), C


FORWARD_HINTS = {
    "swapped_i_f": "the forget and input gates are swapped: the 4H axis is ordered f, i, c~, o, so f_t uses "
                   "a[:, :H] and i_t uses a[:, H:2H] (PyTorch's order is i, f, g, o; minilstm's is f, i, c~, o).",
    "candidate_sigmoid": "the candidate c~_t uses sigmoid; it must be tanh (it is a value in (-1, 1), not a gate).",
    "no_forget_gate": "C_t ignores the forget gate: it must be f_t * C_{t-1} + i_t * c~_t.",
    "h_missing_tanh": "h_t = o_t * C_t is missing the tanh: h_t = o_t * tanh(C_t).",
    "h_uses_prev_cell": "h_t uses C_{t-1}; it must use the NEW cell state: h_t = o_t * tanh(C_t).",
    "missing_bias": "the bias b is missing from the pre-activations: a = x_t @ W_x + h_prev @ W_h + b.",
    "output_gate_tanh": "o_t uses tanh instead of sigmoid: the output gate is a valve in (0, 1), "
                        "o_t = sigmoid(a[:, 3H:]) (C_t is right, so the rest of your step is).",
    "forget_gate_tanh": "f_t uses tanh instead of sigmoid: the forget gate is a valve in (0, 1), "
                        "f_t = sigmoid(a[:, :H]).",
    "input_gate_tanh": "i_t uses tanh instead of sigmoid: the input gate is a valve in (0, 1), "
                       "i_t = sigmoid(a[:, H:2H]); only the candidate c~_t is a tanh.",
}


def _forward_generic(h_ok, c_ok):
    """The hint when no known mistake matches: say which of h_t and C_t is already right."""
    if c_ok:
        return ("C_t matches the reference but h_t differs: check the output gate o_t = sigmoid(a[:, 3H:]) "
                "and h_t = o_t * tanh(C_t).")
    if h_ok:
        return "h_t matches the reference but the returned c_t differs: return the new cell state C_t."
    return ("h_t and C_t both differ from the reference: check the pre-activations a = x_t @ W_x + h_prev @ W_h + b "
            "and the gate blocks f, i, c~, o = a[:, :H], a[:, H:2H], a[:, 2H:3H], a[:, 3H:] first.")


def check_step_forward(fn, seed=0):
    """Check a learner's ``lstm_step_forward(x_t, h_prev, c_prev, params) -> (h_t, c_t, cache)``."""
    name = "lstm_step_forward"
    x, h, c, p, _ = _random_step(seed)
    out, err = _call(fn, x.copy(), h.copy(), c.copy(), {k: v.copy() for k, v in p.items()})
    if err:
        return _error_feedback(name, err)
    if not isinstance(out, tuple) or len(out) != 3:
        return Feedback(name, False, "return a tuple (h_t, c_t, cache).", "return_value")
    h_t, c_t, cache = out
    ref_h, ref_c, ref_cache = core.lstm_step_forward(x, h, c, p)
    if np.shape(h_t) != ref_h.shape or np.shape(c_t) != ref_c.shape:
        return Feedback(name, False, f"h_t and c_t must have shape (B, H) = {ref_h.shape}; got {np.shape(h_t)} and "
                        f"{np.shape(c_t)}. Check which axis you index and whether you transposed a weight.", "shape")
    if _close(h_t, ref_h, 1e-10) and _close(c_t, ref_c, 1e-10):
        if not (isinstance(cache, tuple) and len(cache) == 6 and _close(cache[3], ref_cache[3], 1e-10)):
            return Feedback(name, False, "h_t and c_t are right, but the cache must be (x_t, h_prev, c_prev, gates, "
                            "tanh_c, params) with the ACTIVATED gates [f, i, c~, o] (B, 4H).", "cache")
        return Feedback(name, True, "h_t and C_t match the reference to 1e-10.")
    variants = {k: (_forward_variant(x, h, c, p, k), hint) for k, hint in FORWARD_HINTS.items()}
    generic = _forward_generic(_close(h_t, ref_h, 1e-10), _close(c_t, ref_c, 1e-10))
    return _diagnose(name, (h_t, c_t), variants, generic)


# ---- exercise 2: lstm_step_backward -------------------------------------------------------

def _backward_variant(dh, dc, cache, kind):
    x, h_prev, c_prev, gates, tanh_c, p = cache
    H = dh.shape[1]
    F, I, G, O = gate_slices(H)
    f, i, g, o = gates[:, F], gates[:, I], gates[:, G], gates[:, O]
    if kind == "swapped_i_f":
        f, i = i, f
    dC = (0 if kind == "dropped_dc_t" else dc) + dh * o * (1 if kind == "missing_tanh_prime" else 1 - tanh_c ** 2)
    do = dh * (np.tanh(c_prev) if kind == "o_uses_prev_cell" else tanh_c)
    da = np.empty_like(gates)
    sig = (lambda s: 1 - s ** 2) if kind == "sigmoid_prime_as_tanh" else (lambda s: s * (1 - s))
    da[:, F] = dC * c_prev * sig(f)
    da[:, I] = dC * g * sig(i)
    da[:, G] = dC * i * (1 - g ** 2)
    da[:, O] = do * sig(o)
    dc_prev = dC if kind == "dc_prev_missing_forget_gate" else dC * f
    dW_h = (da.T @ h_prev).T.reshape(H, 4 * H) if kind != "transposed_dW_h" else \
        (da.T @ h_prev).reshape(H, 4 * H)
    return (da @ p["W_x"].T, da @ p["W_h"].T, dc_prev,
            {"W_x": x.T @ da, "W_h": dW_h, "b": da.sum(0) if kind != "db_wrong_axis" else da.sum(1)})


BACKWARD_HINTS = {
    "dc_prev_missing_forget_gate": "your dc_prev is missing the forget gate factor: dC_{t-1} = dC_t * f_t.",
    "dropped_dc_t": "the incoming dc_t is dropped: dC_t = dc_t + dh_t * o_t * (1 - tanh(C_t)^2) (the cell state "
                    "also reaches later steps directly).",
    "missing_tanh_prime": "the path through h_t is missing tanh's derivative: dC_t gets "
                          "dh_t * o_t * (1 - tanh(C_t)^2).",
    "swapped_i_f": "the derivatives of the input and forget gates are swapped: gates are ordered f, i, c~, o.",
    "sigmoid_prime_as_tanh": "a gate uses tanh's derivative 1 - s^2; sigmoid's is s * (1 - s).",
    "o_uses_prev_cell": "do_t uses tanh(C_{t-1}); it must be dh_t * tanh(C_t) (the cached tanh_c).",
    "transposed_dW_h": "dW_h has the right shape but its entries are transposed/reshaped: dW_h = h_prev.T @ da.",
    "db_wrong_axis": "db is summed over the wrong axis: sum da over the batch axis 0, giving shape (4H,).",
}


def check_step_backward(fn, seed=0):
    """Check ``lstm_step_backward(dh_t, dc_t, cache) -> (dx_t, dh_prev, dc_prev, dparams)`` by a gradient
    check against finite differences of the reference forward, then diagnose."""
    name = "lstm_step_backward"
    x, h, c, p, rng = _random_step(seed)
    _, _, cache = core.lstm_step_forward(x, h, c, p)
    dh, dc = rng.standard_normal(h.shape), rng.standard_normal(c.shape)
    out, err = _call(fn, dh.copy(), dc.copy(), cache)
    if err:
        return _error_feedback(name, err)
    if not isinstance(out, tuple) or len(out) != 4 or not isinstance(out[3], dict):
        return Feedback(name, False, "return (dx_t, dh_prev, dc_prev, dparams) with dparams a dict W_x, W_h, b.",
                        "return_value")
    bad = _structure_feedback(name, out, core.lstm_step_backward(dh, dc, cache), ("dx_t", "dh_prev", "dc_prev"))
    if bad is not None:
        return bad

    def fwd(x, h, c, W_x, W_h, b):
        return core.lstm_step_forward(x, h, c, {"W_x": W_x, "W_h": W_h, "b": b})[:2]

    def bwd(g_h, g_c):
        _, _, ca = core.lstm_step_forward(x, h, c, p)
        r, e = _call(fn, g_h, g_c, ca)
        if e:
            return {}
        return {"x": r[0], "h": r[1], "c": r[2], **r[3]}

    report = check_function(fwd, bwd, dict(x=x, h=h, c=c, **p), tol=1e-7, seed=seed, title=name)
    if report.passed:
        return Feedback(name, True, f"gradient check passed (max rel error {report.max_error:.1e}).",
                        details=str(report))
    variants = {k: (_flat(_backward_variant(dh, dc, cache, k)), hint) for k, hint in BACKWARD_HINTS.items()}
    fb = _diagnose(name, _flat(out), variants, f"gradient check failed for {', '.join(report.failures)}.")
    fb.details = str(report)
    return fb


PARAM_KEYS = ("W_x", "W_h", "b")


def _key_hint(got):
    """dparams has other keys than params: name the expected ones (and the usual 'dW_x' spelling)."""
    got = sorted(map(str, got))
    hint = (f"dparams must have exactly the keys {list(PARAM_KEYS)}, the names of the entries of params, "
            f"got {got}")
    if sorted(k[1:] for k in got if k.startswith("d")) == sorted(PARAM_KEYS):
        hint += ": drop the 'd' prefix (the dict already holds gradients, keyed like the parameters)"
    return hint + "."


def _shape_hint(label, got, want):
    """(hint, mistake id) for a gradient whose shape differs from its variable's."""
    if label == "db" and got == (1,) + want:
        return (f"db has shape {got} instead of {want}: sum(axis=0, keepdims=True) keeps the summed batch axis; "
                f"use da.sum(axis=0), so that db has the shape (4H,) of b.", "db_keepdims")
    if label == "db" and len(got) == 1:
        return BACKWARD_HINTS["db_wrong_axis"], "db_wrong_axis"
    if len(got) == len(want) + 1 and got[0] == 1 and got[1:] == want:
        return (f"{label} has shape {got} instead of {want}: an extra axis of length 1 (keepdims=True or "
                f"a [None] index); a gradient has the shape of its variable.", "extra_axis")
    if label == "dx" and len(got) == 3 and got == (want[1], want[0], want[2]):
        return (f"dx has shape {got}, time-first like the cache; return it batch-first {want} (B, T, D) like x: "
                f"fill dx[:, t] at step t.", "dx_time_first")
    if len(want) == 2 and got == want[::-1] and want[0] != want[1]:
        return (f"{label} has shape {got}, the transpose of {want}: a gradient has the shape of its variable "
                f"(e.g. dW_x = x_t.T @ da is (D, 4H)).", "transposed")
    return f"{label} must have shape {want}, got {got} (a gradient has the shape of its variable).", "shape"


def _structure_feedback(name, out, ref, labels):
    """Keys of dparams, then the shape of every returned gradient, against the reference's; None if all fine."""
    *arrays, dp = out
    if set(dp) != set(PARAM_KEYS):
        return Feedback(name, False, _key_hint(dp), "param_keys")
    for label, a, r in (*zip(labels, arrays, ref[:3]), *((f"d{k}", dp[k], ref[3][k]) for k in PARAM_KEYS)):
        if np.shape(a) != r.shape:
            return Feedback(name, False, *_shape_hint(label, np.shape(a), r.shape))
    return None


def _flat(out):
    dx, dh, dc, dp = out
    return (dx, dh, dc, dp.get("W_x"), dp.get("W_h"), dp.get("b"))


# ---- exercise 3: the BPTT loop --------------------------------------------------------------

def _bptt_variant(dh_seq, dh_T, dc_T, cache, kind):
    x_tm, hs, cs, gates, tanh_c, p = (cache[k] for k in ("x_tm", "hs", "cs", "gates", "tanh_c", "params"))
    T, B, D = x_tm.shape
    dh_next, dc_next = dh_T.copy(), dc_T.copy()
    dx = np.zeros((B, T, D))
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    order = range(T) if kind == "forward_time_order" else reversed(range(T))
    for t in order:
        dh = dh_seq[:, t] + (0 if kind == "dropped_carried_dh" else dh_next)
        h_prev = hs[t + 1] if kind == "off_by_one_h_prev" else hs[t]
        step_cache = (x_tm[t], h_prev, cs[t], gates[t], tanh_c[t], p)
        dc_in = {"dropped_carried_dc": 0 * dc_T, "dc_never_carried": dc_T,
                 "dc_only_at_last_step": dc_T if t == T - 1 else 0 * dc_T}.get(kind, dc_next)
        dx[:, t], dh_next, dc_prev, g = core.lstm_step_backward(dh, dc_in, step_cache)
        dc_next = dc_prev
        for k in grads:
            if kind == "assign_not_accumulate":
                grads[k] = g[k]
            else:
                grads[k] += g[k]
    return dx, dh_next, dc_next, grads


BPTT_HINTS = {
    "dropped_carried_dh": "the carried dh is dropped: at step t, dh = dh_seq[:, t] + (dh_prev returned by step t+1).",
    "dropped_carried_dc": "the carried dc is dropped: pass the dc_prev of step t+1 as dc into step t.",
    "dc_never_carried": "the carried dc is dropped: every step gets dc_T, but step t must get the dc_prev that step "
                        "t+1 returned (dc_next = dc_prev after each step; dc_T only enters the last step).",
    "dc_only_at_last_step": "the carried dc is dropped after the last step: dc_T enters step T-1, but each earlier "
                            "step t must get the dc_prev that step t+1 returned (the cell state C_t feeds C_{t+1}, "
                            "so its gradient flows back through time like dh's).",
    "assign_not_accumulate": "weight gradients are assigned (=) instead of accumulated (+=) over time steps: "
                             "only one step's contribution survives.",
    "off_by_one_h_prev": "off by one: the step at time t uses h_{t-1} = hs[t] (hs[0] = h0), not hs[t+1].",
    "forward_time_order": "the loop runs forward in time; BPTT must go from t = T-1 down to 0 so that the "
                          "carried gradients come from the future.",
}


def check_bptt(fn, seed=0):
    """Check ``lstm_backward(dh_seq, dh_T, dc_T, cache) -> (dx, dh0, dc0, dparams)`` (the reference cache)."""
    name = "lstm_backward (BPTT)"
    rng = np.random.default_rng(seed)
    B, T, D, H = 2, 5, 3, 4
    p = {"W_x": rng.standard_normal((D, 4 * H)) * 0.5, "W_h": rng.standard_normal((H, 4 * H)) * 0.5,
         "b": rng.standard_normal(4 * H) * 0.5}
    x, h0, c0 = rng.standard_normal((B, T, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    _, _, cache = core.lstm_forward(x, h0, c0, p)
    dh_seq, dh_T, dc_T = rng.standard_normal((B, T, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    out, err = _call(fn, dh_seq.copy(), dh_T.copy(), dc_T.copy(), cache)
    if err:
        return _error_feedback(name, err)
    if not isinstance(out, tuple) or len(out) != 4 or not isinstance(out[3], dict):
        return Feedback(name, False, "return (dx, dh0, dc0, dparams).", "return_value")
    ref = core.lstm_backward(dh_seq.copy(), dh_T.copy(), dc_T.copy(), cache)
    bad = _structure_feedback(name, out, ref, ("dx", "dh0", "dc0"))
    if bad is not None:
        return bad

    def fwd(x, h0, c0, W_x, W_h, b):
        h_seq, (hT, cT), _ = core.lstm_forward(x, h0, c0, {"W_x": W_x, "W_h": W_h, "b": b})
        return h_seq, hT, cT

    def bwd(G, GhT, GcT):
        r, e = _call(fn, G, GhT, GcT, core.lstm_forward(x, h0, c0, p)[2])
        return {} if e else {"x": r[0], "h0": r[1], "c0": r[2], **r[3]}

    report = check_function(fwd, bwd, dict(x=x, h0=h0, c0=c0, **p), tol=1e-6, seed=seed, title=name)
    if report.passed:
        return Feedback(name, True, f"gradient check passed (max rel error {report.max_error:.1e}).",
                        details=str(report))
    variants = {k: (_flat(_bptt_variant(dh_seq, dh_T, dc_T, cache, k)), hint) for k, hint in BPTT_HINTS.items()}
    for k in ("dropped_carried_dc", "dc_never_carried", "dc_only_at_last_step"):   # dc0 returned: any
        parts = variants[k][0]
        variants[k] = (parts[:2] + (None,) + parts[3:], variants[k][1])
    fb = _diagnose(name, _flat(out), variants, f"gradient check failed for {', '.join(report.failures)}.")
    fb.details = str(report)
    return fb


# ---- exercise 4: global-norm clipping --------------------------------------------------------

CLIP_HINTS = {
    "per_tensor": "each array is clipped by its own norm; global-norm clipping uses ONE norm over all arrays "
                  "together and scales them all by the same factor (this keeps the gradient's direction).",
    "always_scales": "gradients are rescaled even when their norm is below max_norm: clip only when norm > max_norm.",
    "sum_of_squares": "the norm is missing its square root: norm = sqrt(sum over arrays of sum(g**2)).",
    "sum_of_norms": "the norm adds the arrays' norms; it must be sqrt of the total sum of squares.",
    "mutates_input": "the input dict's arrays were modified in place; return new arrays (the caller may still "
                     "need the raw gradients, e.g. for logging or a gradient check).",
    "clipped_norm_returned": "return the norm BEFORE clipping (it is what you log to spot exploding gradients).",
}


def check_clip_grad_norm(fn, seed=0):
    """Check ``clip_grad_norm(grads, max_norm) -> (clipped, total_norm)`` against the definition."""
    name = "clip_grad_norm"
    rng = np.random.default_rng(seed)
    grads = {"W_x": rng.standard_normal((3, 8)) * 2, "W_h": rng.standard_normal((2, 8)), "b": rng.standard_normal(8)}
    total = float(np.sqrt(sum((g ** 2).sum() for g in grads.values())))
    cases = [(total / 3.0, True), (total * 2.0, False)]
    for max_norm, should_clip in cases:
        original = {k: v.copy() for k, v in grads.items()}
        out, err = _call(fn, grads, max_norm)
        if err:
            return _error_feedback(name, err)
        if not isinstance(out, tuple) or len(out) != 2 or not isinstance(out[0], dict):
            return Feedback(name, False, "return (clipped_dict, total_norm).", "return_value")
        clipped, norm = out
        if any(not np.array_equal(grads[k], original[k]) for k in grads):
            for k in grads:
                grads[k][...] = original[k]
            return Feedback(name, False, CLIP_HINTS["mutates_input"], "mutates_input")
        scale = max_norm / total if should_clip else 1.0
        if set(clipped) != set(grads):
            return Feedback(name, False, f"return the clipped arrays under the same keys as grads, {sorted(grads)}; "
                            f"got {sorted(map(str, clipped))}.", "keys")
        ok = set(clipped) == set(grads) and all(_close(clipped[k], grads[k] * scale, 1e-9) for k in grads)
        if ok and not np.isclose(float(norm), total, rtol=1e-9):
            key = "clipped_norm_returned" if np.isclose(float(norm), min(total, max_norm)) else "sum_of_squares"
            return Feedback(name, False, CLIP_HINTS[key] if key == "clipped_norm_returned" else
                            f"the returned norm {float(norm):.4g} is not sqrt(sum of squares) = {total:.4g}.", key)
        if not ok:
            sq = total ** 2
            son = sum(float(np.linalg.norm(g)) for g in grads.values())
            variants = {
                "per_tensor": {k: g * min(1.0, max_norm / np.linalg.norm(g)) for k, g in grads.items()},
                "always_scales": {k: g * (max_norm / total) for k, g in grads.items()},
                "sum_of_squares": {k: g * (max_norm / sq if sq > max_norm else 1.0) for k, g in grads.items()},
                "sum_of_norms": {k: g * (max_norm / son if son > max_norm else 1.0) for k, g in grads.items()},
            }
            for mistake, v in variants.items():
                if set(clipped) == set(v) and all(_close(clipped[k], v[k], 1e-9) for k in v):
                    return Feedback(name, False, CLIP_HINTS[mistake], mistake)
            return _clip_factor_feedback(name, clipped, grads, max_norm, total, scale)
    return Feedback(name, True, "clips by the global norm, leaves small gradients alone, returns the raw norm.")


def _common_factor(clipped, grads):
    """The one number s with clipped[k] == s * grads[k] for every k, or None if there is none."""
    try:
        num = sum(float((np.asarray(clipped[k], dtype=np.float64) * g).sum()) for k, g in grads.items())
    except (TypeError, ValueError):
        return None
    s = num / sum(float((g * g).sum()) for g in grads.values())
    return s if all(_close(clipped[k], g * s, 1e-12) for k, g in grads.items()) else None


def _clip_factor_feedback(name, clipped, grads, max_norm, total, scale):
    """Wrong clipped arrays that match no listed mistake: say which factor was used, if one was."""
    s = _common_factor(clipped, grads)
    if s is not None and scale < 1.0 and abs(s / scale - 1.0) < 1e-3:
        return Feedback(name, False, (
            f"you scaled every array by {s:.10g}, not by max_norm / norm = {scale:.10g}: a small epsilon in the "
            f"denominator, as in PyTorch's clip_grad_norm_ (max_norm / (norm + 1e-6)), makes the clipped norm "
            f"slightly less than max_norm. Clipping only happens when norm > max_norm > 0, so there is no division "
            f"by zero to guard against: use the exact factor max_norm / norm."), "epsilon_in_factor")
    used = (f"you multiplied every array by {s:.6g}" if s is not None
            else "your arrays are not one common multiple of grads")
    return Feedback(name, False, f"with max_norm={max_norm:.4g} and norm={total:.4g}, every array should be "
                    f"multiplied by {scale:.6g}; {used}.", "unknown")
