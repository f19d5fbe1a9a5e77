"""Backend-specific gradient code, one small module per Keras backend.

Everything else in cgan is written with `keras.ops` and runs on any backend;
only "compute gradients of this loss and apply them" differs, so that is all
these modules contain.
"""
from __future__ import annotations

import importlib

import keras

_MODULES = {"tensorflow": "cgan.backends.tf_grads", "torch": "cgan.backends.torch_grads"}


def gradient_step():
    """`minimize(loss_fn, variables, optimizer) -> loss` for the active backend."""
    backend = keras.backend.backend()
    if backend not in _MODULES:
        raise RuntimeError(f"training on the '{backend}' backend is not supported yet "
                           f"(use KERAS_BACKEND=torch or tensorflow)")
    return importlib.import_module(_MODULES[backend]).minimize
