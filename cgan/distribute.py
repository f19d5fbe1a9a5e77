"""Data parallelism on several devices through Keras's own distribution API.

`use_data_parallel()` (or CGAN_DATA_PARALLEL=1 for `cgan train`) replicates G,
D and both optimizers on every local device and splits each batch between
them; JAX's compiler inserts the gradient all-reduce. It must run before the
models are built. Keras implements `keras.distribution` for JAX only, so the
other backends get a clear error instead of a silently single-device run.

Several machines: the same code runs as one JAX process per host. Start every
process with the same coordinator (host 0's address) and its own id, e.g. on
two hosts:

    # host 0                                      # host 1
    CGAN_COORDINATOR=10.0.0.1:1234 \\              CGAN_COORDINATOR=10.0.0.1:1234 \\
    CGAN_NUM_PROCESSES=2 CGAN_PROCESS_ID=0 \\      CGAN_NUM_PROCESSES=2 CGAN_PROCESS_ID=1 \\
    KERAS_BACKEND=jax CGAN_DATA_PARALLEL=1 \\      KERAS_BACKEND=jax CGAN_DATA_PARALLEL=1 \\
    cgan train --config ...                       cgan train --config ...

`keras.distribution.initialize` then connects the processes before any device
is listed, and `list_devices()` returns the devices of all hosts. Each process
feeds its own batches (`batch_size` is per process, the global batch is the
sum) and gradients are averaged across processes, so all hold the same
weights; with `cgan train` every process reads the whole training set in its
own shuffled order. CPU-only hosts use JAX's gloo collectives (its default
since 0.5); tests/test_distribute.py runs two such processes on localhost.
"""
from __future__ import annotations

import os
import sys


def use_data_parallel(devices=None):
    """Make every later-built Keras model data-parallel over `devices` (default: all)."""
    import keras

    if keras.backend.backend() != "jax":
        from cgan.config import ConfigError

        raise ConfigError(f"data parallelism needs KERAS_BACKEND=jax (keras.distribution supports only JAX), "
                          f"not {keras.backend.backend()}")
    if os.environ.get("CGAN_COORDINATOR"):
        keras.distribution.initialize(job_addresses=os.environ["CGAN_COORDINATOR"],
                                      num_processes=int(os.environ["CGAN_NUM_PROCESSES"]),
                                      process_id=int(os.environ["CGAN_PROCESS_ID"]))
    devices = devices or keras.distribution.list_devices()
    distribution = keras.distribution.DataParallel(devices=devices)
    if distribution.num_processes > 1:
        # Keras would only auto-shard a tf.data pipeline; each process feeds its own numpy batches instead.
        distribution.auto_shard_dataset = False
    keras.distribution.set_distribution(distribution)
    print(f"cgan: data parallel over {len(devices)} device(s): {', '.join(map(str, devices))}", file=sys.stderr)
    return distribution
