"""The stop button: SIGINT (Ctrl-C, a notebook's or Colab's stop) and SIGTERM (a scheduler) during training.

The first signal lets the step in progress finish, then abandons the epoch it belongs to: the run keeps the
checkpoint of its last finished epoch, untouched, and `cgan.training.train` records `status: interrupted`. A second
signal stops at once, wherever training is; the run folder stays consistent, because an epoch's files are
staged and committed with its checkpoint (cgan.runs: a save cut short is finished or dropped before the run
records its stop) and TensorBoard's append-only events tolerate a cut.

Why the last finished epoch and not a checkpoint of the cut-short one: the epoch is the unit of resume. A
mid-epoch checkpoint would either record half an epoch as done (and the resumed run would differ from an
uninterrupted one) or need the position within the epoch's order, the half-epoch's loss means and its
iteration rows as well. Going back to the epoch's start, with the seed states and the (seed, epoch) order
of `cgan.training.batches`, makes the resumed run draw exactly what the uninterrupted one draws, and every epoch
appears once in history.csv. The price is the unfinished part of one epoch.

A signal that arrives during an epoch's end-of-epoch work (evaluation, grids, checkpoint) lets that work
finish, so that epoch is kept. Handlers can only be installed in the main thread; elsewhere a plain
KeyboardInterrupt does the same job, minus the wait for the step.
"""
from __future__ import annotations

import contextlib
import signal
import threading

import keras

from cgan.errors import TrainingInterrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopButton(keras.callbacks.Callback):
    """Turns SIGINT/SIGTERM into a stop at the next step boundary (`installed()` sets the handlers)."""

    def __init__(self):
        super().__init__()
        self.signum, self.epoch, self.step = None, 0, 0

    @contextlib.contextmanager
    def installed(self):
        """Handle SIGINT and SIGTERM inside the block, then put the previous handlers back."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
        for signum in SIGNALS:
            signal.signal(signum, self._on_signal)
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum, frame):
        if self.signum is not None:  # asked twice: the user does not want to wait for the step
            raise TrainingInterrupted(self.describe(at_once=True), signum)
        self.signum = signum

    def describe(self, at_once: bool = False) -> str:
        name = signal.Signals(self.signum or signal.SIGINT).name
        where = f"epoch {self.epoch + 1}" + (f" (after step {self.step})" if self.step else "")
        return f"interrupted by {name}{' twice' if at_once else ''} during {where}"

    def _stop_if_asked(self):
        if self.signum is not None:
            raise TrainingInterrupted(self.describe(), self.signum)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.step = epoch, 0

    def on_train_batch_begin(self, batch, logs=None):
        self._stop_if_asked()  # a signal during the previous epoch's end-of-epoch work: that epoch is saved

    def on_train_batch_end(self, batch, logs=None):
        self.step = batch + 1
        self._stop_if_asked()
