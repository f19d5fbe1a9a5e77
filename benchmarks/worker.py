"""One measurement in a fresh process, on the backend named by KERAS_BACKEND.

    KERAS_BACKEND=torch python -m benchmarks.worker '{"task": "train", ...}'

Prints one line `RESULT {json}`. The orchestrator (benchmarks/run.py) starts one process per backend because Keras fixes
its backend at import. Only cgan.models / cgan.training.gan / cgan.data are imported
for training, so this also runs where pandas or scikit-learn are missing.
"""
from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np


def build(config_path: str, image_shape, num_classes: int, jit_compile=None, model_options=None):
    """The GAN of a config, as cgan.training.train builds it (without importing the run-folder machinery)."""
    from cgan.config import load_config
    from cgan.training.gan import build_gan

    cfg = load_config(config_path)
    if model_options:  # dry runs shrink the filters
        cfg = cfg.with_overrides(model_options={**cfg.model_options.model_dump(exclude_none=True), **model_options})
    return cfg, build_gan(cfg, image_shape, num_classes, jit_compile=jit_compile)


def _epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Wall time per epoch; reading a loss first waits for queued device work."""

        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            float(logs["d_loss"])
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def _step_logger():
    import keras

    class StepLosses(keras.callbacks.Callback):
        """What cgan's IterationLog does: read both losses on the host after every step."""

        def on_train_batch_end(self, batch, logs=None):
            float(logs["d_loss_step"]), float(logs["g_loss_step"])

    return StepLosses()


def train(task: dict) -> dict:
    """img/s of `fit`: the first epoch (compilation, warm-up) is dropped, then the median epoch."""
    import keras

    # What CGAN_PRECISION=bf16 selects for `cgan train`, set per job here.
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if task.get("precision") == "bf16" else "float32")
    if task.get("dataset_dir"):
        from cgan.data import load_dataset

        data = load_dataset(task["dataset"], task["dataset_dir"])
        x, y, shape, classes = data.x_train, data.y_train, data.image_shape, data.num_classes
    else:
        shape, classes = tuple(task["shape"]), task["classes"]
        rng = np.random.default_rng(0)
        from cgan.config import load_config

        data_batch = task.get("batch") or load_config(task["config"]).batch_size
        x = rng.uniform(-1, 1, (task["steps"] * data_batch, *shape)).astype("float32")
        y = rng.integers(0, classes, len(x)).astype("int32")
    keras.utils.set_random_seed(0)
    cfg, gan = build(task["config"], shape, classes, task.get("jit_compile"), task.get("model_options"))
    batch = task.get("batch") or cfg.batch_size
    timer = _epoch_timer()
    callbacks = [timer] + ([_step_logger()] if task.get("log_steps") else [])
    gan.fit(x, y, batch_size=batch, epochs=1 + task["repeats"], shuffle=True, verbose=0, callbacks=callbacks)
    timed = timer.seconds[1:]
    return {"images_per_epoch": len(x), "batch": batch, "first_epoch_s": timer.seconds[0],
            "epoch_s": timed, "median_epoch_s": statistics.median(timed),
            "img_per_s": len(x) / statistics.median(timed), "device": _device()}


