"""Choosing the Keras backend and describing the machine a run used.

Keras reads KERAS_BACKEND once, at import, so this must run before anything
imports keras. Without a user choice we take the fastest installed backend for
the hardware, in the order that benchmarks/README.md measured (CPU) or argues
(NVIDIA GPU). The GPU check looks for the driver's device files, so choosing
costs no framework import.
"""
from __future__ import annotations

import glob
import importlib.util
import os
import platform
import sys

# Fastest first. CPU: measured on the 2-core reference machine (benchmarks/README.md).
# NVIDIA GPU: JAX jit-compiles the whole G+D step into one XLA program, which
# removes the per-op launch overhead that dominates these small models in
# eager PyTorch; TensorFlow's wheel here is CPU-only.
PREFERENCE = {"cpu": ("torch", "tensorflow", "jax"), "cuda": ("jax", "torch", "tensorflow")}


def hardware() -> str:
    """'cuda' when an NVIDIA GPU is visible to this process, else 'cpu'."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return "cpu"
    return "cuda" if glob.glob("/dev/nvidia[0-9]*") else "cpu"


# CPU, per model, where the same benchmark run found another backend faster than the general order
# (benchmarks/README.md, Results: cpu): TensorFlow's graph mode wins for the small steps of `fast`
# (1.7×) and the large convolutions of m3–m5 (1.03–1.22×); m1 is a tie (PyTorch 1.04×).
CPU_FASTEST_BY_MODEL = {"m3": "tensorflow", "m4": "tensorflow", "m5": "tensorflow", "fast": "tensorflow"}


def ensure_backend(verbose: bool = False, model: str | None = None) -> str:
    """The Keras backend to use: the user's KERAS_BACKEND, else the fastest installed one measured here.

    `model` (when the caller knows what it will train) refines the choice on CPU.
    """
    chosen = os.environ.get("KERAS_BACKEND")
    if not chosen:
        kind = hardware()
        order = PREFERENCE[kind]
        preferred = CPU_FASTEST_BY_MODEL.get(model) if kind == "cpu" else None
        if preferred:
            order = (preferred, *(b for b in order if b != preferred))
        chosen = next((b for b in order if importlib.util.find_spec(b)), "tensorflow")
        os.environ["KERAS_BACKEND"] = chosen
        if verbose:
            subject = f"for {model} " if preferred == chosen else ""
            print(f"cgan: using the {chosen} backend, the fastest installed one {subject}on {kind} "
                  f"(set KERAS_BACKEND to change it)", file=sys.stderr)
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
        from cgan.config import ConfigError

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
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
    }
    for name in ("tensorflow", "torch", "jax"):
        module = sys.modules.get(name)
        if module is not None:
            facts[name] = getattr(module, "__version__", "?")
    facts["accelerator"] = _accelerator()
    return facts


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _accelerator() -> str:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return "none (CPU only)"
