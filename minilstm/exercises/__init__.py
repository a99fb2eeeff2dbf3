"""Gradient-check exercises with checkers that name the mistake.

The learner writes ``lstm_step_forward``, ``lstm_step_backward``, ``lstm_backward``,
``clip_grad_norm``, the GRU's ``gru_step_backward`` and the quantile loss's ``pinball_loss`` (stubs in
``minilstm.exercises.stubs``). Each checker runs a gradient check or a comparison with the reference, and
when something is wrong compares the answer
with what each typical mistake would produce, to answer with a specific hint::

    from minilstm.exercises import check_step_backward
    print(check_step_backward(my_lstm_step_backward))

Every checker returns a ``Feedback``: ``passed``, ``mistake`` (an id such as
``"dc_prev_missing_forget_gate"``, or None), ``message`` and ``details`` (the gradient-check
table, or the learner's full traceback when their function raised; ``print(feedback)`` shows both).
"""
from .checkers import Feedback, check_bptt, check_clip_grad_norm, check_step_backward, check_step_forward
from .gru_checkers import check_gru_step_backward
from .loss_checkers import check_pinball_backward

__all__ = ["Feedback", "check_bptt", "check_clip_grad_norm", "check_gru_step_backward", "check_pinball_backward",
           "check_step_backward", "check_step_forward"]
