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
weights. Each process trains on its own shard of the training set
(`process_shard`: every n-th image of n processes), so no two hosts feed the
same images; with the same seed everywhere, shared data would give every host
the same shuffle and the same batches. CPU-only hosts use JAX's gloo
collectives (its default since 0.5); tests/test_distribute.py runs two such
processes on localhost.
"""
from __future__ import annotations

import os
import sys


def use_data_parallel(devices=None):
    """Make every later-built Keras model data-parallel over `devices` (default: all)."""
    import keras

    if keras.backend.backend() != "jax":
        from cgan.errors import ConfigError

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


def _this_process() -> tuple[int, int]:
    """(this process's data shard, number of processes) under the active Keras distribution; (0, 1) without one."""
    import keras

    distribution = keras.distribution.distribution()
    if distribution is None or distribution.num_processes <= 1:
        return 0, 1
    return distribution.data_shard_id, distribution.num_processes


def process_shard(*arrays):
    """This process's share of equally long arrays (images, labels, ...): every n-th row of n processes.

    All shards have the same length (up to n - 1 rows are dropped), so every process runs the same
    number of steps per epoch: the gradient all-reduce waits for all of them. One process: unchanged.
    """
    index, count = _this_process()
    if count == 1:
        return arrays
    end = len(arrays[0]) // count * count
    return tuple(a[index:end:count] for a in arrays)
