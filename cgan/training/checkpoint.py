"""One epoch's checkpoint: G, D, the EMA generator, both optimizers, every seed state and the loss averages.

The run folder (`cgan.runs.RunFolder`) knows where an epoch's files go and how an epoch is committed; this
module knows what a `ConditionalGAN` must save so that a resumed run trains on as an uninterrupted one would.
Checkpoints from every earlier cgan still load: those without per-epoch folders, without every seed state,
without loss averages.
"""
from __future__ import annotations

import math

import numpy as np

from cgan.errors import RunError
from cgan.io import atomic_write
from cgan.runs import SAVE_MARGIN_BYTES, RunFolder


def save_bytes(run: RunFolder, gan) -> int:
    """About what one epoch's save writes: the checkpoint, the two generator files, and the rewritten logs."""
    def size(variables):
        return sum(np.dtype(v.dtype).itemsize * math.prod(v.shape) for v in variables)

    weights = [*gan.generator.weights, *gan.discriminator.weights, *gan.d_optimizer.variables,
               *gan.g_optimizer.variables, *(gan.ema_generator.weights if gan.ema_generator is not None else ())]
    rewritten = sum(p.stat().st_size for p in (run.iterations, run.history, run.gif) if p.is_file())
    return size(weights) + 2 * size(gan.sampler.weights) + rewritten + SAVE_MARGIN_BYTES


def save_checkpoint(run: RunFolder, gan, epoch: int) -> None:
    """Write epoch `epoch`'s checkpoint, commit it, and publish what the epoch staged (`RunFolder.staged`)."""
    folder = run.epoch_folder(epoch)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "generator.weights.h5", gan.generator.save_weights)
    atomic_write(folder / "discriminator.weights.h5", gan.discriminator.save_weights)
    if gan.ema_generator is not None:
        atomic_write(folder / "ema_generator.weights.h5", gan.ema_generator.save_weights)
    arrays = {f"d_{i}": np.asarray(v) for i, v in enumerate(gan.d_optimizer.variables)}
    arrays.update({f"g_{i}": np.asarray(v) for i, v in enumerate(gan.g_optimizer.variables)})
    # Every seed state (noise, DiffAugment, Dropout masks): a resume draws what an uninterrupted run would.
    arrays.update({f"seed_{i}": np.asarray(v) for i, v in enumerate(gan.random_states)})
    arrays.update({f"loss_{i}": np.asarray(v) for i, v in enumerate(gan.loss_states)})
    atomic_write(folder / "optimizers.npz", lambda tmp: np.savez(tmp, **arrays))
    run.commit_epoch(epoch)


def load_checkpoint(run: RunFolder, gan) -> int:
    """Restore `gan` from the run's committed checkpoint; returns its epoch."""
    folder = run.checkpoint_folder()
    try:
        gan.generator.load_weights(folder / "generator.weights.h5")
        gan.discriminator.load_weights(folder / "discriminator.weights.h5")
        if gan.ema_generator is not None:
            gan.ema_generator.load_weights(folder / "ema_generator.weights.h5")
        with np.load(folder / "optimizers.npz", allow_pickle=False) as saved:
            for prefix, optimizer in (("d", gan.d_optimizer), ("g", gan.g_optimizer)):
                for i, variable in enumerate(optimizer.variables):
                    variable.assign(saved[f"{prefix}_{i}"])
            _restore_random_states(gan, saved)
            for i, variable in enumerate(gan.loss_states):
                if f"loss_{i}" in saved.files:  # absent from checkpoints written before the option existed
                    variable.assign(saved[f"loss_{i}"])
    except Exception as exc:
        raise RunError(f"cannot resume from {folder}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    return run.checkpoint_epoch()


def _restore_random_states(gan, saved) -> None:
    states = gan.random_states
    if "seed_0" not in saved:  # a checkpoint from before every seed state was kept: the GAN's own only
        states[0].assign(saved["seed_state"])
        return
    count = sum(1 for key in saved.files if key.startswith("seed_"))
    if count != len(states):
        raise ValueError(f"it holds {count} seed states and this model has {len(states)}")
    for i, state in enumerate(states):
        state.assign(saved[f"seed_{i}"])
