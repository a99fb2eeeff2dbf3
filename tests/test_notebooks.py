"""Every tutorial notebook runs top to bottom (fast mode: MINILSTM_FAST=1 shortens training), and
the numbers it computes agree with what its text says.

Each notebook is executed ONCE per test session (``run_notebook`` keeps the result). Before it
runs, one cell is appended in memory (never to the file) that prints, as JSON, the values named in
``PROBES``: variables the notebook itself computed. ``test_notebook_claims`` then checks the claims
of the notebook's text against those numbers, so a notebook whose numbers contradict its text fails.
"""
import contextlib
import glob
import json
import math
import os
import re
import time

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

TUTORIALS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tutorials")
NOTEBOOKS = sorted(glob.glob(os.path.join(TUTORIALS, "*.ipynb")))
IDS = [os.path.basename(p) for p in NOTEBOOKS]
MARK = "NOTEBOOK-CLAIMS:"

# notebook stem -> Python expression, evaluated in the notebook's kernel after its last cell: a dict of the
# numbers its text makes claims about (JSON: floats, bools, lists, strings).
PROBES = {
    "01_gates_and_forward_pass": """{
        "hand": [float(h_t), float(C_t)], "minilstm": [h1.item(), c1.item()],
        "window_shape": list(acts["f"].shape), "L": L, "H": H, "n_days": len(days),
        "gate_min": float(min(a[k].min() for a in days for k in "fio")),
        "gate_max": float(max(a[k].max() for a in days for k in "fio")),
        "candidate_absmax": float(max(abs(a["c_tilde"]).max() for a in days))}""",
    "02_backprop_through_time": """{
        "loop_equals_sequence": [bool(np.allclose(dh_next, dh0)), bool(np.allclose(dc_next, dc0)),
                                 bool(np.allclose(dW_h, dp["W_h"]))],
        "fd_passed": bool(fd_report.passed), "fd_max_error": float(fd_report.max_error),
        "flow_at_t0": {str(fb): float(norms[0]) for fb, norms in flows.items()}}""",
    "03_gradient_checking": """{
        "dtype_errors": {k: float(v) for k, v in dtype_errors.items()},
        "layer_passed": bool(report.passed),
        "buggy_passed": bool(buggy_report.passed), "buggy_failures": list(buggy_report.failures),
        "reference_passed": bool(reference_report.passed),
        "ones_buggy_passed": bool(ones_buggy.passed), "ones_reference_passed": bool(ones_reference.passed),
        "swapped_random_error": float(swapped_random.max_error), "swapped_ones_error": float(swapped_ones.max_error),
        "swapped_random_passed": bool(swapped_random.passed), "swapped_ones_passed": bool(swapped_ones.passed),
        "directional_errors": [float(e) for e in errs]}""",
    "04_exercises": """{
        "stub_messages": [check_step_forward(lstm_step_forward).message,
                          check_step_backward(lstm_step_backward).message,
                          check_bptt(lstm_backward).message, check_clip_grad_norm(clip_grad_norm).message],
        "mistake": fb.mistake, "solutions_passed": [bool(r) for r in solution_results]}""",
    "05_forecasting_energy_demand": """{
        "hour": {"model": res["rmse"], **{b: m["rmse"] for b, m in res["baselines"].items()}},
        "hour_r2_persistence": res["baselines"]["persistence"]["r2"],
        "day": {"model": res_day["rmse"], **{b: m["rmse"] for b, m in res_day["baselines"].items()}},
        "table_rows": len(rows), "forecast_len": len(f), "FAST": FAST,
        "seed_rmse": [float(v) for v in seed_rmse], "seed_spread": float(spread)}""",
    "06_stock_prices_honestly": """{
        "level_r2": res["r2"], "level_r2_persistence": res["baselines"]["persistence"]["r2"],
        "level_skill": float(1 - res["rmse"] / res["baselines"]["persistence"]["rmse"]), "above": float(above),
        "returns_r2": rr["r2"], "direction": float(direction), "skill": {k: float(v) for k, v in skill.items()},
        "zero_vs_persistence": float(zero_vs_persistence),
        "mape": {"model": rr["mape"], **{b: base[b]["mape"] for b in ("persistence", "zero", "mean")}}}""",
    "07_exploding_and_vanishing_gradients": """{
        "curves": {f"{s},{fb}": [float(v[0]), float(v[-1])] for (s, fb), v in curves.items()},
        "norm_before": float(norm_before), "norm_after": float(norm_after),
        "direction": [float(v) for v in clipped["W"] / np.linalg.norm(clipped["W"])],
        "direction_before": [float(v) for v in g["W"] / np.linalg.norm(g["W"])],
        "issue1": {str(k): {"model": r["rmse"], "persistence": r["baselines"]["persistence"]["rmse"],
                            "zero": r["baselines"]["zero"]["rmse"]} for k, (_, r) in by_normalize.items()},
        "unscaled_table": unscaled.evaluate(X_test, y_test, verbose=False)["rmse"],
        "sane": {"model": sane_report["rmse"], **{b: m["rmse"] for b, m in sane_report["baselines"].items()}},
        "big_train": [h["train_loss"] for h in big.train_history],
        "big_val": [h["val_loss"] for h in big.train_history],
        "small_val": [h["val_loss"] for h in small.train_history], "epochs": noisy["epochs"]}""",
    "09_gru_and_bidirectional": """{
        "n_lstm": n_lstm, "n_gru": n_gru, "D": D, "H": H, "step_passed": bool(step_report.passed),
        "layer_passed": bool(layer_report.passed), "bi_passed": bool(bi_report.passed), "causal": causal,
        "runs": {k: len(r["rmse"]) for k, r in results.items()}, "n_seeds": len(seeds),
        "params": {k: r["params"] for k, r in results.items()}, "baselines": sorted(baselines)}""",
    "08_speed": """{"same_outputs": same_outputs, "same_grads": same_grads, "paths": sorted(rows_checked)}""",
    "10_backtesting_ensembles_and_tuning": """{
        "week_rmse": [float(v) for v in week_rmse], "test": int(test), "weeks": weeks,
        "folds": [[int(f["train_rows"][0]), int(f["fit_origin"]), int(f["first_origin"])] for f in bt.folds],
        "origins": [int(bt.origins[0]), int(bt.origins[-1])],
        "coverage": {str(k): v["coverage"] for k, v in report["intervals"].items()},
        "width": {str(k): v["mean_width"] for k, v in report["intervals"].items()},
        "band_width": [float(np.mean(bands[lv][1] - bands[lv][0])) for lv in (0.8, 0.95)],
        "sweep_scores": [t["score"] for t in result.trials], "best": result.best_params,
        "first_params": result.trials[0]["params"], "same": bool(np.array_equal(one.forecasts, two.forecasts))}""",
    "11_why_the_lstm_lost": """{
        "summary": summary, "ablations": ablation_medians, "scores": scores, "still_losing": still_losing,
        "victoria": victoria_by_ablation, "sunspots": sunspot_scores, "sunspot_lags": int(len(Ws)),
        "kept": bool(default.info["network_kept"]), "windows": int(plain.info["n_train_windows"]),
        "n_params": int(n_params), "baseline": default.info["baseline"], "plain_baseline": plain.info["baseline"]}""",
    "12_covariates_many_series_quantiles": """{
        "leads_ok": bool(leads_ok), "rmse_past": float(rmse_past), "rmse_future": float(rmse_future),
        "poison_unchanged": poison_unchanged, "victoria_ratios": victoria_ratios, "pinball_passed": pinball_passed,
        "stub_message": stub_message, "levels_sorted": levels_sorted, "coverage_live": float(coverage_live),
        "cross_free": cross_free, "series": sorted(reports), "mase": {k: float(r["mase"]) for k, r in reports.items()},
        "stocks": {k: [float(np.mean(v["mase"])), float(v["seconds"])] for k, v in stocks["mean"].items()},
        "scale": {k: [float(v["seconds"]), float(v["peak_mb"])] for k, v in scale["modes"].items()},
        "n_series": scale["n_series"], "rows": scale["rows"]}""",
}


