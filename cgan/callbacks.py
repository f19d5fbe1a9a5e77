"""Keras callbacks that turn `fit` into a recorded run.

Order matters: `EpochClock` stamps the training time first, `DiscriminatorReport`
adds D's metrics to the epoch logs, `EvolutionGrid` draws the fixed-noise grid,
and `RunRecorder` writes everything to the run folder last: staged, then committed
together with the checkpoint (cgan.runs), so the folder always shows one epoch.
"""
from __future__ import annotations

import math
import time

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from cgan import plots
from cgan.data import to_uint8
from cgan.runs import RunFolder, TrainingDiverged, atomic_write, frame_epoch, write_json

ITERATION_FLOAT_FORMAT = "%.6g"


def generate_images(generator, noise, labels, batch_size: int = 500) -> np.ndarray:
    """Generator output for numpy noise and labels, in [-1, 1], as numpy."""
    out = [keras.ops.convert_to_numpy(generator([noise[i:i + batch_size], labels[i:i + batch_size]], training=False))
           for i in range(0, len(noise), batch_size)]
    return np.concatenate(out)


def predict_real(discriminator, images, labels, batch_size: int = 500) -> np.ndarray:
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
            # is what the quality columns (cgan.evaluation.callback) report.
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
        earlier = [f for f in self.run.evolution.glob("epoch_*.png") if (frame_epoch(f) or done) < done]
        frames = [*sorted(earlier, key=frame_epoch), path]  # by epoch: epoch_1000 comes after epoch_999
        atomic_write(self.run.staged(done, "evolution.gif"), lambda tmp: plots.write_gif(frames, tmp))


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


class RunRecorder(keras.callbacks.Callback):
    """Writes history, iterations, plots, generator, checkpoint and summary after every epoch."""

    def __init__(self, run: RunFolder, iteration_log: IterationLog, summary_fn, history=None, iterations=None):
        super().__init__()
        self.run, self.iteration_log, self.summary_fn = run, iteration_log, summary_fn
        self.history = history if history is not None else pd.DataFrame()
        self.iterations = iterations if iterations is not None else pd.DataFrame()

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        row = {"epoch": done}
        row.update({k: float(v) for k, v in logs.items() if not k.endswith("_step")})
        self.history = pd.concat([self.history, pd.DataFrame([row])], ignore_index=True)
        self.iterations = pd.concat([self.iterations, self.iteration_log.frame()], ignore_index=True)
        self.run.check_free_space(self.run.save_bytes(self.model))
        # Everything is staged, then committed with the checkpoint (RunFolder.save_checkpoint): a kill or a full
        # disk on the way leaves the previous epoch in every file, and a resume keeps history rows up to it.
        atomic_write(self.run.staged(done, "history.csv"), lambda tmp: self.history.to_csv(tmp, index=False))
        # Six significant digits: a loss needs no more, and a long run's file shrinks 2.5x (CIFAR-10's 2-hour run:
        # 121,000 rows), which counts in git.
        atomic_write(self.run.staged(done, "iterations.csv"),
                     lambda tmp: self.iterations.to_csv(tmp, index=False, float_format=ITERATION_FLOAT_FORMAT))
        plots.plot_history(self.history, self.iterations, self.run.staged(done, "plots"))
        generator = self.model.sampler  # what users generate with: the weight average when there is one
        atomic_write(self.run.staged(done, "generator.keras"), generator.save)
        atomic_write(self.run.staged(done, "generator.h5"), generator.save)
        write_json(self.run.staged(done, "summary.json"), self.summary_fn(self.history, status="running"))
        self.run.save_checkpoint(self.model, done)