def train_many(task: dict) -> dict:
    """Matmul peaks, then several training jobs, in one process (one framework import).

    A failed job is reported, not fatal.
    """
    peaks = [peak({"dtype": dtype, "size": task.get("peak_size", 2048)}) for dtype in task.get("peak_dtypes", [])]
    results = []
    for job in task["jobs"]:
        if time.time() > task.get("deadline", float("inf")):
            results.append({**job, "error": "skipped: time budget spent"})
            continue
        try:
            results.append({**job, **train(job)})
        except Exception as exc:  # noqa: BLE001 - the report names it; the other jobs still run
            results.append({**job, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"})
    return {"peaks": peaks, "results": results}


def _device() -> str:
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return str(jax.devices()[0].device_kind)
    if keras.backend.backend() == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return "cpu"


def peak(task: dict) -> dict:
    """FLOP/s of a large square matmul (the machine's practical peak for this backend)."""
    import keras

    n, dtype = task.get("size", 2048), task.get("dtype", "float32")
    a = keras.random.normal((n, n), dtype=dtype, seed=1)
    b = keras.random.normal((n, n), dtype=dtype, seed=2)
    matmul = keras.ops.matmul
    if keras.backend.backend() == "jax":
        import jax

        matmul = jax.jit(matmul)
    float(keras.ops.sum(matmul(a, b)))  # warm-up (and compilation)
    rates = []
    for _ in range(task.get("repeats", 5)):
        start = time.perf_counter()
        for _ in range(task.get("inner", 3)):
            c = matmul(a, b)
        float(c[0, 0])
        rates.append(2 * n ** 3 * task.get("inner", 3) / (time.perf_counter() - start))
    return {"flop_per_s": statistics.median(rates), "size": n, "dtype": dtype, "device": _device()}


def flops(task: dict) -> dict:
    """FLOPs of one training step per image, counted by PyTorch's FlopCounterMode (forward and backward)."""
    import keras
    from torch.utils.flop_counter import FlopCounterMode

    if keras.backend.backend() != "torch":
        raise SystemExit("the flops task needs KERAS_BACKEND=torch")
    shape, classes, batch = tuple(task["shape"]), task["classes"], task.get("batch", 16)
    _, gan = build(task["config"], shape, classes)
    x = np.random.default_rng(0).uniform(-1, 1, (batch, *shape)).astype("float32")
    y = np.arange(batch, dtype="int32") % classes
    gan.train_step((keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)))  # build everything first
    with FlopCounterMode(display=False) as counter:
        gan.train_step((keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)))
    return {"flop_per_image": counter.get_total_flops() / batch,
            "params": gan.generator.count_params() + gan.discriminator.count_params()}


def evaluation(task: dict) -> dict:
    """Seconds of the per-epoch evaluation that `cgan train` adds after each epoch's training."""
    from cgan.data import load_dataset
    from cgan.runs import RunFolder
    from cgan.training.callbacks import DiscriminatorReport, EvolutionGrid

    data = load_dataset(task["dataset"], task.get("dataset_dir"))
    cfg, gan = build(task["config"], data.image_shape, data.num_classes)
    samples = task.get("eval_samples", cfg.eval_samples)
    report = DiscriminatorReport(data, samples, cfg.latent_dim, cfg.seed)
    grid = EvolutionGrid(RunFolder(task["scratch"]), data.label_names, cfg.latent_dim, cfg.seed)
    for callback in (report, grid):
        callback.set_model(gan)
    parts = {"d_metrics_s": [], "validation_s": [], "evolution_grid_s": []}
    val = np.random.default_rng(0).choice(len(data.x_test), min(samples, len(data.x_test)), replace=False)
    for epoch in range(task.get("repeats", 3)):
        start = time.perf_counter()
        report.on_epoch_end(epoch, {})
        parts["d_metrics_s"].append(time.perf_counter() - start)
        start = time.perf_counter()
        gan.evaluate(data.x_test[val], data.y_test[val], batch_size=cfg.batch_size, verbose=0)
        parts["validation_s"].append(time.perf_counter() - start)
        start = time.perf_counter()
        grid.on_epoch_end(epoch, {})
        parts["evolution_grid_s"].append(time.perf_counter() - start)
    medians = {k: statistics.median(v) for k, v in parts.items()}
    return {**medians, "eval_total_s": sum(medians.values()), "eval_samples": samples,
            "train_images": len(data.x_train), "batch": cfg.batch_size}


def generate_warm(task: dict) -> dict:
    """Seconds per image once the generator is loaded: one image per call, and 100 per call."""
    if task["engine"] == "onnx":
        from cgan.onnx import OnnxGenerator as Loader
    else:
        from cgan.generate import Generator as Loader
    generator = Loader.from_run(task["run"])
    timings = {}
    for per_call in (1, 100):
        generator.generate([7], per_call, seed=0)  # warm-up
        runs = []
        for seed in range(task.get("repeats", 20)):
            start = time.perf_counter()
            generator.generate([7], per_call, seed=seed)
            runs.append((time.perf_counter() - start) / per_call)
        timings[f"s_per_image_batch{per_call}"] = statistics.median(runs)
    return timings


TASKS = {"train": train, "train_many": train_many, "peak": peak, "flops": flops, "evaluation": evaluation, "generate_warm": generate_warm}

if __name__ == "__main__":
    job = json.loads(sys.argv[1])
    if job["task"] != "generate_warm" or job.get("engine") != "onnx":
        from cgan.runtime import ensure_backend

        ensure_backend()
    print("RESULT " + json.dumps(TASKS[job["task"]](job)), flush=True)