@contextlib.contextmanager
def _environment(**values):
    """Set environment variables (the kernel inherits them) and restore them afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_RUNS = {}


def run_notebook(path):
    """Execute the notebook once per session in fast mode -> dict(errors, claims, seconds)."""
    if path in _RUNS:
        return _RUNS[path]
    stem = os.path.splitext(os.path.basename(path))[0]
    nb = nbformat.read(path, as_version=4)
    if stem in PROBES:
        nb.cells.append(nbformat.v4.new_code_cell(
            f"import json as _json\nprint({MARK!r} + _json.dumps({PROBES[stem]}, default=float))"))
    t = time.perf_counter()
    with _environment(MINILSTM_FAST="1", MPLBACKEND="module://matplotlib_inline.backend_inline"):
        try:
            nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                    resources={"metadata": {"path": TUTORIALS}}).execute()
        except nbclient.exceptions.CellExecutionError:
            pass                                       # the error is in the cell's outputs, reported below
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [re.sub(r"\x1b\[[0-9;]*m", "", f"{o.ename}: {o.evalue}\n" + "\n".join(o.get("traceback", [])[-3:]))
              for o in outputs if o.output_type == "error"]
    claims = None
    for o in outputs:
        if o.output_type == "stream" and MARK in o.text:
            claims = json.loads(o.text.split(MARK, 1)[1].strip().splitlines()[0])
    _RUNS[path] = {"errors": errors, "claims": claims, "seconds": time.perf_counter() - t}
    return _RUNS[path]


def test_there_are_eight_notebooks_stored_without_outputs():
    assert len(NOTEBOOKS) >= 8
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path
        assert nb.cells[0].cell_type == "markdown" and "At the end of this notebook you will" in nb.cells[0].source
        assert "Question" in nb.cells[-1].source
        assert os.path.splitext(os.path.basename(path))[0] in PROBES, f"{path}: no claims are checked"


def test_the_spec_is_said_at_its_first_mention():
    for path in NOTEBOOKS:
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
        first = text.lower().find("the spec")                         # the first mention, either case
        if first >= 0:
            assert "documentation of an LSTM forecasting API that minilstm implements" in text[first:first + 400], path


def test_no_notebook_uses_private_methods_of_the_model():
    for path in NOTEBOOKS:
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert "._nx(" not in code and "._forward(" not in code, path


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs(path):
    run = run_notebook(path)
    assert not run["errors"], "\n\n".join(run["errors"])
    print(f"{os.path.basename(path)}: {run['seconds']:.1f}s")


# ---- the claims of each notebook's text, on the numbers it computed (fast mode) -------------------

def claims_01(c):
    assert all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(c["hand"], c["minilstm"]))  # by hand == minilstm
    assert c["window_shape"] == [c["L"], c["H"]] == [30, 8]          # one window the model sees: (L, H)
    assert c["n_days"] == 365                                         # the year: one window per day
    assert 0.0 < c["gate_min"] and c["gate_max"] < 1.0               # gates are valves in (0, 1)
    assert c["candidate_absmax"] < 1.0                                # the candidate is a tanh


def claims_02(c):
    assert all(c["loop_equals_sequence"])                             # the sequence backward is a loop of steps
    assert c["fd_passed"] and c["fd_max_error"] < 1e-6                # BPTT matches finite differences
    flow = c["flow_at_t0"]
    assert flow["2.0"] > 100 * flow["-2.0"]                           # forget bias 2 keeps dc alive far longer


def claims_03(c):
    assert c["dtype_errors"]["float64"] < 1e-8 < 1e-4 < c["dtype_errors"]["float32"]   # why float64
    assert c["layer_passed"] and c["reference_passed"]
    assert not c["buggy_passed"] and c["buggy_failures"] == ["c"]     # the planted bug is named: the cell input
    assert not c["ones_buggy_passed"] and c["ones_reference_passed"]  # question 1: still caught with G = ones
    assert not c["swapped_random_passed"] and not c["swapped_ones_passed"]   # swapped gates are caught with both
    assert c["swapped_random_error"] > 0.1 and c["swapped_ones_error"] > 0.1
    assert max(c["directional_errors"]) < 1e-5


def claims_04(c):
    assert all("not implemented" in m for m in c["stub_messages"])    # the stubs report "not implemented yet"
    assert c["mistake"] == "dc_prev_missing_forget_gate"              # the typical mistake is named
    assert c["solutions_passed"] == [True] * 4                         # the reference solutions pass


def claims_05(c):
    assert 0.85 < c["hour_r2_persistence"] < 0.97                     # "persistence has an R2 of about 0.9"
    for h in ("hour", "day"):                                         # every baseline in the table
        assert {"model", "persistence", "seasonal_naive", "linear_ar"} <= set(c[h])
    assert c["table_rows"] == len(c["hour"]) + len(c["day"])        # the model and every baseline, both horizons
    assert c["forecast_len"] == 24
    assert c["day"]["persistence"] > c["hour"]["persistence"]         # a day ahead is harder for persistence
    assert c["day"]["seasonal_naive"] < c["day"]["persistence"]       # where yesterday's same hour helps
    assert len(set(c["seed_rmse"])) == 3 and c["seed_spread"] > 0     # three seeds, three different models


def claims_06(c):
    assert c["level_r2_persistence"] > 0.9                            # persistence already scores R2 > 0.9
    assert c["level_r2_persistence"] > c["level_r2"] and c["level_skill"] < 0   # the level model loses to it
    assert c["above"] > 0.5                                           # most test prices above the training range
    assert abs(c["zero_vs_persistence"] - (1 - 1 / math.sqrt(2))) < 0.03       # the 0.293 of a zero forecast
    assert c["skill"]["persistence"] > 0.2                            # the impressive-looking number...
    assert c["skill"]["zero"] < 0.05 and c["skill"]["mean"] < 0.05    # ...is no skill against zero or the mean
    assert abs(c["returns_r2"]) < 0.1 and 0.4 < c["direction"] < 0.6  # near-zero R2, hit rate near 50%
    assert c["mape"]["zero"] == pytest.approx(100.0)                  # MAPE is meaningless on returns
    assert min(c["mape"].values()) > 50 and max(c["mape"].values()) > 150


def claims_07(c):
    v = c["curves"]                                                   # [|dL/dh_0|, |dL/dh_49|]
    assert v["0.5,0.0"][0] < 1e-6 * v["0.5,0.0"][1]                   # small weights, bias 0: vanishes
    assert v["0.5,3.0"][0] > 0.1 * v["0.5,3.0"][1]                    # forget bias 3 keeps it alive
    assert v["12.0,3.0"][0] > 10 * v["12.0,3.0"][1]                   # large weights: grows back in time
    assert c["norm_before"] == pytest.approx(50.0) and c["norm_after"] == pytest.approx(1.0)
    assert c["direction"] == pytest.approx(c["direction_before"])     # clipping keeps the direction
    unscaled, zscore = c["issue1"]["None"], c["issue1"]["zscore"]
    assert unscaled["model"] > unscaled["persistence"]
    assert unscaled["model"] == pytest.approx(unscaled["zero"], rel=0.02)
    assert zscore["model"] < 0.5 * unscaled["model"]                  # with z-scores it learns at once
    assert c["unscaled_table"] == pytest.approx(unscaled["model"])    # Issue 4's first table is Issue 1's model
    sane = c["sane"]
    assert sane["model"] != pytest.approx(unscaled["model"])          # ...and the second is another model
    assert sane["model"] < sane["persistence"] and sane["model"] < sane["seasonal_naive"]
    tr, va = c["big_train"], c["big_val"]                             # overfitting: train falls, validation rises
    assert len(tr) == c["epochs"] and tr[-1] < 0.6 * tr[0]
    assert va[-1] > 1.1 * min(va) and va[-1] > va[0]
    assert len(c["small_val"]) < c["epochs"] and min(c["small_val"]) < va[-1]   # early stopping, better val


def claims_08(c):
    assert c["same_outputs"] and c["same_grads"]                       # the fast paths compute the same numbers
    assert {"numpy", "numba"} <= set(c["paths"])


def claims_09(c):
    D, H = c["D"], c["H"]
    assert c["n_lstm"] == 4 * H * (D + H + 1) and c["n_gru"] == 3 * H * (D + H + 2)     # the two formulas
    assert c["step_passed"] and c["layer_passed"] and c["bi_passed"]                   # backward checked
    assert c["causal"]                                     # a bidirectional window never reads later rows
    assert c["runs"] == {"LSTM": c["n_seeds"], "GRU": c["n_seeds"], "BiLSTM": c["n_seeds"]} and c["n_seeds"] >= 2
    assert c["params"]["GRU"] < c["params"]["LSTM"] < c["params"]["BiLSTM"]
    assert {"persistence", "linear_ar", "seasonal_naive"} <= set(c["baselines"])


def claims_10(c):
    assert max(c["week_rmse"]) > 1.05 * min(c["week_rmse"])          # two weeks, two different numbers
    assert len(c["folds"]) == c["weeks"] and c["origins"][0] == c["test"]
    assert c["origins"][1] == c["test"] + 168 * c["weeks"] - 1        # every hour of the weeks is an origin
    for i, (lo, fit_origin, first) in enumerate(c["folds"]):          # refit weekly on every earlier row
        assert lo == 0 and fit_origin == first == c["test"] + 168 * i
    cov, width = c["coverage"], c["width"]
    assert 0 <= cov["0.8"] <= cov["0.95"] <= 1 and width["0.8"] < width["0.95"]
    assert c["band_width"] == pytest.approx([width["0.8"], width["0.95"]])   # the plotted bands are those scored
    assert c["sweep_scores"] == sorted(c["sweep_scores"]) and c["best"] == c["first_params"]
    assert c["same"]                                                  # n_jobs=2 gives the numbers of n_jobs=1


def claims_11(c):
    s, a = c["summary"], c["ablations"]
    assert s["n"] == 13 and s["median_after"] < s["median_before"] and s["max_after"] < s["max_before"]
    assert s["beat_darts_after"] > s["beat_darts_before"]
    assert a["seasonal naive residual"] < a["old defaults"]           # a baseline read off the window helps
    assert a["today's defaults (ets residual)"] < a["seasonal naive residual"]   # smoothing does better still
    for extra in ("ets residual + window scaling", "ets residual + refit_full"):   # and they add nothing on top
        assert a[extra] >= a["today's defaults (ets residual)"] - 0.01
    assert a["ets residual, smoother not chosen again"] > a["today's defaults (ets residual)"]   # refit_baseline
    assert a["ets residual, smoother chosen by mean absolute error"] > a["today's defaults (ets residual)"]   # AICc
    assert c["windows"] < 30 and c["n_params"] > 10_000                # few windows, many weights
    assert c["baseline"] == "ets" and c["plain_baseline"] is None
    assert c["scores"]["minilstm default"] < 0.5 * c["scores"]["plain LSTM"]   # more than halves its error
    assert c["scores"]["minilstm default"] < c["scores"]["seasonal naive"]     # and beats last year's too
    if not c["kept"]:                                                 # the gate left the smoother alone
        assert c["scores"]["minilstm default"] == pytest.approx(c["scores"]["smoother alone"], rel=1e-5)
    assert s["worst_after"] in c["still_losing"] and "austres" in c["still_losing"]
    v = c["victoria"]                                                 # the long season: Victoria's week
    assert v["today's defaults"] < 1.25 < v["no long season"] and "victoria" not in c["still_losing"]
    assert v["today's defaults"] < v["no error correction"]                # the correction helps there too
    sun = c["sunspots"]                                               # the error correction follows the cycle
    assert c["sunspot_lags"] >= 1 and sun["with its error correction"] < 0.7 * sun["smoother alone"]


def claims_12(c):
    assert c["leads_ok"] and c["poison_unchanged"] and c["cross_free"] and c["levels_sorted"]
    assert c["rmse_future"] < 0.6 * c["rmse_past"]                    # u known ahead: most of the error gone
    assert len(c["victoria_ratios"]) >= 3 and max(c["victoria_ratios"]) < 1   # better on every seed, real data
    assert c["pinball_passed"] and "not implemented" in c["stub_message"]
    assert 0.0 <= c["coverage_live"] <= 1.0
    assert c["series"] == ["large", "mid", "small"] and all(m < 1.0 for m in c["mase"].values())
    g, same, smooth = (c["stocks"][k] for k in ("global", "per series, same network", "per series, defaults"))
    assert g[0] < same[0]                                  # one network over the four beats the same one per series
    assert smooth[0] < g[0]                                # and the smoother a series alone gets beats both
    assert c["n_series"] == 1000 and c["rows"] == 500
    copied, gathered = c["scale"]["windows copied once"], c["scale"]["gathered per batch"]
    assert gathered[1] < copied[1]                                    # batches gathered: a lower peak


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_claims(path):
    run = run_notebook(path)
    assert not run["errors"], "\n\n".join(run["errors"])
    assert run["claims"] is not None, "the claims cell printed nothing"
    check = globals().get(f"claims_{os.path.basename(path)[:2]}")
    assert check is not None, f"{path}: no claims are checked; add its PROBES entry and a claims_NN function"
    check(run["claims"])
