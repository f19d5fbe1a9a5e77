"""Learning-rate decay over the last part of a run, as a Keras callback.

Epoch-based rather than time-based, so a resumed run follows the same schedule as an uninterrupted one: the
rate of an epoch is a function of its index alone.
"""
from __future__ import annotations

import keras


def decay_factor(epoch: int, epochs: int, start: float, final: float) -> float:
    """Multiplier of the base learning rate for 0-based `epoch` of `epochs`: 1 until `start` × epochs, then
    linear, reaching `final` at the last epoch."""
    first = int(start * epochs)
    if epoch < first or epochs - 1 <= first:
        return 1.0
    return 1.0 - (1.0 - final) * (epoch - first) / (epochs - 1 - first)


class LearningRateDecay(keras.callbacks.Callback):
    def __init__(self, base_rates: dict[str, float], epochs: int, start: float, final: float):
        super().__init__()
        self.base_rates, self.epochs, self.start, self.final = base_rates, epochs, start, final

    def on_epoch_begin(self, epoch, logs=None):
        factor = decay_factor(epoch, self.epochs, self.start, self.final)
        for name, base in self.base_rates.items():  # "d_optimizer", "g_optimizer"
            getattr(self.model, name).learning_rate.assign(base * factor)
