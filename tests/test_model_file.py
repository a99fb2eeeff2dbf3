"""save/load: one zip of JSON + .npy, no pickle, atomic writes, clear errors on bad files."""
import json
import zipfile

import numpy as np
import pytest

from minilstm import LSTMModel
from minilstm.errors import ModelFileError
from minilstm.forecast import io as model_io

CFG = {"hidden_size": 6, "num_layers": 2, "epochs": 2, "sequence_length": 5, "device": "cpu"}


@pytest.fixture(scope="module")
def trained():
    s = np.sin(np.arange(150) / 4.0) * 3 + 10
    X = np.column_stack([s, np.cos(np.arange(150) / 4.0)])
    return LSTMModel({**CFG, "normalize": "minmax"}).fit(X, s, verbose=False), X, s


def test_round_trip_identical_predictions_any_file_name(trained, tmp_path):
    m, X, s = trained
    for name in ("lstm_model.pkl", "model.minilstm", "no_extension"):
        path = tmp_path / name
        m.save(path)
        m2 = LSTMModel().load(path)
        np.testing.assert_array_equal(m2.predict(X), m.predict(X))
        assert m2.train_history == m.train_history
        assert m2.config == m.config
        m3 = LSTMModel.from_file(str(path))
        np.testing.assert_array_equal(m3.evaluate(X, s, verbose=False)["rmse"], m.evaluate(X, s, verbose=False)["rmse"])


def test_file_is_a_zip_of_json_and_npy_without_pickle(trained, tmp_path):
    m, _, _ = trained
    path = tmp_path / "m.pkl"
    m.save(path)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        meta = json.loads(z.read("metadata.json"))
        assert all(n == "metadata.json" or (n.startswith("arrays/") and n.endswith(".npy")) for n in names)
        for n in names:
            assert b"pickle" not in z.read(n)[:10]
    assert meta["format_version"] == model_io.FORMAT_VERSION and meta["library_version"]
    assert meta["x_normalizer"]["strategy"] == "minmax"


def test_failed_save_leaves_old_file_intact(trained, tmp_path, monkeypatch):
    m, _, _ = trained
    path = tmp_path / "keep.minilstm"
    m.save(path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", boom)
    with pytest.raises(ModelFileError, match="disk is full") as e:
        m.save(path)
    assert str(path) in str(e.value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.minilstm"]   # no temporary left behind


def _write_zip(path, files):
    with zipfile.ZipFile(path, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)


def test_bad_files_are_reported(trained, tmp_path):
    m, _, _ = trained
    good = tmp_path / "good.minilstm"
    m.save(good)
    data = good.read_bytes()
    cases = {}
    cases["missing"] = tmp_path / "nope.minilstm"
    (tmp_path / "trunc").write_bytes(data[: len(data) // 2])
    cases["truncated"] = tmp_path / "trunc"
    corrupted = bytearray(data)
    mid = len(corrupted) // 3
    corrupted[mid:mid + 40] = b"\x00" * 40
    (tmp_path / "corrupt").write_bytes(bytes(corrupted))
    cases["corrupted"] = tmp_path / "corrupt"
    import pickle
    (tmp_path / "pickle.pkl").write_bytes(pickle.dumps({"weights": [1, 2]}))
    cases["a pickle"] = tmp_path / "pickle.pkl"
    _write_zip(tmp_path / "foreign.zip", {"readme.txt": "hello"})
    cases["foreign zip"] = tmp_path / "foreign.zip"
    _write_zip(tmp_path / "magic.zip", {"metadata.json": json.dumps({"magic": "other"})})
    cases["wrong magic"] = tmp_path / "magic.zip"
    _write_zip(tmp_path / "newer.zip", {"metadata.json": json.dumps({"magic": "minilstm-model", "format_version": 99,
                                                                      "library_version": "9.0"})})
    cases["newer format"] = tmp_path / "newer.zip"
    with zipfile.ZipFile(good) as z:
        files = {n: z.read(n) for n in z.namelist() if n != "arrays/lstm.l0.W_x.npy"}
    _write_zip(tmp_path / "noweights.zip", files)
    cases["missing weights"] = tmp_path / "noweights.zip"
    _write_zip(tmp_path / "badjson.zip", {"metadata.json": "{not json"})
    cases["bad json"] = tmp_path / "badjson.zip"
    for what, path in cases.items():
        with pytest.raises(ModelFileError) as e:
            LSTMModel().load(path)
        assert str(path.name) in str(e.value) or "no model file" in str(e.value), what
    with pytest.raises(ModelFileError, match="newer minilstm"):
        LSTMModel().load(cases["newer format"])


def test_object_arrays_are_refused(trained, tmp_path):
    m, _, _ = trained
    good = tmp_path / "g.minilstm"
    m.save(good)
    import io
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(good) as z:
        files = {n: z.read(n) for n in z.namelist()}
    files["arrays/lstm.l0.W_x.npy"] = buf.getvalue()
    _write_zip(tmp_path / "obj.zip", files)
    with pytest.raises(ModelFileError, match="objects"):
        LSTMModel().load(tmp_path / "obj.zip")


def test_save_into_missing_folder_or_onto_a_folder_is_a_clear_error(trained, tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        trained[0].save(tmp_path / "no" / "such" / "m.minilstm")
    with pytest.raises(ModelFileError, match="is a folder"):
        trained[0].save(tmp_path)
    with pytest.raises(ModelFileError, match="not a minilstm model file"):
        LSTMModel().load(tmp_path)


def test_a_file_saved_on_cuda_loads_on_a_cpu_only_machine(trained, tmp_path):
    """Rewrite a file's config as a CUDA-trained model would have it; loading falls back to the CPU."""
    from minilstm.backend import cupy_available
    if cupy_available:
        pytest.skip("this machine has a GPU")
    m, X, _ = trained
    path = tmp_path / "cpu.minilstm"
    m.save(path)
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(files["metadata.json"])
    meta["config"].update(device="cuda", kernels="cuda")
    files["metadata.json"] = json.dumps(meta)
    _write_zip(tmp_path / "gpu.minilstm", files)
    loaded = LSTMModel().load(tmp_path / "gpu.minilstm")
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), m.predict(X))


def test_numpy_scalars_in_the_config_save_and_load(tmp_path):
    s = np.arange(40.0)
    cfg = {"epochs": np.int64(1), "learning_rate": np.float32(0.01), "hidden_size": np.int32(3),
           "sequence_length": 3, "dropout": np.float32(0.1), "device": "cpu"}
    m = LSTMModel(cfg).fit(s, s, verbose=False)
    m.save(tmp_path / "np.minilstm")
    m2 = LSTMModel().load(tmp_path / "np.minilstm")
    assert m2.config["hidden_size"] == 3 and isinstance(m2.config["learning_rate"], float)
    np.testing.assert_array_equal(m2.predict(s), m.predict(s))


def test_metadata_that_disagrees_with_the_arrays_is_refused_before_allocating(trained, tmp_path):
    m, _, _ = trained
    good = tmp_path / "g.minilstm"
    m.save(good)
    with zipfile.ZipFile(good) as z:
        files = {n: z.read(n) for n in z.namelist()}
    for edit in ({"n_features": 10 ** 9}, {"config": {**m.config, "num_layers": 10 ** 7}},
                 {"config": {**m.config, "hidden_size": 7}}, {"n_targets": "x"}):
        meta = json.loads(files["metadata.json"])
        meta.update(edit)
        _write_zip(tmp_path / "edited.zip", {**files, "metadata.json": json.dumps(meta)})
        with pytest.raises(ModelFileError):
            LSTMModel().load(tmp_path / "edited.zip")
