"""Training batches whose order depends on (seed, epoch) alone, so a resumed run replays nothing.

`fit(..., shuffle=True)` draws each epoch's order from a global RNG. A resumed process re-seeds that RNG, so
epoch k + 1 of a resumed run would get epoch 1's order again. Here the order of epoch e is
`default_rng([seed, e, SHUFFLE_STREAM]).permutation(n)`: an uninterrupted run and a resumed one see the same
batches.

The dataset is endless and indexed by the step count of one `fit` call; `steps_per_epoch` tells Keras where an
epoch ends. Batch i then belongs to epoch `first_epoch + i // steps_per_epoch`, a pure function of i: no state
has to follow Keras's callbacks, and tf.data's prefetching cannot read an epoch before its order is known.
"""
from __future__ import annotations

import math

import keras
import numpy as np

# Keeps the shuffle's random stream apart from DiscriminatorReport's, which is drawn from [seed, epoch].
SHUFFLE_STREAM = 0x5348


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order in which epoch `epoch` (0-based) visits the n training images."""
    return np.random.default_rng([seed, epoch, SHUFFLE_STREAM]).permutation(n)


class EpochBatches(keras.utils.PyDataset):
    """(images, labels) batches of `batch_size`, each epoch in `epoch_order`; an epoch's last batch holds the rest."""

    def __init__(self, x, y, batch_size: int, seed: int, first_epoch: int = 0):
        super().__init__()
        self.x, self.y, self.batch_size, self.seed, self.first_epoch = x, y, batch_size, seed, first_epoch
        self.steps_per_epoch = math.ceil(len(x) / batch_size)
        self._cached = (None, None)  # (epoch, order): one permutation per epoch, not per batch

    @property
    def num_batches(self):
        return None  # endless: fit's steps_per_epoch marks the epochs

    def order(self, epoch: int) -> np.ndarray:
        cached_epoch, order = self._cached
        if cached_epoch != epoch:
            order = epoch_order(self.seed, epoch, len(self.x))
            self._cached = (epoch, order)
        return order

    def __getitem__(self, index):
        epoch, step = divmod(int(index), self.steps_per_epoch)
        picks = self.order(self.first_epoch + epoch)[step * self.batch_size:(step + 1) * self.batch_size]
        return self.x[picks], self.y[picks]
