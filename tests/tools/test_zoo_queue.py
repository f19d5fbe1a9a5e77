"""tools/zoo_queue.py: what each zoo entry still needs, and one tiny entry trained and scored for real."""
import json
import re

import pytest

from cgan.errors import RunError
from cgan.io import file_sha256
from cgan.runs import RunFolder
from tests.tiny_runs import tiny_config
from tools import zoo_queue
from tools.zoo_queue import Entry, plan, run_entry


def write_summary(run, **fields):
    run.mkdir(parents=True, exist_ok=True)
    (run / "summary.json").write_text(json.dumps({"dataset": run.parent.name, **fields}))


@pytest.mark.slow
def test_dry_run_says_what_each_entry_still_needs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CGAN_RESULTS_DIR", str(tmp_path))
    by_epochs, by_time = Entry("configs/mnist/m1_v2.toml"), Entry("configs/mnist/m1_v1.toml", total_s=7200)
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
    assert lines[0] == "configs/mnist/m1_v1.toml: train for 3650 s more of 10800 s (now 3 epochs)"
    assert zoo_queue.main(["--dry-run", "--only", "configs/mnist/m1_v1.toml"]) == 0
    assert capsys.readouterr().out == "configs/mnist/m1_v1.toml: train for 3650 s more of 10800 s (now 3 epochs)\n"
    with pytest.raises(SystemExit) as stop:
        zoo_queue.main(["--only", "configs/mnist/m9_v1.toml"])
    assert stop.value.code == 2 and "configs/mnist/m9_v1.toml is not in the queue" in capsys.readouterr().err
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


def finished_run(folder, epochs, fd, per_class=100):
    write_summary(folder, status="finished", epochs_done=epochs, epochs_planned=epochs)
    metrics = {"generator": {"epochs_done": epochs}, "samples": {"per_class": per_class},
               "generated": {"label_accuracy": 0.5, "fd": fd}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "history.csv").write_text("epoch\n" + "".join(f"{e}\n" for e in range(1, epochs + 1)))


def test_a_retrain_replaces_the_old_run_only_when_complete_and_keeps_its_records(tmp_path, monkeypatch):
    monkeypatch.setenv("CGAN_RESULTS_DIR", str(tmp_path))
    entry = Entry("configs/mnist/m1_v2.toml", retrain=True)  # m1: no compact generator.onnx to write
    home = tmp_path / "mnist" / "m1_v2"
    finished_run(home, epochs=13, fd=9.0)
    (home / "plots").mkdir()
    (home / "plots" / "loss_per_epoch.png").write_bytes(b"png")
    assert entry.run == tmp_path / ".staging" / "mnist" / "m1_v2"  # the old run is not touched while it trains
    assert plan(entry).startswith("train to 20 epochs (now 0) in .staging/mnist/m1_v2")
    finished_run(entry.run, epochs=20, fd=4.0)
    assert plan(entry) == "replace mnist/m1_v2 with .staging/mnist/m1_v2"
    old_summary = (home / "summary.json").read_text()
    assert run_entry(entry) == 0
    assert json.loads((home / "summary.json").read_text())["epochs_done"] == 20
    assert (home / "previous" / "summary.json").read_text() == old_summary
    assert sorted(p.name for p in (home / "previous").iterdir()) == ["history.csv", "metrics.json", "summary.json"]
    assert not (home / "plots").exists() and not entry.staging.exists() and not entry.parked.exists()
    assert entry.run == home and plan(entry) == "done"
    RunFolder(home).check_layout()  # previous/ is cgan's own: training and --overwrite accept the folder


def test_a_replacement_stopped_halfway_is_finished_by_the_next_call(tmp_path, monkeypatch):
    monkeypatch.setenv("CGAN_RESULTS_DIR", str(tmp_path))
    entry = Entry("configs/mnist/m1_v2.toml", retrain=True)
    finished_run(entry.staging, epochs=20, fd=4.0)
    finished_run(entry.parked, epochs=13, fd=9.0)  # stopped after the old run was parked, before the move
    (entry.staging / "previous").mkdir()
    (entry.staging / "previous" / "summary.json").write_text((entry.parked / "summary.json").read_text())
    assert run_entry(entry) == 0
    assert json.loads((entry.home / "previous" / "summary.json").read_text())["epochs_done"] == 13
    assert not entry.parked.exists() and not entry.staging.exists()
    finished_run(entry.parked, epochs=13, fd=9.0)  # stopped after the move, before the old folder went
    assert run_entry(entry) == 0 and not entry.parked.exists()


def test_large_generators_are_compacted_before_they_count_as_done(tmp_path, monkeypatch):
    monkeypatch.setenv("CGAN_RESULTS_DIR", str(tmp_path))
    entry = Entry("configs/cifar10/m5_v2.toml", total_s=7200)
    finished_run(entry.run, epochs=3, fd=50.0, per_class=1000)
    (entry.run / "generator.keras").write_bytes(b"weights")
    assert entry.compact and plan(entry) == "write its compact generator.onnx"
    (entry.run / "generator.onnx").write_bytes(b"onnx")
    (entry.run / "generator.onnx.json").write_text(json.dumps({"keras_sha256": file_sha256(entry.run / "generator.keras")}))
    assert plan(entry) == "done"
    (entry.run / "generator.keras").write_bytes(b"retrained weights")  # the ONNX file is now stale
    assert plan(entry) == "write its compact generator.onnx"
    (entry.run / "generator.keras").unlink()  # a fresh clone: git carries the ONNX file alone
    assert plan(entry) == "done"
