"""The standard Inception FID (ImageNet InceptionV3 pool features), only where its weights can be had.

Weights come from, in order: the `--inception-weights` option, `$CGAN_INCEPTION_WEIGHTS`, the Keras
cache (~/.keras/models), or a download when storage.googleapis.com answers within a few seconds.
Without any of them the result is {"skipped": reason}, never a number. The file wanted is Keras'
`inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5` (the model without its top).
"""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import numpy as np

from cgan.errors import EvaluationError
from cgan.evaluation.metrics import frechet_distance

WEIGHTS_ENV = "CGAN_INCEPTION_WEIGHTS"
NOTOP_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
DOWNLOAD_HOST = "storage.googleapis.com"
PROBE_SECONDS = 3.0
INPUT_SIZE = 299


def _cached_file() -> Path | None:
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    path = home / "models" / NOTOP_FILE
    return path if path.is_file() else None


def _host_answers(host: str, timeout: float) -> bool:
    """TCP connect within `timeout` seconds, DNS included (getaddrinfo ignores socket timeouts, hence the thread)."""
    answered = []

    def probe():
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            answered.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answered)


def locate_weights(explicit: str | None = None) -> tuple[str | None, str]:
    """(weights for keras.applications — a path or "imagenet" — or None, where they come from / why not)."""
    if explicit:
        if not Path(explicit).is_file():
            raise EvaluationError(f"Inception weights file not found: {explicit}")
        return str(explicit), f"local file {explicit}"
    if os.environ.get(WEIGHTS_ENV):
        path = os.environ[WEIGHTS_ENV]
        if not Path(path).is_file():
            raise EvaluationError(f"${WEIGHTS_ENV} points to a missing file: {path}")
        return path, f"local file {path} (${WEIGHTS_ENV})"
    cached = _cached_file()
    if cached:
        return str(cached), f"Keras cache {cached}"
    if _host_answers(DOWNLOAD_HOST, PROBE_SECONDS):
        return "imagenet", f"downloaded by keras.applications from {DOWNLOAD_HOST}"
    return None, (f"no ImageNet InceptionV3 weights: {DOWNLOAD_HOST} unreachable and no local file "
                  f"(give --inception-weights or ${WEIGHTS_ENV} = path to {NOTOP_FILE})")


def inception_model(weights: str):
    import keras

    return keras.applications.InceptionV3(weights=weights, include_top=False, pooling="avg",
                                          input_shape=(INPUT_SIZE, INPUT_SIZE, 3))


def inception_features(model, images_uint8: np.ndarray, batch_size: int = 50) -> np.ndarray:
    """2048-d average-pool features of InceptionV3 at 299×299 (greyscale repeated to RGB)."""
    import keras

    out = []
    for i in range(0, len(images_uint8), batch_size):
        batch = images_uint8[i:i + batch_size].astype("float32")
        if batch.shape[-1] == 1:
            batch = np.repeat(batch, 3, axis=-1)
        batch = keras.ops.image.resize(batch, (INPUT_SIZE, INPUT_SIZE), interpolation="bilinear")
        batch = keras.applications.inception_v3.preprocess_input(batch)
        out.append(keras.ops.convert_to_numpy(model(batch, training=False)))
    return np.concatenate(out).astype("float64")


def inception_fid(fake_uint8: np.ndarray, real_uint8: np.ndarray, located: tuple[str | None, str] | None = None) -> dict:
    """{"value", "n_generated", "n_real", "weights"} or {"skipped": reason}; `located` is locate_weights()'s answer."""
    weights, source = located or locate_weights()
    if weights is None:
        return {"skipped": source}
    try:
        model = inception_model(weights)
        fake = inception_features(model, fake_uint8)
        real = inception_features(model, real_uint8)
    except Exception as exc:  # a failed download or a wrong weights file: report it, don't guess
        return {"skipped": f"InceptionV3 could not run ({source}): {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:200] if str(exc) else ''}"}
    return {"value": frechet_distance(fake, real), "n_generated": len(fake), "n_real": len(real), "weights": source,
            "note": "Inception FID at this sample size is biased upwards; compare only at equal n"}
