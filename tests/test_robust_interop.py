"""Hostile state_dicts for ``from_torch_state_dict``: every one refused with a clear error before any layer is built.

The state_dicts are NumPy arrays shaped like torch's (torch itself is used only where marked).
"""
import numpy as np
import pytest

import minilstm
from minilstm.errors import ConfigError, DataError, InputTypeError, MiniLSTMError, ShapeError
from minilstm.interop import check_torch_state_dict, from_torch_state_dict, to_torch_state_dict


def sd_of(D=3, H=4, L=2, G=4, bias=True, seed=0):
    """A state_dict laid out like torch's recurrent layers with G gate blocks."""
    rng = np.random.default_rng(seed)
    sd = {}
    for k in range(L):
        sd[f"weight_ih_l{k}"] = rng.standard_normal((G * H, D if k == 0 else H))
        sd[f"weight_hh_l{k}"] = rng.standard_normal((G * H, H))
        if bias:
            sd[f"bias_ih_l{k}"] = rng.standard_normal(G * H)
            sd[f"bias_hh_l{k}"] = rng.standard_normal(G * H)
    return sd


def edit(sd, **changes):
    sd = dict(sd)
    for k, v in changes.items():
        if v is None:
            del sd[k]
        else:
            sd[k] = v
    return sd


SD = sd_of()
CASES = [
    ("GRU layout (3 gates)", sd_of(H=4, G=3), ShapeError, ["torch.nn.GRU", "weight_hh_l0"]),
    ("GRU layout, 3H not divisible by 4", sd_of(H=3, G=3), ShapeError, ["4H", "torch.nn.GRU"]),
    ("RNN layout (1 gate)", sd_of(H=4, G=1), ShapeError, ["torch.nn.RNN"]),
    ("4H not divisible by 4", edit(SD, weight_ih_l0=np.ones((15, 3))), ShapeError, ["weight_ih_l0", "(4H, D)"]),
    ("weight_hh of the wrong width", edit(SD, weight_hh_l0=np.ones((16, 5))), ShapeError,
     ["weight_hh_l0", "(16, 4)", "(16, 5)"]),
    ("weight_hh transposed", edit(SD, weight_hh_l1=np.ones((4, 16))), ShapeError, ["weight_hh_l1", "(16, 4)"]),
    ("bias (16, 1)", edit(SD, bias_ih_l0=np.ones((16, 1))), ShapeError, ["bias_ih_l0", "(16,)", "(16, 1)"]),
    ("bias too short", edit(SD, bias_hh_l1=np.ones(12)), ShapeError, ["bias_hh_l1", "(16,)"]),
    ("layer 1 input not H", edit(SD, weight_ih_l1=np.ones((16, 3))), ShapeError, ["weight_ih_l1", "(16, 4)"]),
    ("complex weights", edit(SD, weight_hh_l0=SD["weight_hh_l0"] + 1j), InputTypeError,
     ["weight_hh_l0", "complex"]),
    ("object weights", edit(SD, weight_hh_l0=np.empty((16, 4), object)), InputTypeError, ["weight_hh_l0", "object"]),
    ("string weights", edit(SD, bias_ih_l0=np.array(["a"] * 16)), InputTypeError, ["bias_ih_l0"]),
    ("NaN weights", edit(SD, weight_ih_l0=np.full((16, 3), np.nan)), DataError, ["weight_ih_l0", "NaN"]),
    ("missing bias key", edit(SD, bias_hh_l1=None), ShapeError, ["missing keys", "bias_hh_l1"]),
    ("missing weight_hh", edit(SD, weight_hh_l0=None), ShapeError, ["missing keys", "weight_hh_l0"]),
    ("layer gap", edit(SD, weight_ih_l0=None, weight_hh_l0=None, bias_ih_l0=None, bias_hh_l0=None), ShapeError,
     ["missing keys", "weight_ih_l0"]),
    ("extra key", edit(SD, **{"fc.weight": np.ones((1, 4))}), ShapeError, ["unexpected keys", "fc.weight"]),
    ("prefixed keys", {f"lstm.{k}": v for k, v in SD.items()}, ShapeError, ["weight_ih_l0", "prefix", "'lstm.'"]),
    ("bidirectional", edit(SD, weight_ih_l0_reverse=np.ones((16, 3))), ShapeError, ["bidirectional"]),
    ("projected", edit(SD, weight_hr_l0=np.ones((2, 4))), ShapeError, ["proj_size"]),
    ("empty", {}, ShapeError, ["weight_ih_l0"]),
    ("not a dict", [("weight_ih_l0", np.ones((16, 3)))], InputTypeError, ["dict"]),
    ("non-string key", edit(SD, **{}) | {0: np.ones(1)}, InputTypeError, ["keys must be strings"]),
    ("absurd layer count", edit(SD, weight_ih_l99999=np.ones((16, 4))), ShapeError, ["layer"]),
    ("1-D weight_ih", edit(SD, weight_ih_l0=np.ones(16)), ShapeError, ["weight_ih_l0"]),
]


@pytest.mark.parametrize("name,sd,exc,words", CASES, ids=[c[0] for c in CASES])
def test_hostile_state_dict(name, sd, exc, words):
    with pytest.raises(exc) as e:
        from_torch_state_dict(sd)
    assert isinstance(e.value, MiniLSTMError)
    for w in words:
        assert w in str(e.value), f"{w!r} not in {str(e.value)!r}"


def test_unknown_cell_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="'lstm'"):
        from_torch_state_dict(SD, cell="gru3")


def test_gate_count_is_a_parameter():
    """The same check accepts a 3-gate layout when told so (for a GRU converter)."""
    assert check_torch_state_dict(sd_of(D=3, H=4, L=2, G=3), gates=3, kind="torch.nn.GRU") == (2, 3, 4, True)
    with pytest.raises(ShapeError, match="torch.nn.LSTM"):
        check_torch_state_dict(sd_of(D=3, H=4, L=2, G=4), gates=3, kind="torch.nn.GRU")


def test_bias_free_state_dict_gives_zero_biases_and_round_trips():
    lstm = from_torch_state_dict(sd_of(bias=False))
    assert all(np.all(lstm.params[f"l{k}.b"] == 0) for k in range(2))
    back = to_torch_state_dict(lstm)
    np.testing.assert_allclose(back["weight_hh_l1"], sd_of(bias=False)["weight_hh_l1"])


def test_to_torch_state_dict_refuses_other_objects():
    with pytest.raises(InputTypeError, match="minilstm.LSTM"):
        to_torch_state_dict({"weight": np.ones(3)})


def test_a_valid_state_dict_still_loads():
    lstm = from_torch_state_dict(SD, kernels="numpy")
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers) == (3, 4, 2)
    assert isinstance(lstm, minilstm.LSTM)


@pytest.mark.torch
def test_real_torch_modules():
    torch = pytest.importorskip("torch")
    for module, word in ((torch.nn.GRU(3, 4), "torch.nn.GRU"), (torch.nn.RNN(3, 4), "torch.nn.RNN"),
                         (torch.nn.GRU(3, 3, num_layers=2), "torch.nn.GRU")):
        with pytest.raises(ShapeError, match=word.replace(".", r"\.")):
            from_torch_state_dict(module.state_dict())
    sd = torch.nn.LSTM(3, 4).state_dict()
    with pytest.raises(InputTypeError, match="complex"):
        from_torch_state_dict({**sd, "weight_hh_l0": sd["weight_hh_l0"].to(torch.complex64)})
    half = from_torch_state_dict({k: v.half() for k, v in sd.items()})       # widened, not refused
    assert half.hidden_size == 4
