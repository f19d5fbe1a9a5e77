"""The run folder `cgan train` owns: what is cgan's, one process at a time, and what a kill or a full disk leaves.

docs/reliability.md states the promises these tests hold the code to.
"""
import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cgan import runs
from cgan.cli import main
from cgan.config import dump_config, load_config
from cgan.errors import RunError
from cgan.runs import RunFolder, results_root
from cgan.training import checkpoint
from cgan.training.checkpoint import load_checkpoint, save_bytes, save_checkpoint
from cgan.training.train import _prepare_folder, build_gan, train
from tiny_runs import REPO, tiny_config

# The module fixture is expensive: under pytest-xdist (make test) these tests share one worker.
pytestmark = pytest.mark.xdist_group("test_runs")

THESIS = "years of work"


class Killed(BaseException):
    """Stands in for SIGKILL: nothing in cgan catches it, so the folder is left as a kill leaves it."""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny MNIST config and an untrained GAN built from it (no data needed)."""
    cfg = load_config(tiny_config(tmp_path_factory.mktemp("config")))
    return cfg, build_gan(cfg, (28, 28, 1), 10)


def _fake_run(folder, *names):
    for name in ("config.toml", "summary.json", "history.csv", "generator.keras", *names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("{}" if name.endswith(".json") else "x")
    return folder


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _error_lines(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


# -- what is cgan's ---------------------------------------------------------------------------------------------

def _run_with_staged_save(folder):
    return RunFolder(_fake_run(folder, "checkpoint/epoch_0002/optimizers.npz",
                               "checkpoint/epoch_0002/staged/plots/loss_per_epoch.png",
                               "checkpoint/epoch_0002/.optimizers.k3j_9x2a.npz", ".cgan.lock"))


@pytest.mark.slow
@pytest.mark.parametrize("foreign", ["checkpoint/epoch_backup/thesis.pdf", "plots/my_figure.png",
                                     "checkpoint/epoch_0002/notes.txt"])
def test_a_foreign_file_where_cgan_writes_is_never_deleted(foreign, tmp_path, tiny):
    cfg = tiny[0].with_overrides(epochs=1)  # never trained, unless the folder were wrongly accepted
    run = RunFolder(_fake_run(tmp_path / "run", "checkpoint/state.json", "checkpoint/epoch_0002/optimizers.npz"))
    (run.path / foreign).parent.mkdir(parents=True, exist_ok=True)
    (run.path / foreign).write_text(THESIS)
    before = _listing(run.path)
    with pytest.raises(RunError, match="not a cgan run folder"):
        train(cfg, out=run.path, overwrite=True)
    with pytest.raises(RunError, match="cgan writes where"):  # nor trained around: cgan deletes there
        train(cfg, out=run.path)
    assert _listing(run.path) == before and (run.path / foreign).read_text() == THESIS


def test_only_what_cgan_writes_is_a_run_folder(tmp_path):
    run = _run_with_staged_save(tmp_path / "run")
    assert run.path / ".cgan.lock" not in run.run_files()  # recognised, never deleted: it is the lock
    run.check_layout()
    (run.path / "notes.txt").write_text(THESIS)  # beside a run's files, a foreign file is left alone...
    run.check_layout()
    with pytest.raises(RunError, match=r"not a cgan run folder \(it holds notes.txt\)"):
        run.run_files()  # ...but --overwrite will not delete the folder around it


def test_committed_runs_and_every_plot_are_recognised(tmp_path):
    from cgan import plots

    for run in sorted(p.parent for p in results_root().glob("*/*/summary.json")):
        RunFolder(run).check_layout()
    history = pd.DataFrame({"epoch": [1, 2], "train_seconds": [1.0, 1.0], "quality_fd": [3.0, 2.0],
                            **{c: [0.5, 0.4] for c in ("d_loss", "g_loss", "val_d_loss", "val_g_loss",
                                                       "quality_label_accuracy", "quality_fd_floor")}})
    iterations = pd.DataFrame({"epoch": [1, 2], "step": [1, 1], "d_loss": [0.7, 0.6], "g_loss": [0.7, 0.8]})
    plots.plot_history(history, iterations, tmp_path / "plots")
    written = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert len(written) == 5 and all(runs.is_run_path(f"plots/{name}", folder=False) for name in written), written


def test_a_checkpoint_deletes_only_its_own_files(tmp_path, tiny):
    _, gan = tiny
    run = RunFolder(tmp_path / "run")
    save_checkpoint(run, gan, 1)
    for foreign in ("checkpoint/epoch_backup/thesis.pdf", "checkpoint/epoch_0001/thesis.pdf"):
        (run.path / foreign).parent.mkdir(parents=True, exist_ok=True)
        (run.path / foreign).write_text(THESIS)
    save_checkpoint(run, gan, 2)
    assert (run.path / "checkpoint/epoch_backup/thesis.pdf").read_text() == THESIS
    assert sorted(p.name for p in (run.path / "checkpoint/epoch_0001").iterdir()) == ["thesis.pdf"]
    assert run.checkpoint_epoch() == 2 and load_checkpoint(run, build_gan(tiny[0], (28, 28, 1), 10)) == 2


@pytest.mark.slow
def test_a_huge_folder_that_is_no_run_is_refused_at_once(monkeypatch, tiny):
    cfg, _ = tiny

    def no_training(*args, **kwargs):
        raise AssertionError("cgan was about to train into /")

    monkeypatch.setattr("cgan.training.train.load_dataset", no_training)
    for overwrite in (True, False):
        start = time.perf_counter()
        with pytest.raises(RunError, match="not a cgan run folder"):
            train(cfg, out="/", overwrite=overwrite)
        assert time.perf_counter() - start < 2, "it walked the file system"
    assert not os.path.exists("/.cgan.lock") and not os.path.exists("/config.toml")


# -- one process at a time --------------------------------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from cgan.runs import RunFolder
with RunFolder(sys.argv[1]).lock():
    print("locked", flush=True)
    time.sleep(600)
"""


