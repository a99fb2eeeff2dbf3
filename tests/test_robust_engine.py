"""Hostile inputs at the reference core's functions and the shared validation helpers.

The reference is NumPy only (it cannot crash the process), so these run in-process.
"""
import numpy as np
import pytest
from conftest import random_params

from minilstm import core, validate
from minilstm import functional as Fn
from minilstm.errors import ConfigError, DataError, InputTypeError, MiniLSTMError, ShapeError

RNG = np.random.default_rng(7)
B, T, D, H = 2, 3, 4, 5


def P(**change):
    p = random_params(np.random.default_rng(0), D, H)
    p.update(change)
    return p


def step_cache():
    return core.lstm_step_forward(np.ones((B, D)), np.zeros((B, H)), np.zeros((B, H)), P())[2]


def seq_cache():
    return core.lstm_forward(np.ones((B, T, D)), None, None, P())[2]


def with_key(d, k, v):
    d = dict(d)
    d[k] = v
    return d


CASES = [
    # -- one step --
    ("step x_t 3-D", lambda: core.lstm_step_forward(np.ones((B, T, D)), np.zeros((B, H)), np.zeros((B, H)), P()),
     ShapeError, ["x_t", "2 dimensions"]),
    ("step h_prev wrong hidden", lambda: core.lstm_step_forward(np.ones((B, D)), np.zeros((B, H + 1)),
                                                               np.zeros((B, H)), P()),
     ShapeError, ["h_prev", "(2, 5)"]),
    ("step c_prev broadcastable", lambda: core.lstm_step_forward(np.ones((B, D)), np.zeros((B, H)),
                                                                np.zeros((1, H)), P()),
     ShapeError, ["c_prev", "(2, 5)"]),
    ("step bias short", lambda: core.lstm_step_forward(np.ones((B, D)), np.zeros((B, H)), np.zeros((B, H)),
                                                      P(b=np.zeros(5))), ShapeError, ["params['b']", "(20,)"]),
    ("step W_x for another D", lambda: core.lstm_step_forward(np.ones((B, D + 1)), np.zeros((B, H)),
                                                             np.zeros((B, H)), P()), ShapeError, ["W_x", "(5, 20)"]),
    ("step float32 state with float64 x", lambda: core.lstm_step_forward(
        np.ones((B, D)), np.zeros((B, H), np.float32), np.zeros((B, H)), P()), InputTypeError, ["h_prev", "float32"]),
    ("step integer x_t", lambda: core.lstm_step_forward(np.ones((B, D), int), np.zeros((B, H)), np.zeros((B, H)), P()),
     InputTypeError, ["x_t", "int64"]),
    ("step backward dh_t wrong", lambda: core.lstm_step_backward(np.ones((B, H + 2)), np.ones((B, H)), step_cache()),
     ShapeError, ["dh_t", "(2, 5)"]),
    ("step backward dc_t transposed", lambda: core.lstm_step_backward(np.ones((B, H)), np.ones((H, B)), step_cache()),
     ShapeError, ["dc_t"]),
    ("step backward cache too short", lambda: core.lstm_step_backward(np.ones((B, H)), np.ones((B, H)),
                                                                     step_cache()[:5]), InputTypeError,
     ["cache", "length 5"]),
    ("step backward sequence cache", lambda: core.lstm_step_backward(np.ones((B, H)), np.ones((B, H)), seq_cache()),
     InputTypeError, ["cache", "lstm_step_forward"]),
    ("gates_backward dh broadcastable", lambda: core.gates_backward(
        np.ones((1, H)), np.ones((B, H)), np.ones((B, 4 * H)), np.ones((B, H)), np.ones((B, H))), ShapeError,
     ["dh", "(2, 5)"]),
    ("gates_backward gates not 4H", lambda: core.gates_backward(
        np.ones((B, H)), np.ones((B, H)), np.ones((B, 4 * H + 1)), np.ones((B, H)), np.ones((B, H))), ShapeError,
     ["gates", "4H"]),
    ("activate_gates 10 columns", lambda: core.activate_gates(np.ones((B, 10))), ShapeError, ["4H", "(2, 10)"]),
    ("activate_gates a list", lambda: core.activate_gates([1.0, 2.0, 3.0, 4.0]), InputTypeError, ["a"]),
    # -- a sequence --
    ("sequence x 2-D", lambda: core.lstm_forward(np.ones((B, D)), None, None, P()), ShapeError, ["x", "3 dimensions"]),
    ("sequence zero steps", lambda: core.lstm_forward(np.ones((B, 0, D)), None, None, P()), ShapeError,
     ["at least one"]),
    ("sequence complex x", lambda: core.lstm_forward(np.ones((B, T, D), complex), None, None, P()), InputTypeError,
     ["x", "complex"]),
    ("sequence W_h (H, 3H)", lambda: core.lstm_forward(np.ones((B, T, D)), None, None, P(W_h=np.ones((H, 3 * H)))),
     ShapeError, ["W_h", "(H, 4H)"]),
    ("sequence W_h 1-D", lambda: core.lstm_forward(np.ones((B, T, D)), None, None, P(W_h=np.ones(4 * H))),
     ShapeError, ["W_h", "2 dimensions"]),
    ("sequence bias (20, 1)", lambda: core.lstm_forward(np.ones((B, T, D)), None, None, P(b=np.ones((4 * H, 1)))),
     ShapeError, ["params['b']", "1 dimension (20,)"]),
    ("sequence h0 of the layer (1, B, H)", lambda: core.lstm_forward(np.ones((B, T, D)), np.zeros((1, B, H)), None,
                                                                      P()), ShapeError, ["h0", "(2, 5)"]),
    ("sequence params missing b", lambda: core.lstm_forward(np.ones((B, T, D)), None, None,
                                                           {"W_x": P()["W_x"], "W_h": P()["W_h"]}), ShapeError,
     ["missing", "'b'"]),
    ("sequence backward dh_seq time-major", lambda: core.lstm_backward(np.ones((T, B, H)), None, None, seq_cache()),
     ShapeError, ["dh_seq", "(2, 3, 5)", "(3, 2, 5)"]),
    ("sequence backward dh_T wrong", lambda: core.lstm_backward(None, np.ones((B, H + 1)), None, seq_cache()),
     ShapeError, ["dh_T"]),
    ("sequence backward cache None", lambda: core.lstm_backward(None, None, None, None), InputTypeError,
     ["cache", "lstm_forward"]),
    ("sequence backward cache cs cut", lambda: core.lstm_backward(None, None, None, with_key(
        seq_cache(), "cs", seq_cache()["cs"][:2])), ShapeError, ["cache['cs']", "(4, 2, 5)"]),
    ("sequence backward step cache", lambda: core.lstm_backward(None, None, None, step_cache()), InputTypeError,
     ["cache"]),
    # -- the pieces around the LSTM: no silent broadcasting --
    ("mse (N, 1) against (N,)", lambda: Fn.mse_loss(np.ones((4, 1)), np.ones(4)), ShapeError,
     ["target", "(4, 1)", "(4,)"]),
    ("mae transposed target", lambda: Fn.mae_loss(np.ones((4, 2)), np.ones((2, 4))), ShapeError, ["target"]),
    ("huber delta 0", lambda: Fn.huber_loss(np.ones(3), np.zeros(3), delta=0), ConfigError, ["delta"]),
    ("linear x of the wrong width", lambda: Fn.linear_forward(np.ones((3, 4)), np.ones((5, 2)), np.ones(2)),
     ShapeError, ["x", "(batch, 5)"]),
    ("linear bias of the wrong length", lambda: Fn.linear_forward(np.ones((3, 5)), np.ones((5, 2)), np.ones(3)),
     ShapeError, ["b", "(2,)"]),
    ("linear dy of the wrong shape", lambda: Fn.linear_backward(np.ones((3, 3)), (np.ones((3, 5)), np.ones((5, 2)))),
     ShapeError, ["dy", "(3, 2)"]),
    ("dropout mask of another shape", lambda: Fn.dropout_forward(np.ones((2, 3, 4)), np.ones((1, 3, 4))), ShapeError,
     ["mask", "(2, 3, 4)"]),
    ("dropout p = 1", lambda: Fn.dropout_mask(np.random.default_rng(0), (2, 2), 1.0, np.float64, np), ConfigError,
     ["dropout probability"]),
    # -- the helpers other cells reuse --
    ("check_number NaN", lambda: validate.check_number(float("nan"), "lr", low=0), ConfigError, ["lr", "finite"]),
    ("check_number bool", lambda: validate.check_number(True, "eps"), ConfigError, ["eps", "bool"]),
    ("check_number out of range", lambda: validate.check_number(1.0, "beta", low=0, high=1, high_open=True),
     ConfigError, ["beta", "< 1"]),
    ("check_option unknown", lambda: validate.check_option("al", "loss_on", ("all", "last")), ConfigError,
     ["'all'", "'last'", "'al'"]),
    ("check_cell_params GRU layout as an LSTM's", lambda: validate.check_cell_params(
        {"W_x": np.ones((3, 12)), "W_h": np.ones((4, 12)), "b": np.ones(12)}, "lstm"), ShapeError, ["(H, 4H)"]),
    ("check_array Inf", lambda: validate.check_array(np.array([1.0, np.inf]), "y", finite=True), DataError,
     ["y", "(1,)"]),
]


