"""Keras callbacks that turn `fit` into a recorded run.

Order matters: `EpochClock` stamps the training time first, `DiscriminatorReport`
adds D's metrics to the epoch logs, `EvolutionGrid` draws the fixed-noise grid,
and `cgan.training.recorder.RunRecorder` writes everything to the run folder last: staged, then committed
together with the checkpoint, so the folder always shows one epoch.
"""
from __future__ import annotations

import math
import time

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from cgan import plots
from cgan.batching import inference_batch
from cgan.data import to_uint8
from cgan.errors import TrainingDiverged
from cgan.io import atomic_write
from cgan.runs import RunFolder, frame_epoch


def generate_images(generator, noise, labels) -> np.ndarray:
    """Generator output for numpy noise and labels, in [-1, 1], as numpy."""
    batch_size = inference_batch(generator)
    out = [keras.ops.convert_to_numpy(generator([noise[i:i + batch_size], labels[i:i + batch_size]], training=False))
           for i in range(0, len(noise), batch_size)]
    return np.concatenate(out)


def predict_real(discriminator, images, labels) -> np.ndarray:
    batch_size = inference_batch(discriminator)
    out = [keras.ops.convert_to_numpy(discriminator([images[i:i + batch_size], labels[i:i + batch_size]],
                                                    training=False))
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out).reshape(-1)


def discriminator_scores(discriminator, real, real_labels, fake, fake_labels, threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall and F1 of D, with real images as the positive class.

    D calls an image real when its output exceeds `threshold` (0.5 for a probability, 0 for a score).
    """
    outputs = np.concatenate([predict_real(discriminator, real, real_labels),
                              predict_real(discriminator, fake, fake_labels)])
    truth = np.concatenate([np.ones(len(real), int), np.zeros(len(fake), int)])
    guess = (outputs > threshold).astype(int)
    return {"accuracy": accuracy_score(truth, guess),
            "precision": precision_score(truth, guess, zero_division=0),
            "recall": recall_score(truth, guess, zero_division=0),
            "f1": f1_score(truth, guess, zero_division=0)}


class EpochClock(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs["train_seconds"] = time.perf_counter() - self._start


class DiscriminatorReport(keras.callbacks.Callback):
    """D's metrics on `samples` real + `samples` generated images, for train and test."""

    def __init__(self, dataset, samples: int, latent_dim: int, seed: int):
        super().__init__()
        self.dataset, self.samples, self.latent_dim, self.seed = dataset, samples, latent_dim, seed

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        rng = np.random.default_rng([self.seed, epoch])
        gan, ds = self.model, self.dataset
        for split, x, y in (("train", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)):
            idx = rng.choice(len(x), size=min(self.samples, len(x)), replace=False)
            noise = rng.standard_normal((len(idx), self.latent_dim)).astype("float32")
            fake_labels = rng.integers(0, ds.num_classes, size=(len(idx), 1)).astype("int32")
            # The raw G, the one D trains against (its test loss uses it too); the EMA sampler's quality
            # is what the quality columns (cgan.training.quality) report.
            fake = generate_images(gan.generator, noise, fake_labels)
            scores = discriminator_scores(gan.discriminator, x[idx], y[idx].reshape(-1, 1), fake, fake_labels,
                                          gan.real_threshold)
            logs.update({f"{split}_d_{k}": float(v) for k, v in scores.items()})
        logs["eval_seconds"] = time.perf_counter() - start


class EvolutionGrid(keras.callbacks.Callback):
    """One grid per epoch from the same noise, one cell per class."""

    def __init__(self, run: RunFolder, label_names, latent_dim: int, seed: int):
        super().__init__()
        self.run, self.names = run, list(label_names)
        rng = np.random.default_rng(seed)
        self.noise = rng.standard_normal((len(self.names), latent_dim)).astype("float32")
        self.labels = np.arange(len(self.names), dtype="int32").reshape(-1, 1)

    def on_epoch_end(self, epoch, logs=None):
        images = to_uint8(generate_images(self.model.sampler, self.noise, self.labels))
        done = epoch + 1
        # Staged with the rest of the epoch's save (RunRecorder): shown once the epoch's checkpoint commits.
        path = self.run.staged(done, f"evolution/epoch_{done:03d}.png")
        atomic_write(path, lambda tmp: plots.labelled_grid(images, self.names, f"epoch {done}", tmp))
        # By epoch, not by name: epoch_1000 comes after epoch_999.
        earlier = sorted((epoch, f) for f in self.run.evolution.glob("epoch_*.png")
                         if (epoch := frame_epoch(f)) is not None and epoch < done)
        frames, epochs = [f for _, f in earlier] + [path], [epoch for epoch, _ in earlier] + [done]
        atomic_write(self.run.staged(done, "evolution.gif"),
                     lambda tmp: plots.write_gif(frames, tmp, epochs=epochs))


class TimeBudget(keras.callbacks.Callback):
    """Stops `fit` after the step that crosses a wall-clock budget (per-epoch work included).

    Keras then still ends the cut-short epoch (validation, grids, checkpoint), so the
    run folder stays complete; `reason` says where it stopped.
    """

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds, self.reason = seconds, None

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.reason is None and time.perf_counter() - self._start >= self.seconds:
            self.model.stop_training = True
            self.reason = (f"time budget of {self.seconds:g} s reached at step {batch + 1} of epoch {self.epoch}; "
                           f"that epoch is recorded as done")


class IterationLog(keras.callbacks.Callback):
    """Per-step losses, kept in memory during an epoch and flushed at its end."""

    def __init__(self, print_every: int = 0, write=None):
        super().__init__()
        self.rows, self.print_every = [], print_every
        self.write = write or (lambda line: print(line, flush=True))  # a progress bar passes its own

    def on_epoch_begin(self, epoch, logs=None):
        self.rows, self.epoch, self._start = [], epoch + 1, time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        d_loss, g_loss = float(logs["d_loss_step"]), float(logs["g_loss_step"])
        if not (math.isfinite(d_loss) and math.isfinite(g_loss)):
            # Raising (not stop_training) keeps the epoch-end callbacks from saving NaN weights.
            raise TrainingDiverged(f"loss became {d_loss if not math.isfinite(d_loss) else g_loss} "
                                   f"({'D' if not math.isfinite(d_loss) else 'G'}) at epoch {self.epoch}, "
                                   f"step {batch + 1}")
        self.rows.append((self.epoch, batch + 1, d_loss, g_loss))
        if self.print_every and (batch + 1) % self.print_every == 0:
            rate = (batch + 1) / (time.perf_counter() - self._start)
            self.write(f"  epoch {self.epoch} step {batch + 1}: d_loss {self.rows[-1][2]:.3f} "
                       f"g_loss {self.rows[-1][3]:.3f} ({rate:.2f} steps/s)")

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["epoch", "step", "d_loss", "g_loss"])
