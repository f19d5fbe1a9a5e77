"""cgan.reports.findings: the original project's findings checked on run folders (synthetic ones here, no training)."""
import json
from pathlib import Path

import pandas as pd
import pytest

from cgan.reports import findings
from cgan.reports.findings import FINDINGS, NOTEBOOK_FINDINGS, d_overfitting, report
from cgan.runs import RESULTS_ENV, RunFolder
from markdown_tables import tables

REPO = Path(__file__).resolve().parents[2]


def history(gaps, test_accuracy=0.70, quality=None) -> pd.DataFrame:
    """One row per epoch with train − test D accuracy = gaps[i]; quality: {column: value} on every epoch."""
    rows = [{"epoch": i + 1, "train_d_accuracy": test_accuracy + gap, "test_d_accuracy": test_accuracy,
             "train_d_f1": 0.7, "test_d_f1": 0.7, **(quality or {})} for i, gap in enumerate(gaps)]
    return pd.DataFrame(rows)


def make_run(root: Path, name: str, frame: pd.DataFrame, metrics=None, per_class=20, classes=100) -> RunFolder:
    run = RunFolder(root / name)
    run.path.mkdir(parents=True)
    frame.to_csv(run.history, index=False)
    run.summary.write_text(json.dumps({"status": "finished", "epochs_done": len(frame), "num_classes": classes}))
    run.config.write_text(f"quality_every = 1\nquality_per_class = {per_class}\n")
    if metrics is not None:
        (run.path / "metrics.json").write_text(json.dumps(metrics))
    return run


def metrics(generated, label_accuracy, fd, coverage) -> dict:
    return {"samples": {"generated": generated},
            "generated": {"label_accuracy": label_accuracy, "fd": fd, "prdc": {"coverage": coverage, "n": generated}}}


# -- onset of D overfitting -------------------------------------------------------------------------------
def test_a_gap_that_crosses_once_and_stays_has_its_onset_there():
    found = d_overfitting(history([0.0, 0.01, 0.02, 0.06, 0.08, 0.07, 0.09, 0.10, 0.12, 0.11]))
    assert (found.onset, found.epochs) == (4, 10)
    assert found.last_gap == pytest.approx(0.11) and found.max_gap == pytest.approx(0.12) and found.max_gap_epoch == 9


def test_a_spike_that_falls_back_is_not_an_onset():
    assert d_overfitting(history([0.0, 0.09, 0.01, 0.02, 0.0, 0.01, 0.03, 0.02, 0.01, 0.02])).onset is None
    # an early spike does not move the onset of the lasting gap either
    assert d_overfitting(history([0.0, 0.09, 0.01, 0.02, 0.0, 0.01, 0.07, 0.08, 0.09, 0.10])).onset == 7


def test_a_gap_that_never_crosses_has_no_onset():
    found = d_overfitting(history([0.01] * 12))
    assert found.onset is None and found.epochs == 12
    assert d_overfitting(history([0.05] * 12)).onset is None  # at the threshold is not above it


def test_the_overfitting_verdicts(tmp_path):
    early = make_run(tmp_path, "cifar100/m3_v1", history([0.0, 0.02, 0.06] + [0.08] * 9))
    late = make_run(tmp_path, "cifar100/m4_v1", history([0.0] * 8 + [0.07] * 4))
    never = make_run(tmp_path, "cifar100/m5_v1", history([0.0] * 11 + [0.2]))  # the last epoch only: not "stays"
    assert findings.overfitting_row(early, (1, 5), "confirmed later")[1] == "confirmed: from epoch 3"
    assert findings.overfitting_row(late, (1, 5), "confirmed later")[1] == \
        "confirmed later: from epoch 9 (not within 5)"
    assert findings.overfitting_row(late, (3, 7), "not confirmed")[1] == "not confirmed: from epoch 9 (not within 7)"
    assert findings.overfitting_row(never, (1, 5), "confirmed later")[1] == "not seen in 12 epochs"
    measured = findings.overfitting_row(early, (1, 5), "x")[0]
    assert "+0.080" in measured and "from epoch 3 on" in measured and "12 epochs" in measured


# -- runs not trained yet --------------------------------------------------------------------------------
def test_a_missing_run_and_a_short_run_are_not_yet_measured(tmp_path):
    short = make_run(tmp_path, "cifar10/m5_v3", history([0.1, 0.1, 0.1]))
    assert findings.overfitting_row(short, (3, 7), "x") == (
        "–", "not yet measured: cifar10/m5_v3 has only 3 epochs (needs 4)")
    missing = RunFolder(tmp_path / "cifar10/m5_v4")
    assert findings.overfitting_row(missing, (3, 7), "x") == (
        "–", "not yet measured: cifar10/m5_v4 has not been trained")
    text = report(("cifar10", "m5"), root=tmp_path)
    assert "cifar10/m5_v3 has only 3 epochs" in text and "cifar10/m5_v4 has not been trained (" in text
    assert "confirmed" not in text


