"""Watching training: a progress bar per epoch (tqdm) and TensorBoard logs (tensorboardX).

tqdm draws the bar (a widget in Jupyter and Colab, text in a terminal) and gives images/s and the epoch's ETA;
the postfix adds the losses and the run's ETA. tensorboardX writes TensorBoard's event files without a
training framework, so the same code runs on the TensorFlow, PyTorch and JAX backends.
"""
from __future__ import annotations

import math
import sys
import threading
import time

import keras
import numpy as np


class ProgressBar(keras.callbacks.Callback):
    """One bar per epoch, counted in images: images/s and the epoch's ETA, losses and the run's ETA.

    The run's ETA is the rest of this epoch at the current rate, plus each later epoch at the current rate
    and the measured end-of-epoch work (evaluation, grids, saving); capped by the time budget, if any.
    """

    def __init__(self, train_size: int, batch_size: int, epochs: int, time_budget: float | None = None):
        super().__init__()
        from tqdm.auto import tqdm  # a widget under Jupyter (ipywidgets), text elsewhere

        self.tqdm, self.train_size, self.batch_size = tqdm, train_size, batch_size
        self.epochs, self.time_budget = epochs, time_budget
        self.bar, self._overheads, self._last_step_end = None, [], None
        notebook = tqdm.__module__.startswith("tqdm.notebook")
        # In a terminal or notebook, redraw twice a second; in a log file, a line a minute is plenty.
        self.mininterval = 0.5 if notebook or sys.stderr.isatty() else 60.0

    def on_train_begin(self, logs=None):
        self._run_start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        now = time.perf_counter()
        if self._last_step_end is not None:  # the previous epoch's evaluation, grids and saving
            self._overheads.append(now - self._last_step_end)
        self.epoch = epoch
        self.bar = self.tqdm(total=self.train_size, desc=f"epoch {epoch + 1}/{self.epochs}", unit="img",
                             leave=True, dynamic_ncols=True, mininterval=self.mininterval, disable=False)

    def on_train_batch_end(self, batch, logs=None):
        self._last_step_end = time.perf_counter()
        self.bar.set_postfix(self._postfix(logs), refresh=False)
        self.bar.update(min(self.batch_size, self.bar.total - self.bar.n))

    def on_epoch_end(self, epoch, logs=None):
        """Placed after DiscriminatorReport, so the closing line also shows D's test accuracy."""
        postfix = self._postfix(logs)
        if "test_d_accuracy" in logs:
            postfix["D acc (test)"] = float(logs["test_d_accuracy"])
        self.bar.set_postfix(postfix, refresh=False)
        self.close()

    def _postfix(self, logs) -> dict:
        postfix = {key: float(logs[key]) for key in ("d_loss", "g_loss") if key in logs}
        eta = self.run_eta()
        if eta is not None:
            postfix["run ETA"] = self.tqdm.format_interval(eta)
        return postfix

    def run_eta(self) -> float | None:
        """Seconds until the run ends, or None before the first step."""
        if self.bar is None or not self.bar.n:
            return None
        timing = self.bar.format_dict
        # images/s: tqdm's smoothed rate, or the epoch's mean until tqdm has redrawn once
        rate = timing["rate"] or self.bar.n / max(timing["elapsed"], 1e-9)
        overhead = float(np.mean(self._overheads)) if self._overheads else 0.0
        later_epochs = self.epochs - self.epoch - 1
        eta = (self.train_size - self.bar.n) / rate + later_epochs * (self.train_size / rate + overhead)
        if self.time_budget:
            eta = min(eta, max(0.0, self.time_budget - (time.perf_counter() - self._run_start)))
        return eta

    def write(self, line: str) -> None:
        """Print a line above the bar instead of through it."""
        self.tqdm.write(line, file=sys.stdout)
        sys.stdout.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def tensorboard_tag(key: str) -> str:
    """TensorBoard groups tags by their prefix; the part after the slash is the history.csv column."""
    if key.startswith("quality_"):
        group = "quality"
    elif key.startswith(("train_d_", "test_d_")):  # D's accuracy, precision, recall, F1
        group = "discriminator"
    elif key.endswith("_seconds") or key == "images_per_second":
        group = "time"
    else:
        group = "loss"
    return f"{group}/{key}"


