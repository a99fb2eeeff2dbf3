"""The house's shape: where things live, and the habits that keep it so."""
from minilstm import validate
from minilstm.core import gru, lstm


def test_the_cells_layouts_are_the_ones_validate_checks():
    assert validate.CELLS["lstm"].cache == lstm.CACHE_KEYS
    assert validate.CELLS["gru"].cache == gru.GRU_CACHE_KEYS
    assert validate.CELLS["gru"].params == gru.GRU_PARAMS
    assert validate.CELLS["lstm"].gates == len(lstm.GATES) and validate.CELLS["gru"].gates == len(gru.GRU_GATES)


def test_core_cell_modules_hold_the_math_only():
    """No argument-checking code in the reference: each function calls one ``validate`` check."""
    import inspect
    for mod in (lstm, gru):
        src = inspect.getsource(mod)
        assert "raise " not in src and "try:" not in src, mod.__name__
