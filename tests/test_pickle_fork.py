"""Pickling through the model file, and fitted models, ensembles and layers in fork-, spawn- and forkserver-started
pools, joblib (loky, threading) and a Dask cluster, after training in the parent. Every pool call has a timeout."""
import copy
import io
import multiprocessing as mp
import pickle

import numpy as np
import pytest

from minilstm.errors import ModelFileError
from minilstm.forecast import LSTMEnsemble, LSTMModel
from minilstm.nn import GRU, LSTM, Linear

TIMEOUT = 180
# batch 32 on 2+ cores: the parent runs Numba's threaded region (the fork hazard with GNU OpenMP)
CFG = {"hidden_size": 8, "num_layers": 1, "sequence_length": 10, "epochs": 1, "batch_size": 32, "seed": 3}
X = np.random.default_rng(0).normal(size=(200, 2))
Y = X[:, 0] + 0.1 * X[:, 1]
FITTED = {}


def fitted():
    if not FITTED:
        FITTED["model"] = LSTMModel(CFG).fit(X, Y, verbose=False)
        FITTED["ensemble"] = LSTMEnsemble(CFG, n_members=2).fit(X, Y, verbose=False)
        layer = LSTM(2, 8, num_layers=2, bidirectional=True, seed=1)
        layer.forward(X[None].repeat(32, axis=0))                      # a threaded forward in the parent
        FITTED["layer"] = layer
    return FITTED


def use(obj):
    """What a worker does with what it received: predictions of the whole series (B = 191 windows)."""
    if isinstance(obj, (LSTMModel, LSTMEnsemble)):
        return np.asarray(obj.predict(X))
    return obj.infer(X[None].repeat(40, axis=0))[0]


def use_global(name):
    """A fork-started worker that uses the parent's object without pickling it."""
    return use(FITTED[name])


def expected():
    return {k: use(v) for k, v in fitted().items()}


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)     # one thread in a worker: float32 rounding only


# ---- pickle ----------------------------------------------------------------------------------------------
def globals_of(data):
    """The module.name pairs a pickle refers to (what unpickling looks up)."""
    names = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):
            names.add(f"{module}.{name}")
            return super().find_class(module, name)

    Recorder(io.BytesIO(data)).load()
    return names


@pytest.mark.parametrize("name", ["model", "ensemble", "layer"])
def test_pickle_and_deepcopy_give_the_same_predictions(name):
    obj = fitted()[name]
    want = use(obj)
    for copy_of in (pickle.loads(pickle.dumps(obj)), copy.deepcopy(obj)):
        assert type(copy_of) is type(obj)
        np.testing.assert_array_equal(use(copy_of), want)


@pytest.mark.parametrize("name, module", [("model", "minilstm.forecast.model"),
                                          ("ensemble", "minilstm.forecast.ensemble"), ("layer", "minilstm.nn")])
def test_a_pickle_carries_only_the_file_bytes(name, module):
    data = pickle.dumps(fitted()[name])
    cls = type(fitted()[name]).__name__
    unpickler = "_unpickle_layer" if name == "layer" else "_unpickle"
    assert globals_of(data) == {f"{module}.{unpickler}", f"{module}.{cls}"}
    assert b"PK\x03\x04" in data and b"metadata.json" in data            # the zip of JSON + .npy


def test_unfitted_objects_pickle_as_their_settings():
    m = pickle.loads(pickle.dumps(LSTMModel(hidden_size=7, seed=9)))
    assert not m.is_fitted and m.config["hidden_size"] == 7 and m.config["seed"] == 9
    e = LSTMEnsemble(CFG, n_members=3, n_jobs=2, aggregate="median")
    e2 = pickle.loads(pickle.dumps(e))
    assert e2.configs == e.configs and e2.n_jobs == 2 and e2.aggregate == "median" and not e2.is_fitted
    for layer in (GRU(3, 4, dtype=np.float32, dropout=0.5, num_layers=2), Linear(3, 2)):
        layer2 = copy.deepcopy(layer)
        for k in layer.params:
            np.testing.assert_array_equal(layer.params[k], layer2.params[k])