@pytest.mark.parametrize("name,action,exc,words", CASES, ids=[c[0] for c in CASES])
def test_hostile_core_input(name, action, exc, words):
    with pytest.raises(exc) as e:
        action()
    assert isinstance(e.value, MiniLSTMError)
    for w in words:
        assert w in str(e.value), f"{w!r} not in {str(e.value)!r}"


def test_check_cell_params_serves_both_cells():
    """One check per contract, the cell named: a GRU layout (3 blocks, b_x and b_h) passes with cell='gru'."""
    p = {"W_x": np.ones((3, 12)), "W_h": np.ones((4, 12)), "b_x": np.ones(12), "b_h": np.ones(12)}
    assert validate.check_cell_params(p, "gru") == (3, 4)
    assert validate.check_sequence_inputs(np.ones((2, 5, 3)), {"h0": np.zeros((2, 4))}, p, "gru") == (2, 5, 3, 4)
    with pytest.raises(ShapeError, match="single 'b' is the LSTM's layout"):
        validate.check_cell_params({"W_x": p["W_x"], "W_h": p["W_h"], "b": p["b_x"]}, "gru")


def test_valid_calls_still_work_and_match_the_step_loop():
    p, x = P(), RNG.standard_normal((B, T, D))
    h_seq, (hT, cT), _ = core.lstm_forward(x, None, None, p)
    h, c = np.zeros((B, H)), np.zeros((B, H))
    for t in range(T):
        h, c, _ = core.lstm_step_forward(x[:, t], h, c, p)
    np.testing.assert_allclose(h, hT, rtol=1e-13)
    np.testing.assert_allclose(c, cT, rtol=1e-13)
