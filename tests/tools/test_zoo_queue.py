"""tools/zoo_queue.py: what each zoo entry still needs, and one tiny entry trained and scored for real."""
import json
import re

import pytest

from cgan.errors import RunError
from tests.tiny_runs import tiny_config
from tools import zoo_queue
from tools.zoo_queue import Entry, plan, run_entry


def write_summary(run, **fields):
    run.mkdir(parents=True, exist_ok=True)
    (run / "summary.json").write_text(json.dumps({"dataset": run.parent.name, **fields}))


@pytest.mark.slow
def test_dry_run_says_what_each_entry_still_needs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CGAN_RESULTS_DIR", str(tmp_path))
    by_epochs, by_time = Entry("configs/mnist/m1_v2.toml"), Entry("configs/mnist/m3_v1.toml", total_s=7200)
    assert plan(by_epochs) == "train to 20 epochs (now 0)" and plan(by_time).startswith("train for 7200 s more")
    write_summary(by_epochs.run, status="stopped", epochs_done=11)
    write_summary(by_time.run, status="stopped", epochs_done=3, wall_seconds=7150.0)  # within the slack: spent
    assert plan(by_epochs) == "train to 20 epochs (now 11)"
    assert plan(by_time) == "evaluate at 100 per class"
    write_summary(by_epochs.run, status="finished", epochs_done=20)
    (by_epochs.run / "metrics.json").write_text(json.dumps({"generator": {"epochs_done": 19}}))
    assert plan(by_epochs) == "evaluate at 100 per class"  # metrics.json scores an older generator
    (by_epochs.run / "metrics.json").write_text(json.dumps({"generator": {"epochs_done": 20}}))
    assert plan(by_epochs) == "done"
    assert zoo_queue.main(["--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [e.config for e in zoo_queue.QUEUE]
    assert lines[0] == "configs/mnist/m1_v2.toml: done"
    (by_epochs.run / "summary.json").write_text("{")  # a cut-off write is an error to see, not a run to retrain
    with pytest.raises(RunError, match="corrupt"):
        plan(by_epochs)


@pytest.mark.slow
def test_an_entry_trains_then_is_scored_then_is_done(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("CGAN_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("CGAN_DATA_DIR", str(data_dir))
    config = tiny_config(tmp_path)
    config.write_text(re.sub(r"(?m)^epochs = \d+", "epochs = 1", config.read_text()))
    entry = Entry(str(config))
    assert plan(entry) == "train to 1 epochs (now 0)"
    assert run_entry(entry) == 0
    summary = json.loads((entry.run / "summary.json").read_text())
    metrics = json.loads((entry.run / "metrics.json").read_text())
    assert summary["status"] == "finished" and metrics["samples"]["per_class"] == zoo_queue.EVAL_PER_CLASS["mnist"]
    assert plan(entry) == "done"
    scored_at = (entry.run / "metrics.json").stat().st_mtime_ns
    assert run_entry(entry) == 0 and (entry.run / "metrics.json").stat().st_mtime_ns == scored_at  # nothing redone
