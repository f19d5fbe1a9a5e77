"""`cgan export`: write a run's generator as ONNX, checked against Keras.

ONNX Runtime then generates images without importing Keras or any training
framework (cgan/onnx_generate.py), which is what makes a cold `cgan generate`
fast. Keras 3's exporter is used on the PyTorch backend (TorchScript ONNX
exporter, dynamic batch size); the file is only kept if ONNX Runtime
reproduces the Keras generator's images for every class.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from cgan.runs import RunError, RunFolder, atomic_write

PARITY_TOLERANCE = 1e-4  # max |ONNX - Keras| on tanh outputs in [-1, 1]


def onnx_path(run: RunFolder) -> Path:
    return run.path / "generator.onnx"


def export_onnx(run_dir) -> tuple[Path, float]:
    """Write <run>/generator.onnx; returns its path and the max deviation from Keras."""
    import keras

    from cgan.generate import Generator

    if keras.backend.backend() != "torch":
        raise RunError(f"ONNX export runs on the torch backend, not {keras.backend.backend()} "
                       f"(unset KERAS_BACKEND or set it to torch)")
    generator = Generator.from_run(run_dir)
    noise, labels = generator.latents(range(len(generator.label_names)), n=2, seed=0)
    reference = keras.ops.convert_to_numpy(generator.model([noise, labels], training=False))
    target = onnx_path(RunFolder(generator.run))
    with warnings.catch_warnings():  # the TorchScript tracer's notes on Python control flow in Keras layers
        warnings.simplefilter("ignore")
        atomic_write(target, lambda tmp: generator.model.export(tmp, format="onnx", verbose=False))
    deviation = float(np.abs(run_onnx(target, noise, labels) - reference).max())
    if deviation > PARITY_TOLERANCE:
        target.unlink()
        raise RunError(f"ONNX export differs from Keras by {deviation:.2g} (> {PARITY_TOLERANCE}); not kept")
    return target, deviation


def run_onnx(path, noise: np.ndarray, labels: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"noise": noise.astype("float32"), "label": labels.astype("int32")})[0]
