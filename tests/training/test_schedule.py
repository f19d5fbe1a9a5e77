"""Learning-rate decay (cgan/training/schedule.py) and LeCam regularisation (cgan/training/gan.py), on tiny models, without fit."""
import keras
import numpy as np
import pytest

from cgan.config import parse_config
from cgan.errors import ConfigError
from cgan.training.checkpoint import load_checkpoint, save_checkpoint
from cgan.training.gan import build_gan
from cgan.training.schedule import LearningRateDecay, decay_factor

BASE = {"dataset": "cifar10", "model": "fast32", "version": "v1", "epochs": 10, "batch_size": 4, "latent_dim": 8,
        "d_optimizer": {"name": "adam", "learning_rate": 0.001}, "g_optimizer": {"name": "adam", "learning_rate": 0.002},
        "model_options": {"g_filters": [8, 4], "d_filters": [4, 8]}}


def test_decay_is_flat_then_linear_to_its_final_factor():
    factors = [decay_factor(e, 10, start=0.5, final=0.1) for e in range(10)]
    assert factors[:6] == [1.0] * 6  # epoch 5 (0-based) is where the decay starts from
    assert factors[-1] == pytest.approx(0.1)
    assert np.all(np.diff(factors[5:]) < 0)
    assert decay_factor(0, 1, 0.5, 0.0) == 1.0  # a one-epoch run never decays


def test_the_callback_sets_both_rates_from_the_epoch_alone():
    cfg = parse_config({**BASE, "lr_decay": {"start": 0.5, "final": 0.0}})
    gan = build_gan(cfg, (16, 16, 3), 10)
    callback = LearningRateDecay({"d_optimizer": 0.001, "g_optimizer": 0.002}, 10, 0.5, 0.0)
    callback.set_model(gan)
    callback.on_epoch_begin(7)  # as a resumed run's first epoch would
    expected = decay_factor(7, 10, 0.5, 0.0)
    assert float(keras.ops.convert_to_numpy(gan.d_optimizer.learning_rate)) == pytest.approx(0.001 * expected)
    assert float(keras.ops.convert_to_numpy(gan.g_optimizer.learning_rate)) == pytest.approx(0.002 * expected)


def test_lecam_adds_a_penalty_only_in_training_and_moves_its_averages():
    plain = build_gan(parse_config(BASE), (16, 16, 3), 10)
    lecam = build_gan(parse_config({**BASE, "lecam_weight": 10.0}), (16, 16, 3), 10)
    lecam.generator.set_weights(plain.generator.get_weights())
    lecam.discriminator.set_weights(plain.discriminator.get_weights())
    lecam.lecam_real.assign(5.0)  # averages far from D's outputs near 0, so the one-sided penalty bites
    lecam.lecam_fake.assign(-5.0)
    real = np.zeros((4, 16, 16, 3), "float32")
    labels = np.arange(4, dtype="int32").reshape(-1, 1)
    noise = np.ones((4, 8), "float32")

    def loss(gan, training):
        return float(keras.ops.convert_to_numpy(gan.discriminator_loss(real, labels, noise, labels, training)))

    assert loss(lecam, training=False) == pytest.approx(loss(plain, training=False), rel=1e-5)
    assert loss(lecam, training=True) > loss(plain, training=True) + 100.0
    assert float(keras.ops.convert_to_numpy(lecam.lecam_real)) < 5.0


def test_lecam_needs_a_score_discriminator():
    with pytest.raises(ConfigError, match="LeCam"):
        parse_config({**BASE, "model": "m1", "lecam_weight": 0.1})


def test_a_checkpoint_keeps_lecams_averages(tmp_path):
    from cgan.runs import RunFolder

    cfg = parse_config({**BASE, "lecam_weight": 0.3})
    saved, resumed = build_gan(cfg, (16, 16, 3), 10), build_gan(cfg, (16, 16, 3), 10)
    saved.lecam_real.assign(0.25)
    saved.lecam_fake.assign(-0.5)
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    save_checkpoint(run, saved, 1)
    assert load_checkpoint(run, resumed) == 1
    assert [float(keras.ops.convert_to_numpy(v)) for v in resumed.loss_states] == [0.25, -0.5]
