"""Hostile command lines: every bad argument gets exit status 2 and one line on stderr, never a traceback,
and nothing that would fail after training is accepted before it."""
import os
import subprocess
import sys

import pytest

import minilstm.demo as demo_module
from minilstm import backend, cli


@pytest.fixture
def no_training(monkeypatch):
    """Make any attempt to train fail the test: refusals must come before the demo runs."""
    def refuse(args):
        raise AssertionError(f"the demo ran with {args}")
    monkeypatch.setattr(demo_module, "run_demo", refuse)


def run_main(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def assert_one_line_error(code, out, err, *fragments):
    assert code == 2, (code, out, err)
    assert out == "" and err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err and ": error: " in err
    for f in fragments:
        assert f in err, (f, err)


BAD = [
    ([], "required"),
    (["bogus"], "invalid choice: 'bogus'"),
    (["--bogus"], "required: <command>"),
    (["gradcheck", "--bogus"], "unrecognized arguments: --bogus"),
    (["gradcheck", "--steps", "-3"], "got -3"),
    (["gradcheck", "--steps", "0"], "from 1 to 100, got 0"),
    (["gradcheck", "--steps", "abc"], "got 'abc'"),
    (["gradcheck", "--steps", "1.5"], "got '1.5'"),
    (["gradcheck", "--steps", "101"], "got 101"),
    (["gradcheck", "--steps", "10**9"], "got '10**9'"),
    (["gradcheck", "--steps", " "], "--steps"),
    (["gradcheck", "--steps"], "expected one argument"),
    (["gradcheck", "--layers", "0"], "stacked layers from 1 to 6, got 0"),
    (["gradcheck", "--layers", "-1"], "got -1"),
    (["gradcheck", "--layers", "1e9"], "got '1e9'"),
    (["gradcheck", "--layers", "1000000000"], "got 1000000000"),
    (["gradcheck", "--seed", "-1"], "a seed from 0"),
    (["gradcheck", "--seed", "nan"], "got 'nan'"),
    (["gradcheck", "--kernels", "cuda"], "invalid choice: 'cuda'"),
    (["gradcheck", "--kernels", ""], "invalid choice"),
    (["gradcheck", "extra"], "unrecognized arguments: extra"),
    (["demo", "--epochs", "0"], "epochs from 1 to 100000, got 0"),
    (["demo", "--epochs", "-5"], "got -5"),
    (["demo", "--epochs", "two"], "got 'two'"),
    (["demo", "--epochs", "inf"], "got 'inf'"),
    (["demo", "--epochs", "100001"], "got 100001"),
    (["demo", "--device", "tpu"], "invalid choice: 'tpu'"),
    (["demo", "--device", "CUDA"], "invalid choice: 'CUDA'"),
    (["demo", "--quiet=yes"], "ignored explicit argument"),
    (["demo", "--out", ""], "--out is empty"),
    (["demo", "--out", "   "], "--out is empty"),
    (["demo", "--out", os.devnull], "is an existing file, not a folder"),
]


@pytest.mark.parametrize("argv,fragment", BAD, ids=[" ".join(a) or "nothing" for a, _ in BAD])
def test_bad_arguments_get_one_line_and_status_2(argv, fragment, capsys, no_training):
    assert_one_line_error(*run_main(argv, capsys), fragment)


def test_existing_file_as_out_is_refused_before_training(tmp_path, capsys, no_training):
    f = tmp_path / "results.txt"
    f.write_text("keep me")
    assert_one_line_error(*run_main(["demo", "--epochs", "1", "--out", str(f)], capsys), "existing file")
    assert f.read_text() == "keep me"
    assert_one_line_error(*run_main(["demo", "--out", str(f / "sub")], capsys), "is a file, not a folder")


@pytest.mark.skipif(backend.cupy_available, reason="CuPy and a GPU are present")
def test_cuda_without_cupy_says_how_to_install(capsys, no_training):
    code, out, err = run_main(["demo", "--device", "cuda", "--epochs", "1"], capsys)
    assert_one_line_error(code, out, err, "--device cuda needs CuPy", "pip install -e '.[cuda]'",
                          "pip install 'minilstm[cuda]'", "--device cpu")


@pytest.mark.skipif(backend.numba_available, reason="Numba is installed")
def test_numba_kernels_without_numba_are_refused(capsys):
    assert_one_line_error(*run_main(["gradcheck", "--kernels", "numba"], capsys), "needs Numba")


@pytest.mark.parametrize("value,epochs", [("0", 30), ("", 30), ("false", 30), ("no", 30), ("1", 2), ("true", 2),
                                          ("YES", 2)])
def test_only_a_truthy_minilstm_fast_shortens_the_demo(value, epochs, monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(demo_module, "run_demo", lambda args: seen.setdefault("epochs", args.epochs) and 0)
    monkeypatch.setenv("MINILSTM_FAST", value)
    assert cli.main(["demo", "--device", "cpu", "--out", str(tmp_path)]) == 0
    assert seen["epochs"] == epochs == (2 if cli.fast_mode() else demo_module.DEMO_CONFIG["epochs"])
    seen.clear()
    assert cli.main(["demo", "--device", "cpu", "--epochs", "7", "--out", str(tmp_path)]) == 0
    assert seen["epochs"] == 7                                       # an explicit --epochs always wins


def test_gradcheck_checks_the_training_kernels_and_the_reference(capsys):
    assert cli.main(["gradcheck", "--layers", "1", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "numpy kernels" in out and "numpy (reference): PASS" in out
    if backend.numba_available:
        assert cli.training_kernels() == "numba"
        assert "numba kernels" in out and "numba (fast path, used in training): PASS" in out
    assert cli.gradcheck_kernels("numpy") == ["numpy"]
    assert cli.gradcheck_kernels("training") == [cli.training_kernels()]


def test_library_errors_during_a_run_are_one_line(monkeypatch, tmp_path, capsys):
    from minilstm.errors import DataError

    def fail(args):
        raise DataError("the data were\nunusable")
    monkeypatch.setattr(demo_module, "run_demo", fail)
    assert cli.main(["demo", "--device", "cpu", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == "minilstm demo: error: the data were unusable\n"


SUBPROCESS = [["gradcheck", "--steps", "-3"], ["gradcheck", "--layers", "0"], ["demo", "--epochs", "0"],
              ["demo", "--out", os.devnull]]
if not backend.cupy_available:
    SUBPROCESS.append(["demo", "--device", "cuda"])


@pytest.mark.parametrize("argv", SUBPROCESS, ids=" ".join)
def test_the_real_command_prints_no_traceback(argv):
    r = subprocess.run([sys.executable, "-m", "minilstm", *argv], capture_output=True, text=True, timeout=120)
    assert_one_line_error(r.returncode, r.stdout, r.stderr)


def test_demo_and_backtest_treat_an_existing_output_alike(tmp_path, capsys, no_training):
    """Both replace an earlier run's files, say so before any work, and refuse what cannot be replaced."""
    from minilstm.cli import main
    out = tmp_path / "out"
    out.mkdir()
    (out / "history.png").write_bytes(b"old")
    with pytest.raises(AssertionError, match="the demo ran"):     # accepted: announced, then the demo starts
        main(["demo", "--out", str(out), "--epochs", "1"])
    assert f"minilstm demo: replacing history.png in {out}/" in capsys.readouterr().out
    (out / "gates.png").mkdir()
    with pytest.raises(SystemExit) as e:
        main(["demo", "--out", str(out), "--epochs", "1"])
    assert e.value.code == 2 and "gates.png" in capsys.readouterr().err


def test_backtest_out_that_is_a_file_is_refused_before_any_fit(tmp_path, capsys, monkeypatch):
    from minilstm.forecast import backtest
    module_dict = backtest.__globals__                       # the module's namespace (a function shadows its name)
    monkeypatch.setitem(module_dict, "backtest", lambda *a, **k: (_ for _ in ()).throw(AssertionError("a fit ran")))
    out = tmp_path / "out"
    out.write_text("not a folder")
    code, stdout, err = run_main(["backtest", "stocks", "--out", str(out)], capsys)
    assert_one_line_error(code, stdout, err, "existing file, not a folder")


def test_a_read_only_output_is_refused_before_training_even_for_root(tmp_path, capsys, no_training):
    out = tmp_path / "out"
    out.mkdir()
    (out / "lstm_model.minilstm").write_bytes(b"old")
    os.chmod(out / "lstm_model.minilstm", 0o444)              # root may write it, but the model writer refuses it
    code, stdout, err = run_main(["demo", "--out", str(out), "--epochs", "1"], capsys)
    assert_one_line_error(code, stdout, err, "lstm_model.minilstm", "not a writable file")
