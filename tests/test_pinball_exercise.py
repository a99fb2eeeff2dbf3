"""The pinball-loss exercise: the reference passes, the stub fails politely, and each planted mistake is named."""
import numpy as np
import pytest

from minilstm.exercises import check_pinball_backward, stubs
from minilstm.functional import pinball_loss


def planted(kind):
    """A learner's pinball_loss with one typical mistake. pred (N, D, Q), target (N, D), q (Q,)."""
    def fn(pred, target, q):
        q = np.asarray(q)
        u = target[..., None] - pred
        n = pred.size
        w = 1.0 - q if kind in ("q_swapped", "loss_q_swapped") else q
        loss = np.where(u < 0, (w - 1.0) * u, w * u).sum()
        loss = loss if kind == "loss_no_mean" else loss / n
        if kind == "loss_q_swapped":
            w = q                                     # the gradient right, only the loss's weights swapped
        if kind == "indicator_sign":
            g = (pred < target[..., None]).astype(float) - q
        elif kind == "gradient_sign":
            g = q - (pred > target[..., None])
        elif kind == "no_indicator":
            g = -q * np.ones_like(pred)
        else:
            g = (pred > target[..., None]).astype(float) - w
        count = {"no_mean": 1, "divided_by_rows": pred.shape[0], "divided_without_levels": target.size}.get(kind, n)
        return loss, g / count
    return fn


def test_reference_passes_and_stub_fails_politely():
    fb = check_pinball_backward(pinball_loss)
    assert fb.passed and fb.mistake is None, str(fb)
    assert "gradient check" in fb.message
    fb = check_pinball_backward(stubs.pinball_loss)
    assert not fb.passed and "not implemented" in fb.message


@pytest.mark.parametrize("kind,words", [
    ("indicator_sign", "indicator is reversed"),
    ("gradient_sign", "wrong sign"),
    ("q_swapped", "q and 1 - q are swapped"),
    ("no_indicator", "-q everywhere"),
    ("no_mean", "not divided by the count"),
    ("divided_by_rows", "number of rows N only"),
    ("divided_without_levels", "leaves out the Q levels"),
    ("loss_q_swapped", "wrong way round"),
    ("loss_no_mean", "the loss is a sum"),
])
def test_each_planted_mistake_is_named(kind, words):
    fb = check_pinball_backward(planted(kind))
    assert not fb.passed and fb.mistake == kind, str(fb)
    assert words in fb.message


def test_a_correct_answer_written_differently_passes_and_other_failures_are_explained():
    def max_form(pred, target, q):
        u = target[..., None] - pred
        loss = np.maximum(q * u, (q - 1) * u).mean()
        return loss, np.where(u < 0, 1 - q, -q) / pred.size
    assert check_pinball_backward(max_form).passed

    def wrong_shape(pred, target, q):
        loss, g = pinball_loss(pred, target, q)
        return loss, g.sum(axis=-1)
    fb = check_pinball_backward(wrong_shape)
    assert fb.mistake == "shape" and "(N, D, Q)" in fb.message

    def crashes(pred, target, q):
        return pred @ target
    fb = check_pinball_backward(crashes)
    assert fb.mistake == "error" and "traceback" in fb.message

    assert check_pinball_backward(lambda p, t, q: 1.0).mistake == "return_value"

    def unknown(pred, target, q):
        loss, g = pinball_loss(pred, target, q)
        return loss, g * 1.5
    fb = check_pinball_backward(unknown)
    assert fb.mistake == "unknown" and "1[pred > target] - q" in fb.message


def test_a_gradient_with_q_swapped_is_named_whether_the_loss_is_right_or_not():
    def grad_only(pred, target, q):
        loss, _ = pinball_loss(pred, target, q)
        return loss, ((pred > target[..., None]) - (1.0 - np.asarray(q))) / pred.size
    fb = check_pinball_backward(grad_only)
    assert fb.mistake == "q_swapped"
