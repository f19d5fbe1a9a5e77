"""Data parallelism over two logical CPU devices and two processes (JAX), and the default backend choice."""
import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

TWO_DEVICE_FIT = """
import numpy as np, keras, jax
from cgan.distribute import use_data_parallel
use_data_parallel()
from cgan.config import load_config
from cgan.training.train import build_gan
cfg = load_config("configs/mnist/m1_v1.toml").with_overrides(
    latent_dim=8, batch_size=8, model_options={"g_filters": [8, 8, 4], "d_filters": [4, 8]})
gan = build_gan(cfg, (28, 28, 1), 10)
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
y = rng.integers(0, 10, 32).astype("int32")
from cgan.distribute import process_shard  # what cgan train feeds each process
x, y, rows = process_shard(x, y, np.arange(len(x)))
print("ROWS", " ".join(map(str, rows)))
gan.fit(x, y, batch_size=8, epochs=1, verbose=0)
weight = gan.generator.trainable_weights[0].value
print("DEVICES", len(jax.devices()), len(weight.sharding.device_set))
print("ITERATIONS", int(gan.d_optimizer.iterations), int(gan.g_optimizer.iterations))
print("DATA", keras.distribution.distribution().get_data_layout((8, 28, 28, 1)).axes)
"""


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX not installed")
def test_fit_is_data_parallel_over_two_cpu_devices():
    env = dict(os.environ, KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2",
               TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", TWO_DEVICE_FIT], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "DEVICES 2 2" in done.stdout  # weights replicated on both devices
    assert "ITERATIONS 4 4" in done.stdout and f"ROWS {' '.join(map(str, range(32)))}" in done.stdout  # one process
    assert "DATA ('batch', None, None, None)" in done.stdout  # each batch split along its first axis
    assert "data parallel over 2 device(s)" in done.stderr


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX not installed")
def test_two_worker_processes_on_localhost_train_one_model():
    with socket.socket() as probe:  # a free port for the coordinator
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Both processes load the same data with the same seed, as `cgan train` does on every host.
    script = TWO_DEVICE_FIT + "print('WEIGHTSUM', float(np.asarray(weight.addressable_data(0)).sum()))\n"
    workers = []
    for process_id in (0, 1):
        env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3", CGAN_COORDINATOR=f"127.0.0.1:{port}",
                   CGAN_NUM_PROCESSES="2", CGAN_PROCESS_ID=str(process_id))
        workers.append(subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outputs = [worker.communicate(timeout=300) for worker in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
        assert "DEVICES 2 2" in out and "ITERATIONS 2 2" in out  # 16 images each, batches of 8
    # The workers' batches differ: each trains on its own half of the data, none shared, none left out...
    rows = [set(map(int, _line(out, "ROWS").split()[1:])) for out, _ in outputs]
    assert len(rows[0]) == len(rows[1]) == 16 and not rows[0] & rows[1] and rows[0] | rows[1] == set(range(32))
    # ...yet they hold identical weights: gradients are all-reduced.
    assert _line(outputs[0][0], "WEIGHTSUM") == _line(outputs[1][0], "WEIGHTSUM")


def _line(out, prefix):
    return next(line for line in out.splitlines() if line.startswith(prefix))


@pytest.mark.slow
def test_cgan_train_feeds_each_process_its_own_shard(tmp_path, data_dir, monkeypatch):
    from cgan import distribute
    from cgan.config import load_config
    from cgan.training.train import train

    monkeypatch.setattr(distribute, "_this_process", lambda: (1, 2))  # the second of two processes
    cfg = load_config("configs/mnist/fast_v1.toml").with_overrides(
        latent_dim=8, batch_size=8, subset=64, epochs=1, eval_samples=10,
        model_options={"g_filters": [8, 4], "d_filters": [4, 8]})
    run = train(cfg, out=tmp_path / "run", data_dir=data_dir, verbose=0)
    images = json.loads(run.summary.read_text())["data"]["train_images"]  # the stratified subset: 60
    steps = [int(line.split(",")[1]) for line in run.iterations.read_text().splitlines()[1:]]
    assert max(steps) == math.ceil(images // 2 / 8)  # its half of the images, not all of them


@pytest.mark.slow
def test_data_parallel_on_torch_is_a_one_line_error(cli, tmp_path):
    done = cli("train", "--config", "configs/mnist/m1_v1.toml", "--out", tmp_path / "run",
               env={"KERAS_BACKEND": "torch", "CGAN_DATA_PARALLEL": "1"})
    assert done.returncode == 2 and "needs KERAS_BACKEND=jax" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.slow
def test_default_backend_is_the_fastest_installed_for_the_hardware():
    code = "from cgan.runtime import ensure_backend, hardware; print(hardware(), ensure_backend(verbose=True))"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    kind, chosen = done.stdout.split()
    from cgan.runtime import PREFERENCE

    assert chosen == next(b for b in PREFERENCE[kind] if importlib.util.find_spec(b))
    assert f"using the {chosen} backend" in done.stderr and "KERAS_BACKEND" in done.stderr


@pytest.mark.slow
def test_on_cpu_the_model_being_trained_refines_the_default_backend():
    code = "from cgan.runtime import ensure_backend; print(ensure_backend(verbose=True, model='fast'))"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["CUDA_VISIBLE_DEVICES"] = ""  # what the machine has must not matter: this is the CPU rule
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    from cgan.runtime import PREFERENCE, cpu_fastest_backend

    order = (cpu_fastest_backend("fast"), *PREFERENCE["cpu"])
    assert done.stdout.split() == [next(b for b in order if importlib.util.find_spec(b))]
    if done.stdout.strip() == cpu_fastest_backend("fast"):
        assert "fastest installed one for fast on cpu" in done.stderr