@pytest.mark.slow
def test_one_process_owns_a_run_folder(tmp_path, tiny, data_dir, capsys):
    folder = tmp_path / "new" / "run"
    with RunFolder(folder).lock():  # a second holder, even in this process, is refused with this one's PID
        with pytest.raises(RunError, match=rf"in use by another cgan process \(PID {os.getpid()}\)"):
            with RunFolder(folder).lock():
                pass
    assert not (tmp_path / "new").exists(), "a folder made only for the lock goes with it"

    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(folder)], cwd=REPO, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code = main(["train", "--config", tiny_config(tmp_path), "--epochs", 1, "--out", folder,
                     "--data-dir", data_dir])
        lines = _error_lines(capsys)
        assert code == 2 and len(lines) == 1 and f"(PID {holder.pid})" in lines[0], lines
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (folder / ".cgan.lock").is_file()  # a killed holder leaves its file behind, but not its lock
    with RunFolder(folder).lock():
        assert (folder / ".cgan.lock").read_text().strip() == str(os.getpid())
    assert not (folder / ".cgan.lock").exists()


# -- nothing deleted before everything is checked ---------------------------------------------------------------

@pytest.mark.slow
def test_overwrite_deletes_nothing_when_the_classifier_is_missing(tmp_path, data_dir, monkeypatch, capsys):
    from cgan.errors import EvaluationError

    def missing(dataset, *args, **kwargs):
        raise EvaluationError(f"{dataset}.weights.h5 missing; retrain with: cgan classifier train")

    monkeypatch.setattr("cgan.evaluation.classifier.load_classifier", missing)
    run = _fake_run(tmp_path / "run", "plots/loss_per_epoch.png", "checkpoint/state.json")
    before = _listing(run)
    code = main(["train", "--config", tiny_config(tmp_path), "--quality-every", 1, "--overwrite", "--out", run,
                 "--data-dir", data_dir])
    lines = _error_lines(capsys)
    assert code == 2 and len(lines) == 1 and "mnist.weights.h5 missing" in lines[0], lines
    assert _listing(run) == before


@pytest.mark.slow
@pytest.mark.parametrize("name, content, why", [
    ("history.csv", "epoch,d_loss\n1,0.5\n1,0.5,0.7,0.1\n", "Expected 2 fields"),
    ("history.csv", "epoch,d_loss\none,0.5\n", "not a whole number"),
    ("history.csv", "epoch,d_loss\n2,0.5\n", "no row for epoch 1"),
    ("iterations.csv", b"\xff\xfe\x00garbage", "codec"),
    ("iterations.csv", "step,d_loss\n1,0.5\n", "no epoch column"),
])
def test_a_corrupt_log_is_named_on_resume(name, content, why, tmp_path, tiny, data_dir):
    cfg, gan = tiny
    run = RunFolder(tmp_path / "run")
    save_checkpoint(run, gan, 1)
    run.config.write_text(dump_config(cfg))
    run.history.write_text("epoch,d_loss\n1,0.5\n")
    run.iterations.write_text("epoch,step,d_loss,g_loss\n1,1,0.5,0.6\n")
    path = run.path / name
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    with pytest.raises(RunError, match=rf"cannot resume from {re.escape(str(path))}: it is corrupt \(.*{why}"):
        train(cfg.with_overrides(epochs=2), out=run.path, data_dir=data_dir, verbose=0, tensorboard=False)


# -- a full disk, a kill: one consistent epoch, and the same command again --------------------------------------

