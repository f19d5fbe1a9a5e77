"""Choosing the Keras backend and describing the machine a run used.

Keras reads KERAS_BACKEND once, at import, so this must run before anything
imports keras. Without a user choice we take the first installed backend of the
order for the hardware: on CPU the one benchmarks/README.md measured fastest
(per model where the model is known), on an NVIDIA GPU TensorFlow. The CLI and
the notebooks both call `ensure_backend(model=...)` and `configure_keras()`, so
they choose alike. The GPU check looks for the driver's device files, so
choosing costs no framework import.
"""
from __future__ import annotations

import glob
import importlib.util
import os
import platform
import sys

from cgan.errors import BackendError
from cgan.models import REGISTRY

# CPU: fastest first, as measured by `python -m benchmarks.run` (benchmarks/README.md).
# NVIDIA GPU: nothing is measured there yet, so TensorFlow, what the original project and Colab use, then
# PyTorch. JAX stays opt-in (KERAS_BACKEND=jax) until a GPU run measures it (`python -m benchmarks.run` on a GPU): it is
# the default only where no other backend is installed.
PREFERENCE = {"cpu": ("torch", "tensorflow", "jax"), "cuda": ("tensorflow", "torch", "jax")}
INSTALL_HINT = "pip install -e \".[tf]\" (or [torch], [jax]; on a CPU-only machine: make install)"


def hardware() -> str:
    """'cuda' when an NVIDIA GPU is visible to this process, else 'cpu'."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return "cpu"
    return "cuda" if glob.glob("/dev/nvidia[0-9]*") else "cpu"


def cpu_fastest_backend(model: str | None) -> str | None:
    """The backend a benchmark found fastest for `model` on this kind of CPU, where that is not the general order
    (the model module's CPU_BACKEND; benchmarks/README.md has the measurements)."""
    spec = REGISTRY.get(model) if model else None
    return spec.fastest_cpu_backend(cpu_vector_extension()) if spec else None


def ensure_backend(verbose: bool = False, model: str | None = None) -> str:
    """The Keras backend to use: the user's KERAS_BACKEND, else the first installed one of PREFERENCE.

    `model` (when the caller knows what it will train) refines the choice on CPU. Raises BackendError
    (one line) where Keras or every backend is missing, as in a generation-only install.
    """
    missing = (f"this needs Keras and one of TensorFlow, PyTorch or JAX, which are not installed: "
               f"{INSTALL_HINT}")
    if importlib.util.find_spec("keras") is None:
        raise BackendError(missing)
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    kind = hardware()
    order = PREFERENCE[kind]
    preferred = cpu_fastest_backend(model) if kind == "cpu" else None
    if preferred:
        order = (preferred, *(b for b in order if b != preferred))
    chosen = next((b for b in order if importlib.util.find_spec(b)), None)
    if chosen is None:
        raise BackendError(missing)
    os.environ["KERAS_BACKEND"] = chosen
    if verbose:
        why = (f"the fastest installed one {f'for {model} ' if preferred == chosen else ''}on cpu "
               f"({cpu_vector_extension()})" if kind == "cpu"
               else "the first installed of TensorFlow, PyTorch, JAX on an NVIDIA GPU")
        print(f"cgan: using the {chosen} backend, {why} (set KERAS_BACKEND to change it)", file=sys.stderr)
    return chosen


def configure_keras() -> None:
    """Apply the opt-in speed settings read from the environment, before models are built.

    CGAN_PRECISION=bf16   mixed precision (bfloat16 compute, float32 weights); pays on GPUs
                          with bf16 tensor cores, slows this CPU down.
    CGAN_DATA_PARALLEL=1  replicate the model on every local device and split each batch
                          (cgan.distribute); JAX only.
    """
    import keras

    precision = os.environ.get("CGAN_PRECISION", "").lower()
    if precision in ("bf16", "bfloat16", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    elif precision not in ("", "fp32", "float32"):
        from cgan.errors import ConfigError

        raise ConfigError(f"CGAN_PRECISION must be bf16 or fp32, not '{precision}'")
    if os.environ.get("CGAN_DATA_PARALLEL", "") not in ("", "0"):
        from cgan.distribute import use_data_parallel

        use_data_parallel()


def environment_facts() -> dict:
    """Backend, library versions and hardware, for summary.json."""
    import keras
    import numpy

    facts = {
        "backend": keras.backend.backend(),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "processor": cpu_model(),
        "vector_extension": cpu_vector_extension(),
        "cpu_count": os.cpu_count(),
    }
    for name in ("tensorflow", "torch", "jax"):
        module = sys.modules.get(name)
        if module is not None:
            facts[name] = getattr(module, "__version__", "?")
    facts["accelerator"] = _accelerator(facts["backend"])
    return facts


CPUINFO = "/proc/cpuinfo"


def _cpuinfo_field(name: str) -> str | None:
    """The first value of `name` in CPUINFO, or None where there is no such file (not Linux) or field."""
    try:
        with open(CPUINFO) as f:
            for line in f:
                if line.split(":", 1)[0].strip() == name:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    return _cpuinfo_field("model name") or platform.processor() or "unknown"


# Widest first. Two machines sold under one CPU name ranked the backends in opposite orders on the CIFAR models
# (benchmarks/README.md); the vector extension is the first suspect, so runs and benchmarks record it and a
# model's CPU_BACKEND may depend on it.
VECTOR_EXTENSIONS = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("sse4_2", "SSE4.2"))


def cpu_vector_extension() -> str:
    """The widest x86 vector extension the CPU reports ('AVX-512', 'AVX2', ...), else 'unknown'."""
    flags = set((_cpuinfo_field("flags") or "").split())
    return next((label for flag, label in VECTOR_EXTENSIONS if flag in flags), "unknown")


def _accelerator(backend: str) -> str:
    """The accelerators the active backend computes on, e.g. '2 × NVIDIA H200', asked of that backend."""
    try:
        names = _ACCELERATORS[backend]()
    except Exception as exc:  # noqa: BLE001 — a run's record must not fail over a device query
        return f"unknown ({backend}: {type(exc).__name__})"
    if not names:
        return "none (CPU only)"
    return " + ".join(f"{names.count(n)} × {n}" if names.count(n) > 1 else n for n in dict.fromkeys(names))


def _torch_accelerators() -> list[str]:
    import torch

    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def _tensorflow_accelerators() -> list[str]:
    import tensorflow as tf

    return [tf.config.experimental.get_device_details(d).get("device_name", d.name)
            for d in tf.config.list_physical_devices("GPU")]


def _jax_accelerators() -> list[str]:
    import jax

    return [d.device_kind for d in jax.devices() if d.platform != "cpu"]


_ACCELERATORS = {"torch": _torch_accelerators, "tensorflow": _tensorflow_accelerators, "jax": _jax_accelerators}