class TensorBoardLog(keras.callbacks.Callback):
    """Per-step losses (means over `stride` steps), per-epoch history columns and the evolution grid,
    in <run>/tensorboard/.

    The x axis is the training step (batches since the run began), so a resumed run continues the curves:
    its writer purges the events past its checkpoint, which the interrupted process may have written.
    Goes after EvolutionGrid (it shows that epoch's grid) and the quality monitor.
    """

    # A scalar costs about a millisecond to write (tensorboardX on a CPU), so long epochs log the mean of
    # every `stride` steps: no more than about 200 points per epoch.
    POINTS_PER_EPOCH = 100

    def __init__(self, run, steps_per_epoch: int, first_epoch: int, train_size: int):
        super().__init__()
        from tensorboardX import SummaryWriter

        self.run, self.steps_per_epoch, self.train_size = run, steps_per_epoch, train_size
        self.stride = max(1, steps_per_epoch // self.POINTS_PER_EPOCH)
        self.step = first_epoch * steps_per_epoch
        self.writer = SummaryWriter(str(run.tensorboard), purge_step=self.step + 1, flush_secs=30)
        # tensorboardX writes from a thread of its own; a full disk ends that thread, which would print a
        # traceback and leave a queue that blocks once full. `_writer_failed` turns that into one line and
        # stops logging; the epoch's save then meets the full disk too and ends the run (cgan.training.train).
        self.failed, self._previous_hook = False, threading.excepthook
        threading.excepthook = self._writer_failed

    def _writer_failed(self, args):
        if not (issubclass(args.exc_type, OSError) and type(args.thread).__module__.startswith("tensorboardX")):
            self._previous_hook(args)
            return
        if not self.failed:
            print(f"cgan: TensorBoard logging stopped: {args.exc_value.strerror or args.exc_value}", file=sys.stderr,
                  flush=True)
        self.failed = True

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self._window = epoch, []

    def on_train_batch_end(self, batch, logs=None):
        self.step = self.epoch * self.steps_per_epoch + batch + 1
        if self.failed:
            return
        self._window.append((float(logs["d_loss_step"]), float(logs["g_loss_step"])))
        if self.step % self.stride == 0:
            for key, value in zip(("d_loss", "g_loss"), np.mean(self._window, axis=0)):
                self.writer.add_scalar(f"step/{key}", value, self.step)
            self._window = []

    def on_epoch_end(self, epoch, logs=None):
        if self.failed:
            return
        scalars = {key: float(value) for key, value in logs.items() if not key.endswith("_step")}
        if scalars.get("train_seconds"):
            scalars["images_per_second"] = self.train_size / scalars["train_seconds"]
        for key, value in scalars.items():
            if math.isfinite(value):  # quality_* columns are NaN on the epochs that were not scored
                self.writer.add_scalar(tensorboard_tag(key), value, self.step)
        grid = self.run.evolution / f"epoch_{epoch + 1:03d}.png"
        if grid.is_file():
            from PIL import Image

            with Image.open(grid) as image:
                self.writer.add_image("evolution", np.asarray(image.convert("RGB")), self.step, dataformats="HWC")
        self.writer.flush()  # so TensorBoard shows the epoch now, not when the run ends

    def close(self) -> None:
        if threading.excepthook == self._writer_failed:
            threading.excepthook = self._previous_hook
        if self.failed:  # its thread is gone: closing would wait on it forever
            return
        try:
            self.writer.close()
        except OSError:  # a full disk: the events written so far stay readable
            pass