def test_free_space_is_checked_before_a_save(tmp_path, tiny, monkeypatch):
    _, gan = tiny
    run = RunFolder(tmp_path)
    weights = sum(np.asarray(w).nbytes for w in gan.generator.weights + gan.discriminator.weights)
    assert save_bytes(run, gan) > weights
    monkeypatch.setattr("shutil.disk_usage", lambda path: SimpleNamespace(total=2 * weights, used=weights,
                                                                           free=weights))
    with pytest.raises(OSError, match="No space left on device") as full:
        run.check_free_space(save_bytes(run, gan))
    assert full.value.errno == errno.ENOSPC


def _generator_matches_checkpoint(run, cfg):
    from cgan.generate import load_generator

    saved = load_generator(run.generator_keras)
    gan = build_gan(cfg, (28, 28, 1), 10)
    load_checkpoint(run, gan)
    return all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(saved.weights, gan.sampler.weights))


@pytest.mark.slow
def test_a_full_disk_while_saving_keeps_one_consistent_epoch(tmp_path, data_dir, monkeypatch, capsys):
    """The disk fills up while epoch 2's checkpoint is written, after its history and generator were."""
    atomic_write = checkpoint.atomic_write

    def disk_full_at_epoch_2(path, write):
        if path.name == "optimizers.npz" and path.parent.name == "epoch_0002":
            raise OSError(errno.ENOSPC, "No space left on device")
        atomic_write(path, write)

    monkeypatch.setattr(checkpoint, "atomic_write", disk_full_at_epoch_2)
    out = tmp_path / "run"
    args = ["train", "--config", tiny_config(tmp_path), "--epochs", 2, "--out", out, "--data-dir", data_dir,
            "--no-progress", "--no-tensorboard"]
    code = main(args)
    lines = _error_lines(capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "cannot save epoch 2: No space left on device" in lines[0] and "checkpoint of epoch 1 is kept" in lines[0]
    assert "run the same command again" in lines[0]
    run = RunFolder(out)
    summary = json.loads(run.summary.read_text())
    assert summary["epochs_done"] == 1 and summary["status"] == "interrupted"
    assert pd.read_csv(run.history)["epoch"].tolist() == [1]
    assert set(pd.read_csv(run.iterations)["epoch"]) == {1}
    assert [p.name for p in run.evolution.iterdir()] == ["epoch_001.png"]
    assert [p.name for p in run.checkpoint.glob("epoch_*")] == ["epoch_0001"]  # the failed save's files are gone
    cfg = load_config(run.config)
    assert _generator_matches_checkpoint(run, cfg), "generator.keras must be epoch 1's, like everything else"
    assert _prepare_folder(run, cfg, overwrite=False) == 1  # the same command resumes after epoch 1


@pytest.mark.slow
def test_a_kill_at_any_save_then_the_same_command_works(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("CGAN_DATA_DIR", str(data_dir))
    cfg = load_config(tiny_config(tmp_path)).with_overrides(epochs=2)
    out = tmp_path / "run"
    same_command = dict(cfg=cfg, out=out, verbose=0, tensorboard=False)

    # 1. Killed as the first epoch commits: nothing finished, so the same command starts again.
    write_json = runs.write_json

    def killed_at_commit(path, data):
        if path.name == "state.json":
            raise Killed
        write_json(path, data)

    monkeypatch.setattr(runs, "write_json", killed_at_commit)
    with pytest.raises(Killed):
        train(**same_command)
    monkeypatch.setattr(runs, "write_json", write_json)

    # 2. Killed while epoch 2, committed, is being put in place: the next start finishes that.
    replace, published = os.replace, []

    def killed_while_publishing(src, dst):
        if f"epoch_0002{os.sep}staged" in str(src) and not os.path.basename(src).startswith("."):  # not a temp
            if len(published) == 2:
                raise Killed
            published.append(dst)
        replace(src, dst)

    monkeypatch.setattr(os, "replace", killed_while_publishing)
    with pytest.raises(Killed):
        train(**same_command)
    monkeypatch.setattr(os, "replace", replace)
    assert RunFolder(out).checkpoint_epoch() == 2 and len(published) == 2

    # 3. The same command: epoch 2 is put in place and the run recorded as finished, without training again.
    run = train(**same_command)
    summary = json.loads(run.summary.read_text())
    assert summary["status"] == "finished" and summary["epochs_done"] == 2
    assert pd.read_csv(run.history)["epoch"].tolist() == [1, 2]
    assert sorted(p.name for p in run.evolution.iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert _generator_matches_checkpoint(run, cfg)
    assert not [p for p in run.path.rglob("*") if p.name.startswith(".") or p.name == "staged"]


def test_a_run_still_in_its_first_epoch_says_so_rather_than_not_a_run(tmp_path):
    (tmp_path / "config.toml").write_text('dataset = "mnist"\n')  # what training writes before its first epoch
    with pytest.raises(RunError, match="no finished epoch yet .* running or stopped in its first epoch"):
        RunFolder(tmp_path).read_summary()
    with pytest.raises(RunError, match="is not a run folder"):
        RunFolder(tmp_path / "elsewhere").read_summary()
