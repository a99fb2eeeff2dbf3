"""Exercise 6, the pinball (quantile) loss's backward: the checker and the mistakes it names (see
``minilstm.exercises``)."""
import numpy as np

from ..gradcheck import check_function
from .checkers import Feedback, _call, _close, _error_feedback

# ---- exercise 6: the pinball (quantile) loss and its gradient --------------------------------

def _pinball_variant(pred, target, q, kind):
    """The (loss, dpred) a typical mistake gives; pred (N, D, Q), target (N, D), q (Q,)."""
    u = target[..., None] - pred                                   # positive when the prediction is too low
    n = pred.size
    qq = 1.0 - q if kind in ("q_swapped", "loss_q_swapped") else q
    loss = np.where(u < 0, (qq - 1.0) * u, qq * u).sum()
    above = (pred > target[..., None]).astype(np.float64)
    grad = {"indicator_sign": (pred < target[..., None]) - q, "gradient_sign": q - above,
            "q_swapped": above - (1.0 - q), "no_indicator": -q + 0.0 * above}.get(kind, above - q)
    count = {"no_mean": 1.0, "divided_by_rows": pred.shape[0], "divided_without_levels": target.size}.get(kind, n)
    return loss / (1.0 if kind == "loss_no_mean" else n), grad / count


PINBALL_HINTS = {
    "indicator_sign": "the indicator is reversed: d rho_q / d pred = 1[pred > target] - q (the loss grows with "
                      "pred when the prediction is already above the truth), not 1[pred < target] - q.",
    "gradient_sign": "the gradient has the wrong sign: that is the derivative with respect to u = target - pred "
                     "(or to the target); with respect to pred it is 1[pred > target] - q.",
    "q_swapped": "q and 1 - q are swapped: below the truth (pred < target) the slope is -q, above it 1 - q, so "
                 "dpred = 1[pred > target] - q.",
    "no_indicator": "dpred is -q everywhere: the predictions above the truth must get 1 - q "
                    "(dpred = 1[pred > target] - q).",
    "no_mean": "dpred is not divided by the count: the loss is a mean over all pred.size = N * D * Q values, so "
               "each entry of dpred carries a 1 / pred.size.",
    "divided_by_rows": "dpred is divided by the number of rows N only: the loss is the mean over every value of "
                       "pred, N * D * Q of them, so divide by pred.size.",
    "divided_without_levels": "dpred is divided by target.size (N * D) and leaves out the Q levels: the loss is the "
                              "mean over pred.size = N * D * Q values.",
    "loss_q_swapped": "the loss weights q and 1 - q the wrong way round: rho_q(u) = q * u for u = target - pred >= 0 "
                      "(the prediction too low), (q - 1) * u below 0.",
    "loss_no_mean": "the loss is a sum; it must be the mean over pred.size values (the gradient's 1 / n comes "
                    "from it).",
}


def check_pinball_backward(fn, seed=0):
    """Check ``pinball_loss(pred, target, quantiles) -> (loss, dpred)`` (``minilstm.exercises.stubs``):
    the loss against the definition, then dpred by a gradient check (finite differences, float64), then the
    mistakes of ``PINBALL_HINTS`` matched by name. pred (N, D, Q), target (N, D), quantiles (Q,)."""
    from ..functional import pinball_loss
    name = "pinball_loss"
    rng = np.random.default_rng(seed)
    q = np.array([0.1, 0.3, 0.75, 0.9])                             # no 0.5: then q and 1 - q would agree
    target = rng.standard_normal((5, 3))
    pred = target[..., None] + rng.choice([-1.0, 1.0], (5, 3, 4)) * rng.uniform(0.05, 1.0, (5, 3, 4))
    out, err = _call(fn, pred.copy(), target.copy(), q.copy())
    if err:
        return _error_feedback(name, err)
    if not isinstance(out, tuple) or len(out) != 2:
        return Feedback(name, False, "return a tuple (loss, dpred): the mean loss (a number) and its gradient with "
                        "respect to pred (pred's shape).", "return_value")
    loss, dpred = out
    ref_loss, ref_grad = pinball_loss(pred, target, q)
    if np.shape(dpred) != pred.shape:
        return Feedback(name, False, f"dpred must have pred's shape (N, D, Q) = {pred.shape}, got {np.shape(dpred)}; "
                        "broadcast target over the last axis with target[..., None].", "shape")
    try:
        loss = float(loss)
    except (TypeError, ValueError):
        return Feedback(name, False, f"the loss must be a number (the mean over pred.size values), got "
                        f"{type(loss).__name__}.", "return_value")
    loss_ok = np.isclose(loss, ref_loss, rtol=1e-9, atol=0.0)
    grad_ok = _close(dpred, ref_grad, 1e-9)
    if loss_ok and grad_ok:
        def fwd(pred):
            return np.array(pinball_loss(pred, target, q)[0])

        def bwd(g):
            return {"pred": float(g) * np.asarray(fn(pred.copy(), target.copy(), q.copy())[1], dtype=np.float64)}
        report = check_function(fwd, bwd, {"pred": pred}, h=1e-6, tol=1e-7, seed=seed, title=name, order=2)
        return Feedback(name, report.passed, f"loss and dpred match the definition; gradient check max rel error "
                        f"{report.max_error:.1e}.", None if report.passed else "unknown", details=str(report))
    for kind, hint in PINBALL_HINTS.items():
        v_loss, v_grad = _pinball_variant(pred, target, q, kind)
        same_loss = np.isclose(loss, v_loss, rtol=1e-9, atol=0.0)
        if kind.startswith("loss_"):                               # the loss's own mistakes, whatever dpred is
            hit = same_loss
        else:                                                      # dpred's, with the loss right or wrong alike
            hit = _close(dpred, v_grad, 1e-9) and (loss_ok or same_loss)
        if hit:
            return Feedback(name, False, hint, kind)
    if not loss_ok:
        return Feedback(name, False, f"the loss is {loss:.6g}, the mean pinball loss is {ref_loss:.6g}: rho_q(u) = "
                        "max(q * u, (q - 1) * u) with u = target - pred, averaged over pred.size values.", "unknown")
    return Feedback(name, False, "the loss is right but dpred is not: d rho_q / d pred = 1[pred > target] - q, "
                    "divided by pred.size.", "unknown")