# -- m3 vs m4 -------------------------------------------------------------------------------------------------
def test_m3_vs_m4_uses_metrics_json_at_equal_n(tmp_path):
    quiet = {"quality_label_accuracy": 0.5, "quality_fd": 1.0, "quality_coverage": 0.9}  # must not be used
    m3 = make_run(tmp_path, "cifar100/m3_v1", history([0.0] * 10, 0.70, quiet), metrics(10000, 0.10, 50.0, 0.30))
    m4 = make_run(tmp_path, "cifar100/m4_v1", history([0.0] * 10, 0.71, quiet), metrics(10000, 0.15, 40.0, 0.40))
    measured, verdict = findings.comparison_row(m3, m4)
    assert verdict == "confirmed: m4_v1 better on every score at similar D metrics"
    assert "metrics.json, 10000 generated images each" in measured and "FD 50 vs 40" in measured
    assert "label accuracy 0.1 vs 0.15" in measured and "0.700 vs 0.710" in measured
    # D metrics that are not similar make it only partly confirmed
    m4.history.write_text(history([0.0] * 10, 0.80).to_csv(index=False))
    assert findings.comparison_row(m3, m4)[1].startswith("partly: m4_v1 better on every score, but D's metrics")


def test_m3_vs_m4_falls_back_to_history_when_n_differs(tmp_path):
    m3 = make_run(tmp_path, "cifar100/m3_v1", history([0.0] * 12, quality={
        "quality_label_accuracy": 0.20, "quality_fd": 30.0, "quality_coverage": 0.50}), metrics(10000, 0.9, 1.0, 0.9))
    m4 = make_run(tmp_path, "cifar100/m4_v1", history([0.0] * 12, quality={
        "quality_label_accuracy": 0.10, "quality_fd": 29.5, "quality_coverage": 0.60}), metrics(2000, 0.1, 99.0, 0.1))
    m4_frame = pd.read_csv(m4.history)
    m4_frame.loc[11, ["quality_label_accuracy", "quality_fd", "quality_coverage"]] = None  # epoch 12 unscored
    m4_frame.to_csv(m4.history, index=False)
    measured, verdict = findings.comparison_row(m3, m4)
    assert "metrics.json at different N (10000 vs 2000), so history.csv, last scored epochs 12 and 11" in measured
    assert "20 images per class" in measured and "coverage 0.5 vs 0.6" in measured
    # 20 per class x 100 classes: a tie is within 2·sqrt(0.5/2000) ≈ 0.032; FD within 5 % is a tie too
    assert verdict == "partly: m4_v1 better on coverage, not on label accuracy, FD"


def test_m3_vs_m4_without_quality_scores_or_runs_is_not_yet_measured(tmp_path):
    assert report(["m4_looks_better"], root=tmp_path).count("not yet measured") == 1
    assert "cifar100/m3_v1 has not been trained; cifar100/m4_v1 has not been trained" in report(
        ["m4_looks_better"], root=tmp_path)
    make_run(tmp_path, "cifar100/m3_v1", history([0.0] * 10))
    make_run(tmp_path, "cifar100/m4_v1", history([0.0] * 10))
    assert "not yet measured: cifar100/m3_v1 has no quality scores" in report(["m4_looks_better"], root=tmp_path)


# -- the report and the notebooks ---------------------------------------------------------------------------
def test_report_renders_a_markdown_table_with_the_numbers(tmp_path, monkeypatch):
    make_run(tmp_path, "cifar100/m3_v1", history([0.0, 0.02, 0.06] + [0.08] * 9))
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))  # root=None reads $CGAN_RESULTS_DIR
    text = report(("cifar100", "m5"))
    (table,) = tables(text)  # 4 cells in every row: tables() fails on a row of another width
    assert text.startswith("|")  # the table comes first, the note after it
    assert list(table.columns) == ["finding", "run(s)", "what we measured", "verdict"] and len(table) == 5
    rows = table.to_dict("records")
    assert rows[0]["finding"] == FINDINGS["cifar100_d_overfits"] and rows[0]["run(s)"] == "cifar100/m3_v1"
    assert "+0.080" in rows[0]["what we measured"] and rows[0]["verdict"] == "confirmed: from epoch 3"
    # the CPU queue trains m4
    assert rows[1]["verdict"].endswith("not yet measured: cifar100/m4_v1 has not been trained")
    assert "cifar100/m5_v1 has not been trained (its run is queued)" in rows[2]["verdict"]
    assert rows[3]["finding"] == FINDINGS["m5_represents_nothing"] and rows[3]["run(s)"] == \
        "cifar100/m3_v1 vs cifar100/m5_v1"
    assert str(tmp_path) in text.splitlines()[-1]
    assert report(("mnist", "fast"), root=tmp_path).startswith("No findings")
    with pytest.raises(KeyError, match="unknown finding"):
        report(["no_such_finding"], root=tmp_path)


