"""`cgan export`: write a run's generator as ONNX, checked against Keras.

ONNX Runtime then generates images without importing Keras or any training
framework (cgan/onnx_generate.py), which is what makes a cold `cgan generate`
fast. Keras 3's exporter is used on the PyTorch backend (TorchScript ONNX
exporter, dynamic batch size); the file is only kept if ONNX Runtime
reproduces the Keras generator's images for every class. It records the
SHA-256 of the generator.keras it came from and the class count, which `cgan
generate` checks, and the activation size per image, which sets generate's
batch size.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from cgan.generate import activation_bytes_per_image, check_writable_folder
from cgan.onnx_generate import ACTIVATION_BYTES_KEY, KERAS_SHA256_KEY, NUM_CLASSES_KEY, file_sha256
from cgan.runs import RunError, RunFolder, atomic_write

PARITY_TOLERANCE = 1e-4  # max |ONNX - Keras| on tanh outputs in [-1, 1]


def onnx_path(run: RunFolder) -> Path:
    return run.path / "generator.onnx"


def export_onnx(run_dir) -> tuple[Path, float]:
    """Write <run>/generator.onnx; returns its path and the max deviation from Keras."""
    run = RunFolder(run_dir)
    if run.generator_keras.is_file():  # before the slow imports: the ONNX file and its temporary copy need room
        check_writable_folder(run.path, 2 * run.generator_keras.stat().st_size)
    import keras

    from cgan.generate import Generator

    if keras.backend.backend() != "torch":
        raise RunError(f"ONNX export runs on the torch backend, not {keras.backend.backend()} "
                       f"(unset KERAS_BACKEND or set it to torch)")
    # Hashed before loading: if the file changes in between, the recorded hash is the old one and
    # `cgan generate` falls back to Keras, never the other way round.
    keras_sha256 = file_sha256(run.generator_keras) if run.generator_keras.is_file() else None
    generator = Generator.from_run(run.path)
    noise, labels = generator.latents(range(len(generator.label_names)), n=2, seed=0)
    reference = keras.ops.convert_to_numpy(generator.model([noise, labels], training=False))
    deviation = None

    def write(tmp):
        nonlocal deviation
        with warnings.catch_warnings():  # the TorchScript tracer's notes on Python control flow in Keras layers
            warnings.simplefilter("ignore")
            generator.model.export(tmp, format="onnx", verbose=False)
        _record(tmp, {KERAS_SHA256_KEY: keras_sha256,
                      ACTIVATION_BYTES_KEY: str(activation_bytes_per_image(generator.model)),
                      NUM_CLASSES_KEY: str(len(generator.label_names))})
        deviation = float(np.abs(run_onnx(tmp, noise, labels) - reference).max())
        if deviation > PARITY_TOLERANCE:  # raised before the rename: a previous generator.onnx stays
            raise RunError(f"ONNX export differs from Keras by {deviation:.2g} (> {PARITY_TOLERANCE}); not kept")

    target = onnx_path(run)
    try:
        atomic_write(target, write)
    except OSError as exc:  # its own file name would be the temporary file's
        raise RunError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target, deviation


def _record(path, metadata: dict) -> None:
    """Add string entries to an ONNX file's metadata_props (read back by ONNX Runtime's custom_metadata_map)."""
    import onnx

    model = onnx.load(str(path))
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def run_onnx(path, noise: np.ndarray, labels: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"noise": noise.astype("float32"), "label": labels.astype("int32")})[0]
