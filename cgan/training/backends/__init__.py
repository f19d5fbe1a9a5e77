"""Backend-specific training code, one small module per Keras backend.

Everything else in cgan is written with `keras.ops` and runs on any backend.
Two things differ and live here:

* `minimize(loss_fn, variables, optimizer) -> loss`: compute the gradients of
  a loss with respect to some variables and apply them;
* `run_step(step, args)`: how `fit`/`evaluate` call a custom step. TensorFlow
  and PyTorch call `train_step(data)` on stateful variables; JAX calls
  `train_step(state, data)` and expects `(logs, new_state)` back, so its
  module runs the same stateful step inside a `StatelessScope`.
"""
from __future__ import annotations

import importlib

import keras

MODULES = {"tensorflow": "cgan.training.backends.tf_grads", "torch": "cgan.training.backends.torch_grads",
           "jax": "cgan.training.backends.jax_grads"}


def backend_module():
    """The module for the active backend (it has `minimize` and `run_step`)."""
    backend = keras.backend.backend()
    if backend not in MODULES:
        raise RuntimeError(f"training on the '{backend}' backend is not supported "
                           f"(use KERAS_BACKEND={', '.join(MODULES)})")
    return importlib.import_module(MODULES[backend])


def run_stateful_step(model, step, args):
    """TensorFlow and PyTorch: the step reads and writes the variables directly."""
    (data,) = args
    return step(data, minimize=model._backend.minimize)
