"""No data loss: --overwrite deletes only run folders, writes are durable, configs are written back exactly."""
import os
import stat
import tomllib
from pathlib import Path

import pytest

from cgan.config import dump_config, load_config, parse_config
from cgan.errors import RunError
from cgan.io import atomic_write
from cgan.runs import RunFolder, results_root

REPO = Path(__file__).resolve().parents[1]
# A dead proxy makes the keras.datasets fallback fail fast, also on machines with internet.
OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}


def _fake_run(folder: Path) -> Path:
    """The files a finished run (and a kill during its last save) leaves behind; contents do not matter here."""
    for name in ("config.toml", "summary.json", "history.csv", "iterations.csv", "metrics.json", "generator.keras",
                 "generator.h5", "generator.onnx", "evolution.gif", "plots/loss_per_epoch.png",
                 "evolution/epoch_001.png", "checkpoint/state.json", "checkpoint/epoch_0001/generator.weights.h5",
                 "checkpoint/epoch_0001/optimizers.npz", "tensorboard/events.out.tfevents.1796092632.vm",
                 ".summary.k2j3h4.json", "plots/.loss_per_epoch.a8d_x.png"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x")
    return folder


def _train(cli, out, data_dir):
    # KERAS_HOME: no cached keras.datasets download can stand in for missing data either.
    return cli("train", "--config", "configs/mnist/m1_v1.toml", "--epochs", 1, "--subset", 100,
               "--eval-samples", 10, "--out", out, "--data-dir", data_dir, "--overwrite",
               env={**OFFLINE, "KERAS_HOME": str(Path(out).parent / "keras_home")})


def _one_line(result, message):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("marker", [None, "summary.json"])
def test_overwrite_refuses_a_folder_that_is_not_a_run(marker, tmp_path, cli, data_dir):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    if marker:  # even next to a run's file, a foreign file means the folder is not only a run
        (folder / marker).write_text("{}")
    _one_line(_train(cli, folder, data_dir), "not a cgan run folder (it holds thesis.tex)")
    assert (folder / "thesis.tex").read_text() == "years of work"
    assert not marker or (folder / marker).is_file()


@pytest.mark.slow
def test_overwrite_deletes_nothing_when_the_data_does_not_load(tmp_path, cli):
    run = _fake_run(tmp_path / "run")
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    _one_line(_train(cli, run, tmp_path / "no_data"), "no mnist data")
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before


def test_clear_deletes_a_run_and_only_its_files(tmp_path):
    run = RunFolder(_fake_run(tmp_path / "run"))
    run.clear()
    assert run.path.is_dir() and not any(run.path.iterdir())
    for foreign in ("notes.txt", "plots/mine.pdf", "checkpoint/readme", ".git/HEAD", ".DS_Store"):
        _fake_run(run.path)
        (run.path / foreign).parent.mkdir(parents=True, exist_ok=True)
        (run.path / foreign).write_text("keep me")
        with pytest.raises(RunError, match="not a cgan run folder"):
            run.clear()
        assert (run.path / foreign).is_file() and run.summary.is_file()
        (run.path / foreign).unlink()
    bare = RunFolder(tmp_path / "bare")  # run files but none of summary.json, config.toml, history.csv
    (bare.path / "plots").mkdir(parents=True)
    (bare.path / "plots" / "loss_per_epoch.png").write_text("x")
    with pytest.raises(RunError, match="has no summary.json"):
        bare.run_files()
    assert RunFolder(tmp_path / "missing").run_files() == []


def test_committed_runs_are_recognised_as_runs():
    """RUN_FILE_PATTERNS must list what real runs hold, or --overwrite would refuse them."""
    runs = sorted(p.parent for p in results_root().glob("*/*/summary.json"))
    assert runs
    for run in runs:
        assert RunFolder(run).run_files(), run


def test_atomic_write_fsyncs_the_file_then_its_folder(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def record(fd):
        info = os.fstat(fd)
        synced.append(("folder" if stat.S_ISDIR(info.st_mode) else "file", info.st_ino, target.exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", record)
    target = tmp_path / "sub" / "summary.json"
    atomic_write(target, lambda tmp: Path(tmp).write_text("{}"))
    assert [(kind, exists) for kind, _, exists in synced] == [("file", False), ("folder", True)]
    assert synced[0][1] == target.stat().st_ino  # the data that was renamed, synced before the rename
    assert synced[1][1] == target.parent.stat().st_ino


def _committed_configs():
    return sorted([*REPO.glob("configs/**/*.toml"), *REPO.glob("benchmarks/**/*.toml")])


def test_every_committed_config_round_trips():
    configs = _committed_configs()
    assert len(configs) > 20, configs
    for path in configs:
        cfg = load_config(path)
        assert parse_config(tomllib.loads(dump_config(cfg)), source=str(path)) == cfg, path


def test_any_description_round_trips(tmp_path):
    cfg = load_config(REPO / "configs/mnist/m1_v1.toml").with_overrides(
        description='Two lines:\nthe "second" one has \\backslashes\\, a tab\tand """triple quotes"""\n')
    (tmp_path / "config.toml").write_text(dump_config(cfg))
    assert load_config(tmp_path / "config.toml") == cfg