def test_every_notebook_with_findings_shows_them_before_the_widget():
    """Read as plain JSON (nbformat takes seconds to import); test_notebooks checks they match tools/build_notebooks.py."""
    notebooks = {tuple(reversed(path.stem.removeprefix("cgan_train_").split("_"))): json.loads(path.read_text())
                 for path in (REPO / "notebooks").glob("cgan_train_*.ipynb")}
    assert set(NOTEBOOK_FINDINGS) <= set(notebooks)
    assert {key for keys in NOTEBOOK_FINDINGS.values() for key in keys} == set(FINDINGS)
    for (dataset, model), nb in notebooks.items():
        code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
        shown = [i for i, source in enumerate(code) if "from cgan.reports.findings import report" in source]
        if (dataset, model) in NOTEBOOK_FINDINGS:
            assert shown == [len(code) - 2], model  # just before the widget, which stays last
            assert f'report(("{dataset}", "{model}"))' in code[shown[0]]
            text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
            assert all(FINDINGS[key] in text for key in NOTEBOOK_FINDINGS[(dataset, model)])
        else:
            assert not shown, (dataset, model)


# -- m1 v1: D's performance after epoch 20 ----------------------------------------------------------------
def d_curve(accuracy_by_epoch, f1_shift=0.0) -> pd.DataFrame:
    return pd.DataFrame([{"epoch": e, "train_d_accuracy": a, "test_d_accuracy": a, "train_d_f1": a + f1_shift,
                          "test_d_f1": a + f1_shift} for e, a in enumerate(accuracy_by_epoch, start=1)])


def test_d_falling_after_epoch_20_is_measured_against_the_5_epochs_before(tmp_path):
    falls = make_run(tmp_path, "mnist/falls", d_curve([0.70] * 20 + [0.65] * 10), classes=10)
    measured, verdict = findings.d_falls_row(falls)
    assert verdict == "confirmed: both fall by more than 0.02"
    assert "test D accuracy mean 0.700 over epochs 16–20, 0.650 over 21–30 (Δ -0.050)" in measured
    flat = make_run(tmp_path, "mnist/flat", d_curve([0.70] * 20 + [0.69] * 10), classes=10)
    assert findings.d_falls_row(flat)[1] == "not confirmed: neither falls by more than 0.02 after epoch 20"
    frame = d_curve([0.70] * 20 + [0.65] * 10)
    frame.loc[frame["epoch"] > 20, "test_d_f1"] = 0.70  # F1 holds while accuracy falls
    assert findings.d_falls_row(make_run(tmp_path, "mnist/half", frame, classes=10))[1] == \
        "partly: only accuracy falls by more than 0.02"
    short = make_run(tmp_path, "mnist/short", d_curve([0.70] * 22), classes=10)
    assert findings.d_falls_row(short) == ("–", "not yet measured: mnist/short has 22 epochs (needs 25: 5 after "
                                                "epoch 20 to compare with the 5 before)")


def test_m5_representing_nothing_adds_label_accuracy_against_chance(tmp_path):
    m3 = make_run(tmp_path, "cifar100/m3_v1", history([0.0] * 10, 0.70), metrics(10000, 0.010, 50.0, 0.30))
    m5 = make_run(tmp_path, "cifar100/m5_v1", history([0.0] * 10, 0.71), metrics(10000, 0.012, 40.0, 0.40))
    measured, verdict = findings.represents_nothing_row(m3, m5)
    assert verdict.startswith("partly: m5_v1 better on FD, coverage") and \
        verdict.endswith("and they represent nothing: label accuracy under 3× chance")
    assert "m5_v1's label accuracy 0.012 against chance 0.010" in measured
    (m5.path / "metrics.json").write_text(json.dumps(metrics(10000, 0.2, 40.0, 0.40)))
    assert findings.represents_nothing_row(m3, m5)[1].endswith("but they do represent their class more often "
                                                               "than 3× chance")
    assert findings.rows("m5_represents_nothing", tmp_path)[1][3].startswith("not yet measured: cifar100/m4_v1")