def test_dropout_generator_state_travels():
    layer = GRU(3, 4, num_layers=2, dropout=0.5, seed=1)
    x = np.random.default_rng(2).normal(size=(2, 5, 3))
    layer.forward(x)
    twin = copy.deepcopy(layer)
    np.testing.assert_array_equal(layer.forward(x)[0], twin.forward(x)[0])   # the same next masks


def _tampered(data, old, new):
    assert old in data
    return data.replace(old, new, 1)


@pytest.mark.parametrize("name", ["model", "ensemble", "layer"])
def test_a_tampered_pickle_is_checked_like_a_file(name):
    data = pickle.dumps(fitted()[name])
    for bad in (_tampered(data, b"PK\x03\x04", b"PK\x03\x05"), _tampered(data, b"metadata.json", b"metadata.jsoX")):
        with pytest.raises(ModelFileError):
            pickle.loads(bad)


def test_a_pickle_that_names_another_class_is_refused():
    from minilstm.forecast.model import _unpickle
    from minilstm.nn import _unpickle_layer
    with pytest.raises(ModelFileError, match="not an LSTMModel"):
        _unpickle(dict, b"")
    with pytest.raises(ModelFileError, match="not minilstm's"):
        _unpickle_layer(dict, b"")
    with pytest.raises(ModelFileError, match="not the bytes"):
        _unpickle(LSTMModel, 42)


def test_a_layer_pickle_with_wrong_shapes_or_settings_is_refused():
    from minilstm import archive
    from minilstm.nn import _unpickle_layer
    layer = Linear(3, 2)
    meta = {"layer": "Linear", "settings": layer._settings(), "training": True, "rng": None}
    good = {k: np.asarray(v) for k, v in layer.params.items()}
    with pytest.raises(ModelFileError, match="array W"):
        _unpickle_layer(Linear, archive.to_bytes(meta, {**good, "W": np.zeros((2, 3))}))
    with pytest.raises(ModelFileError, match="settings are invalid"):
        _unpickle_layer(Linear, archive.to_bytes({**meta, "settings": {"in_features": -1}}, good))
    with pytest.raises(ModelFileError, match="finite"):
        _unpickle_layer(Linear, archive.to_bytes(meta, {**good, "b": np.array([np.nan, 0.0])}))


# ---- pools ------------------------------------------------------------------------------------------------
def test_fork_started_pool_after_threaded_training():
    want = expected()
    with mp.get_context("fork").Pool(2) as pool:
        got = pool.map_async(use_global, list(want)).get(timeout=TIMEOUT)      # the parent's objects, no pickle
        close_all = dict(zip(want, got))
        shipped = pool.map_async(use, list(fitted().values())).get(timeout=TIMEOUT)   # pickled to the workers
    for (k, v), s in zip(want.items(), shipped):
        close(close_all[k], v)
        close(s, v)


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_spawn_and_forkserver_pools_after_training(method):
    want = expected()
    with mp.get_context(method).Pool(1) as pool:
        got = pool.map_async(use, list(fitted().values())).get(timeout=TIMEOUT)
    for g, v in zip(got, want.values()):
        close(g, v)


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_joblib_after_training(backend):
    from joblib import Parallel, delayed
    want = expected()
    got = Parallel(n_jobs=2, backend=backend, timeout=TIMEOUT)(delayed(use)(v) for v in fitted().values())
    for g, v in zip(got, want.values()):
        close(g, v)


def test_a_dask_cluster_after_training():
    distributed = pytest.importorskip("distributed")
    want = expected()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as c, \
            distributed.Client(c) as client:
        futures = [client.submit(use, v, pure=False) for v in fitted().values()]
        got = [f.result(timeout=TIMEOUT) for f in futures]
    for g, v in zip(got, want.values()):
        close(g, v)
