"""Fault injection: kills mid-epoch and mid-save, NaN losses, and every kind of bad input."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from cgan.config import load_config
from cgan.generate import default_run
from cgan.runs import RunFolder
from cgan.training.checkpoint import load_checkpoint, save_checkpoint
from cgan.training.train import build_gan
from tiny_runs import set_keys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = default_run("mnist")
STEPS_PER_EPOCH = 5  # 640 images, batch 128


def _train_args(out, data_dir, epochs=3):
    return ["--config", "configs/mnist/m1_v1.toml", "--epochs", str(epochs), "--subset", "640",
            "--eval-samples", "100", "--out", str(out), "--data-dir", str(data_dir), "--print-every", "1"]


def _start(args, **env):
    full_env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", **env)
    return subprocess.Popen([sys.executable, "tests/fault_driver.py", *args], cwd=REPO, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _kill_when(proc, condition, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        if proc.poll() is not None:
            pytest.fail(f"training ended before the fault point:\n{proc.stdout.read()[-3000:]}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("fault point never reached")


def _kill_at_line(proc, text):
    """SIGKILL as soon as the process prints a line containing `text`."""
    for line in proc.stdout:
        if text in line:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
    pytest.fail(f"process ended without printing {text!r}")


@pytest.mark.slow
def test_optimizer_state_round_trips_exactly(tmp_path):
    cfg = load_config("configs/mnist/m1_v1.toml").with_overrides(
        latent_dim=8, model_options={"g_filters": [8, 8, 4], "d_filters": [4, 8]})
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1, 1, (32, 28, 28, 1)).astype("float32"), rng.integers(0, 10, 32).astype("int32")
    gan = build_gan(cfg, (28, 28, 1), 10)
    gan.fit(x, y, batch_size=8, epochs=1, verbose=0)
    run = RunFolder(tmp_path)
    save_checkpoint(run, gan, 1)
    fresh = build_gan(cfg, (28, 28, 1), 10)
    assert load_checkpoint(run, fresh) == 1
    for before, after in ((gan.d_optimizer, fresh.d_optimizer), (gan.g_optimizer, fresh.g_optimizer)):
        assert int(after.iterations) == 4
        saved = [np.asarray(v) for v in before.variables]
        assert any(np.abs(v).sum() > 0 for v in saved[2:]), "moments should be non-zero after training"
        for a, b in zip(saved, after.variables):
            np.testing.assert_array_equal(a, np.asarray(b))
    np.testing.assert_array_equal(np.asarray(gan.seed_generator.state), np.asarray(fresh.seed_generator.state))
    for a, b in zip(gan.generator.weights + gan.discriminator.weights, fresh.generator.weights + fresh.discriminator.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
def test_kill_mid_epoch_and_mid_save_then_resume(tmp_path, data_dir):
    out = tmp_path / "run"
    run = RunFolder(out)
    # 1. SIGKILL in the middle of epoch 2.
    _kill_at_line(_start(_train_args(out, data_dir)), "epoch 2 step 3:")
    assert run.checkpoint_epoch() == 1

    # 2. Resume, then SIGKILL while epoch 2's checkpoint is half written.
    marker = tmp_path / "saving"
    proc = _start(_train_args(out, data_dir), FAULT_MODE="slow_save", FAULT_MARKER=str(marker))
    _kill_when(proc, marker.exists)
    assert run.checkpoint_epoch() == 1, "a half-written checkpoint must not become the resume point"
    assert (out / "checkpoint" / "epoch_0002" / "optimizers.npz").is_file()

    # 3. Resume to the end.
    proc = _start(_train_args(out, data_dir))
    output = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, output[-3000:]
    assert "resuming" in output and "after epoch 1" in output

    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3]
    steps = pd.read_csv(out / "iterations.csv")
    assert len(steps) == 3 * STEPS_PER_EPOCH
    assert not steps.duplicated(["epoch", "step"]).any()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs_done"] == 3
    assert sorted(p.name for p in (out / "evolution").glob("*.png")) == [f"epoch_00{i}.png" for i in (1, 2, 3)]
    gan = build_gan(load_config(out / "config.toml"), (28, 28, 1), 10)
    assert load_checkpoint(run, gan) == 3
    assert int(gan.d_optimizer.iterations) == int(gan.g_optimizer.iterations) == 3 * STEPS_PER_EPOCH
    assert [p.name for p in (out / "checkpoint").glob("epoch_*")] == ["epoch_0003"]
    from cgan.generate import Generator, load_generator

    assert Generator.from_run(out).generate([1], n=2, seed=0)[0].shape == (2, 28, 28, 1)
    load_generator(out / "generator.h5")
    assert not list(out.rglob(".*.tmp*")) and not [p for p in out.rglob("*") if p.name.startswith(".")]


@pytest.mark.slow
def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, data_dir):
    out = tmp_path / "run"
    proc = _start(_train_args(out, data_dir), FAULT_MODE=f"nan_after:{STEPS_PER_EPOCH + 1}")
    output = proc.communicate(timeout=600)[0]
    assert proc.returncode == 3, output[-3000:]
    assert "epoch 2, step 2" in output and "Traceback" not in output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "diverged" and "epoch 2, step 2" in summary["stop_reason"]
    assert RunFolder(out).checkpoint_epoch() == 1
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == [1]
    from cgan.generate import Generator

    images, _ = Generator.from_run(out).generate([3], n=2, seed=0)
    assert images.std() > 0  # the saved generator is the good epoch-1 one, not NaN


def _copy_run(tmp_path, **summary_changes):
    run = tmp_path / "copied_run"
    run.mkdir()
    shutil.copy(SHIPPED / "generator.keras", run / "generator.keras")
    summary = json.loads((SHIPPED / "summary.json").read_text())
    summary.update(summary_changes)
    (run / "summary.json").write_text(json.dumps(summary))
    return run


def _lambda_run(tmp_path):
    import keras

    noise, label = keras.Input((100,)), keras.Input((1,), dtype="int32")
    x = keras.layers.Dense(28 * 28)(noise)
    x = keras.layers.Lambda(lambda t: t * 2)(x)
    model = keras.Model([noise, label], keras.layers.Reshape((28, 28, 1))(x))
    run = _copy_run(tmp_path)
    model.save(run / "generator.keras")
    return run


def _truncated_run(tmp_path):
    run = _copy_run(tmp_path)
    data = (run / "generator.keras").read_bytes()
    (run / "generator.keras").write_bytes(data[: len(data) // 2])
    return run


def _missing_run(tmp_path):
    run = _copy_run(tmp_path)
    (run / "generator.keras").unlink()
    return run


def _a_file(tmp_path):
    """A path whose parent is a regular file: unwritable even for root (tests may run as root)."""
    path = tmp_path / "a_file"
    path.write_text("not a folder")
    return path


def _bad_config(tmp_path, change):
    text = open(os.path.join(REPO, "configs/mnist/m1_v1.toml")).read()
    changed = change(text)
    assert changed != text, "the change did not apply: the config no longer holds what the case edits"
    path = tmp_path / "bad.toml"
    path.write_text(changed)
    return ["train", "--config", path, "--out", tmp_path / "never"]


def _set_key(key, value):
    return lambda text: set_keys(text, **{key: value})


BAD_INPUTS = {
    "unknown dataset": (lambda t: ["generate", "--dataset", "svhn", "--out", t / "x.png"], "invalid choice: 'svhn'"),
    "unknown model": (lambda t: _bad_config(t, _set_key("model", '"m9"')), "'model'"),
    "label out of range": (lambda t: ["generate", "--dataset", "mnist", "--label", "10", "--out", t / "x.png"],
                           "out of range"),
    "unknown label name": (lambda t: ["generate", "--run", _copy_run(t, label_names=[f"c{i}" for i in range(9)]
                                                                     + ["sunflower"]),
                                      "--label", "sunflowr", "--out", t / "x.png"], "did you mean sunflower"),
    "dataset not trained on": (lambda t: ["generate", "--run", SHIPPED, "--dataset", "cifar100", "--label", "apple",
                                          "--out", t / "x.png"], "trained on mnist"),
    "missing model file": (lambda t: ["generate", "--run", _missing_run(t), "--out", t / "x.png"], "no generator.keras"),
    "truncated model file": (lambda t: ["generate", "--run", _truncated_run(t), "--out", t / "x.png"],
                             "cannot load generator"),
    "not a run folder": (lambda t: ["generate", "--run", t, "--out", t / "x.png"], "not a run folder"),
    "image shape mismatch": (lambda t: ["generate", "--run", _copy_run(t, image_shape=[32, 32, 3]),
                                        "--out", t / "x.png"], "makes (28, 28, 1) images"),
    "class count mismatch": (lambda t: ["generate", "--run", _copy_run(t, label_names=[str(i) for i in range(100)]),
                                        "--label", "5", "--out", t / "x.png"], "knows 10 classes"),
    "lambda layer": (lambda t: ["generate", "--run", _lambda_run(t), "--out", t / "x.png"], "Lambda layer"),
    "config unknown key": (lambda t: _bad_config(t, lambda s: s + "\nlearning_rat = 1\n"), "unknown key"),
    "config wrong type": (lambda t: _bad_config(t, _set_key("batch_size", '"128"')),
                          "'batch_size'"),
    "config batch 0": (lambda t: _bad_config(t, _set_key("batch_size", 0)),
                       "'batch_size'"),
    "config negative epochs": (lambda t: _bad_config(t, _set_key("epochs", -3)),
                               "'epochs'"),
    "missing config": (lambda t: ["train", "--config", t / "nope.toml"], "not found"),
    "no data offline": (lambda t: ["train", "--config", "configs/mnist/m1_v1.toml", "--data-dir", t / "empty",
                                   "--out", t / "run"], "no mnist data"),
    "unwritable output": (lambda t: ["generate", "--dataset", "mnist", "--out", _a_file(t) / "x.png"],
                          "cannot write"),
    "unwritable run folder": (lambda t: ["train", "--config", "configs/mnist/m1_v1.toml", "--out", _a_file(t) / "run"],
                              "cannot write"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2(case, tmp_path, cli):
    make_args, message = BAD_INPUTS[case]
    # A dead proxy makes the keras.datasets fallback fail fast, also on machines with internet. Bad input is
    # refused before any training, so a case that runs for minutes has started to train: fail it soon.
    result = cli(*make_args(tmp_path), env={"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
                                            "KERAS_HOME": str(tmp_path / "keras_home")}, timeout=180)
    assert result.returncode == 2, (result.stdout[-500:], result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_truncated_h5_is_rejected(tmp_path):
    from cgan.errors import RunError
    from cgan.generate import load_generator

    load_generator(SHIPPED / "generator.keras").save(tmp_path / "whole.h5")  # .h5 copies are not committed
    data = (tmp_path / "whole.h5").read_bytes()
    (tmp_path / "g.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(RunError, match="cannot load generator"):
        load_generator(tmp_path / "g.h5")
