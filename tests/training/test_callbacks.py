"""D's per-epoch metrics judge the raw G, the one D trains against, not the EMA sampler."""
from types import SimpleNamespace

import numpy as np

from cgan.training.callbacks import DiscriminatorReport

SHAPE = (4, 4, 1)


def _constant_generator(value):
    return lambda inputs, training=False: np.full((len(inputs[0]), *SHAPE), value, "float32")


def test_discriminator_metrics_use_the_raw_generator_not_the_ema_sampler():
    # D outputs the mean pixel as a score: real images (+1) and the raw G's images (-1) are told apart,
    # the EMA sampler's images (+1) would pass as real.
    gan = SimpleNamespace(generator=_constant_generator(-1.0), sampler=_constant_generator(1.0),
                          discriminator=lambda inputs, training=False: inputs[0].mean(axis=(1, 2, 3))[:, None],
                          real_threshold=0.0)
    real = np.ones((20, *SHAPE), "float32")
    labels = np.zeros(20, "int32")
    data = SimpleNamespace(x_train=real, y_train=labels, x_test=real, y_test=labels, num_classes=2)
    report = DiscriminatorReport(data, samples=10, latent_dim=3, seed=0)
    report.set_model(gan)
    logs = {}
    report.on_epoch_end(0, logs)
    assert logs["train_d_accuracy"] == logs["test_d_accuracy"] == 1.0  # the EMA images would give 0.5
    assert logs["train_d_precision"] == 1.0
