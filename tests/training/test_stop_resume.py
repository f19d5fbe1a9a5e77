"""The stop button (SIGINT, SIGTERM, a notebook's KeyboardInterrupt) and a resume that replays no randomness."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from cgan.config import load_config
from cgan.errors import TrainingInterrupted
from cgan.runs import RunFolder
from cgan.training.checkpoint import load_checkpoint
from cgan.training.stop import StopButton
from cgan.training.train import build_gan, train
from tiny_runs import REPO, STEPS_PER_EPOCH, tiny_config


def _start(args):
    env = dict(os.environ, KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "torch"), TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "tests/fault_driver.py", *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _signal_at_line(args, text, signum):
    """Run `cgan train`, send `signum` once it prints a line holding `text`; returns (exit code, output lines)."""
    proc = _start(args)
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if text in line:
            proc.send_signal(signum)
            break
    else:
        pytest.fail(f"training ended before {text!r}:\n" + "\n".join(lines[-30:]))
    lines += proc.communicate(timeout=300)[0].splitlines()
    return proc.returncode, [line for line in lines if line.strip()]


def _summary(out):
    return json.loads((out / "summary.json").read_text())


@pytest.mark.slow
def test_sigint_and_sigterm_mid_epoch_then_resume(tmp_path, data_dir):
    out = tmp_path / "run"
    args = ["--config", tiny_config(tmp_path), "--epochs", 3, "--out", out, "--data-dir", data_dir,
            "--print-every", 1]
    # 1. Ctrl-C in the middle of epoch 2: the step finishes, epoch 1's checkpoint stays, exit 130.
    code, lines = _signal_at_line(args, "epoch 2 step 2:", signal.SIGINT)
    assert code == 130, lines[-20:]
    assert "Traceback" not in "\n".join(lines)
    last = lines[-1]
    assert last.startswith("cgan train: stopped: interrupted by SIGINT during epoch 2"), lines[-5:]
    assert "the checkpoint of epoch 1 is kept" in last and "resume with: cgan train --config" in last
    summary = _summary(out)
    assert summary["status"] == "interrupted" and summary["epochs_done"] == 1
    assert "SIGINT during epoch 2" in summary["stop_reason"]
    assert RunFolder(out).checkpoint_epoch() == 1

    # 2. Resume with the command it printed; SIGTERM (a scheduler) in epoch 3: exit 143.
    resume = last.split("resume with: cgan ")[1].split()
    assert resume[0] == "train" and resume[1:] == [str(a) for a in args]
    code, lines = _signal_at_line(resume[1:], "epoch 3 step 3:", signal.SIGTERM)
    assert code == 143, lines[-20:]
    assert any("resuming" in line and "after epoch 1" in line for line in lines)
    assert lines[-1].startswith("cgan train: stopped: interrupted by SIGTERM during epoch 3"), lines[-5:]
    assert _summary(out)["status"] == "interrupted" and _summary(out)["epochs_done"] == 2

    # 3. Resume to the end: every epoch and every step exactly once.
    proc = _start(resume[1:])
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, output[-3000:]
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == [1, 2, 3]
    steps = pd.read_csv(out / "iterations.csv")
    assert list(zip(steps["epoch"], steps["step"])) == [(e, s) for e in (1, 2, 3)
                                                          for s in range(1, STEPS_PER_EPOCH + 1)]
    summary = _summary(out)
    assert summary["status"] == "finished" and summary["epochs_done"] == 3 and "stop_reason" not in summary
    # TensorBoard hides what the interrupted processes logged past their checkpoints.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("step/d_loss")] == list(range(1, 3 * STEPS_PER_EPOCH + 1))
    assert [e.step for e in events.Scalars("loss/d_loss")] == [STEPS_PER_EPOCH * e for e in (1, 2, 3)]


def _train_tiny(tmp_path, out, epochs, **kwargs):
    cfg = load_config(tiny_config(tmp_path, 'augment = ["translation", "cutout"]')).with_overrides(epochs=epochs)
    return train(cfg, out=out, verbose=0, tensorboard=False, **kwargs)


def _signal_self_at(monkeypatch, epoch, step, raise_instead=False, linger=0.0):
    """Send this process SIGINT after the given step, as a notebook's stop button does to its kernel,
    `linger` seconds into training that the stop will discard."""
    from cgan.training.callbacks import IterationLog

    original = IterationLog.on_train_batch_end

    def on_train_batch_end(self, batch, logs=None):
        original(self, batch, logs)
        if (self.epoch, batch + 1) == (epoch, step):
            time.sleep(linger)
            if raise_instead:  # no handler of ours (training outside the main thread): a bare KeyboardInterrupt
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(IterationLog, "on_train_batch_end", on_train_batch_end)


@pytest.mark.slow
@pytest.mark.parametrize("raise_instead", [False, True], ids=["signal", "bare KeyboardInterrupt"])
def test_notebook_stop_keeps_the_last_epoch_and_resumes(tmp_path, data_dir, monkeypatch, raise_instead):
    monkeypatch.setenv("CGAN_DATA_DIR", str(data_dir))
    handler = signal.getsignal(signal.SIGINT)
    out = tmp_path / "run"
    _signal_self_at(monkeypatch, epoch=2, step=2, raise_instead=raise_instead, linger=1.0)
    with pytest.raises(TrainingInterrupted) as stopped:
        _train_tiny(tmp_path, out, epochs=2)
    lost = _summary(out)["wall_seconds"] - _summary(out)["checkpoint_wall_seconds"]
    assert lost >= 1.0, "a budget counts the time behind the checkpoint, not the discarded part of epoch 2"
    assert signal.getsignal(signal.SIGINT) is handler, "the previous SIGINT handler must be back"
    assert stopped.value.signum == signal.SIGINT
    assert "during epoch 2" in str(stopped.value) and "the checkpoint of epoch 1 is kept" in str(stopped.value)
    assert "to resume" in str(stopped.value)
    assert _summary(out)["status"] == "interrupted" and RunFolder(out).checkpoint_epoch() == 1
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == [1]
    if not raise_instead:  # resuming is the same either way (the subprocess test covers it too)
        monkeypatch.undo()
        monkeypatch.setenv("CGAN_DATA_DIR", str(data_dir))
        _train_tiny(tmp_path, out, epochs=2)
        assert pd.read_csv(out / "history.csv")["epoch"].tolist() == [1, 2]
        assert _summary(out)["status"] == "finished"
        resumed = _summary(out)
        assert resumed["wall_seconds"] - resumed["checkpoint_wall_seconds"] == pytest.approx(lost, abs=0.15)


@pytest.mark.slow
def test_stop_in_the_first_epoch_starts_again(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("CGAN_DATA_DIR", str(data_dir))
    out = tmp_path / "run"
    _signal_self_at(monkeypatch, epoch=1, step=1)
    with pytest.raises(TrainingInterrupted, match="no epoch had finished"):
        _train_tiny(tmp_path, out, epochs=1)
    assert _summary(out)["epochs_done"] == 0 and _summary(out)["checkpoint_wall_seconds"] == 0.0
    monkeypatch.undo()
    monkeypatch.setenv("CGAN_DATA_DIR", str(data_dir))
    _train_tiny(tmp_path, out, epochs=1)  # not refused as "a run without a checkpoint"
    assert _summary(out)["status"] == "finished"


def test_a_second_signal_stops_at_once():
    stop = StopButton()
    stop._on_signal(signal.SIGTERM, None)  # the first only asks
    with pytest.raises(TrainingInterrupted, match="SIGTERM twice") as stopped:
        stop._on_signal(signal.SIGTERM, None)
    assert stopped.value.signum == signal.SIGTERM


def _checkpointed_state(out):
    cfg = load_config(out / "config.toml")
    gan = build_gan(cfg, (28, 28, 1), 10)
    load_checkpoint(RunFolder(out), gan)
    return ([np.asarray(v) for v in gan.generator.weights + gan.discriminator.weights],
            [np.asarray(v) for v in gan.random_states])


@pytest.mark.slow
def test_a_resumed_run_draws_what_an_uninterrupted_one_draws(tmp_path, data_dir, monkeypatch):
    """Same batches, same noise, same DiffAugment draws, same Dropout masks: the same numbers after epoch 2."""
    monkeypatch.setenv("CGAN_DATA_DIR", str(data_dir))
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _train_tiny(tmp_path, straight, epochs=2)
    _train_tiny(tmp_path, resumed, epochs=1)
    _train_tiny(tmp_path, resumed, epochs=2)  # a new train() re-seeds everything, as a new process would
    sessions = _summary(resumed)["sessions"]  # each process says which epochs it trained, and on what
    assert [(x["first_epoch"], x["last_epoch"]) for x in sessions] == [(1, 1), (2, 2)]
    assert sum(x["wall_seconds"] for x in sessions) == pytest.approx(_summary(resumed)["wall_seconds"], abs=0.2)
    assert all(x["backend"] and x["processor"] for x in sessions)
    assert _summary(resumed)["started_utc"] == sessions[0]["started_utc"]  # the run's start, not its last write
    losses = [pd.read_csv(run / "iterations.csv").query("epoch == 2")[["d_loss", "g_loss"]].to_numpy()
              for run in (straight, resumed)]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5, atol=1e-6)
    (weights_a, seeds_a), (weights_b, seeds_b) = _checkpointed_state(straight), _checkpointed_state(resumed)
    assert len(seeds_a) >= 2, "the GAN's seed generator and at least D's Dropout"
    for a, b in zip(seeds_a, seeds_b):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(weights_a, weights_b):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_each_epoch_order_depends_on_seed_and_epoch_only():
    from cgan.training.batches import EpochBatches

    x, y = np.arange(10, dtype="float32").reshape(10, 1), np.arange(10)
    fresh = EpochBatches(x, y, batch_size=4, seed=1)
    resumed = EpochBatches(x, y, batch_size=4, seed=1, first_epoch=1)  # a resume after epoch 1
    assert fresh.steps_per_epoch == 3 and [len(fresh[i][0]) for i in range(3)] == [4, 4, 2]
    epoch_2 = [fresh[i][1].tolist() for i in range(3, 6)]
    assert [resumed[i][1].tolist() for i in range(3)] == epoch_2
    assert sorted(sum(epoch_2, [])) == list(range(10))
    assert epoch_2 != [fresh[i][1].tolist() for i in range(3)], "each epoch has its own order"


@pytest.mark.slow
def test_a_resume_may_add_quality_monitoring_but_not_change_training(tmp_path, data_dir, monkeypatch):
    """The zoo queue resumes half-done runs with `quality_every` added; anything that changes learning is refused."""
    from cgan.errors import RunError
    monkeypatch.setenv("CGAN_DATA_DIR", str(data_dir))
    out = tmp_path / "run"
    cfg = load_config(tiny_config(tmp_path)).with_overrides(epochs=1)
    train(cfg, out=out, verbose=0, tensorboard=False)
    with pytest.raises(RunError, match="different config"):
        train(cfg.with_overrides(epochs=2, batch_size=cfg.batch_size * 2), out=out, verbose=0, tensorboard=False)
    train(cfg.with_overrides(epochs=2, quality_every=1, quality_per_class=2), out=out, verbose=0, tensorboard=False)
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert np.isnan(history["quality_label_accuracy"][0]) and 0 <= history["quality_label_accuracy"][1] <= 1
    assert "quality_every = 1" in (out / "config.toml").read_text()
