"""The fast model and the training extras it uses: score losses, EMA sampler, DiffAugment, time budget."""
import json

import keras
import numpy as np
import pytest

from cgan.config import load_config
from cgan.errors import ConfigError
from cgan.runs import RunFolder
from cgan.training.augment import diff_augment
from cgan.training.callbacks import discriminator_scores
from cgan.training.checkpoint import load_checkpoint, save_checkpoint
from cgan.training.gan import LOSSES
from cgan.training.train import build_gan, train
from tests.backend_roundtrip import ema_formula_error

TINY = {"g_filters": [8, 4], "d_filters": [4, 8]}


def _fast_cfg(**changes):
    base = dict(latent_dim=8, batch_size=8, model_options=TINY)
    return load_config("configs/mnist/fast_v1.toml").with_overrides(**{**base, **changes})


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _data(n=32, shape=(28, 28, 1)):
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (n, *shape)).astype("float32"), rng.integers(0, 10, n).astype("int32")


@pytest.mark.parametrize("shape,classes", [((28, 28, 1), 10), ((32, 32, 3), 100)])
def test_fast_model_builds_for_any_shape_and_scores_depend_on_the_label(shape, classes):
    gan = build_gan(_fast_cfg(), shape, classes)
    noise = np.random.default_rng(0).standard_normal((4, 8)).astype("float32")
    images = _numpy(gan.generator([noise, np.zeros((4, 1), "int32")]))
    assert images.shape == (4, *shape)
    # Projection: the same images judged under two labels get different scores.
    score_a = _numpy(gan.discriminator([images, np.zeros((4, 1), "int32")]))
    score_b = _numpy(gan.discriminator([images, np.ones((4, 1), "int32")]))
    assert score_a.shape == (4, 1) and np.abs(score_a - score_b).max() > 0


def test_score_losses_reward_the_right_side():
    real, fake = keras.ops.convert_to_tensor([[3.0]]), keras.ops.convert_to_tensor([[-3.0]])
    for (output, name), (d_loss, g_loss) in LOSSES.items():
        if output != "score":
            continue
        assert float(d_loss(real, fake)) < float(d_loss(fake, real)), name
        assert float(g_loss(real)) < float(g_loss(fake)), name
    hinge_d, hinge_g = LOSSES[("score", "hinge")]
    assert float(hinge_d(real, fake)) == 0.0 and float(hinge_g(fake)) == 3.0


def test_discriminator_metrics_use_the_score_threshold():
    d = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")])
    call = lambda inputs, training=False: d(inputs[0])  # noqa: E731  (ignores the label)
    real, fake = np.full((4, 1), 0.3, "float32"), np.full((4, 1), -0.3, "float32")
    labels = np.zeros((4, 1), "int32")
    assert discriminator_scores(call, real, labels, fake, labels, threshold=0.0)["accuracy"] == 1.0
    assert discriminator_scores(call, real, labels, fake, labels, threshold=0.5)["accuracy"] == 0.5


def test_hinge_with_a_probability_model_is_a_config_error():
    with pytest.raises(ConfigError, match="hinge loss needs a discriminator that outputs a score"):
        load_config("configs/mnist/m1_v2.toml").with_overrides(loss="hinge")
    with pytest.raises(ConfigError, match="twice"):
        _fast_cfg(augment=["color", "color"])


@pytest.mark.parametrize("decay", [0.2, 0.999])  # 0.999: warm-up only, (1 + t) / (10 + t) < decay
def test_ema_generator_follows_the_update_formula_and_survives_a_checkpoint(tmp_path, decay):
    cfg = _fast_cfg(ema_decay=decay, d_steps=2)
    gan = build_gan(cfg, (28, 28, 1), 10)
    assert gan.sampler is gan.ema_generator
    x, y = _data()
    assert ema_formula_error(gan, x, y, steps=3) < 1e-5
    assert int(gan.d_optimizer.iterations) == 6 and int(gan.g_optimizer.iterations) == 3
    ema = [_numpy(w) for w in gan.ema_generator.weights]
    run = RunFolder(tmp_path)
    save_checkpoint(run, gan, 1)
    fresh = build_gan(cfg, (28, 28, 1), 10)
    load_checkpoint(run, fresh)
    for a, b in zip(ema, fresh.ema_generator.weights):
        np.testing.assert_array_equal(a, _numpy(b))


def test_without_ema_the_generator_is_the_sampler():
    gan = build_gan(_fast_cfg(ema_decay=0.0), (28, 28, 1), 10)
    assert gan.ema_generator is None and gan.sampler is gan.generator


def test_translation_shifts_and_cutout_blanks_half_the_image():
    x = np.random.default_rng(0).uniform(0.5, 1, (40, 16, 16, 1)).astype("float32")
    seed = keras.random.SeedGenerator(3)
    moved = _numpy(diff_augment(keras.ops.convert_to_tensor(x), ["translation"], seed))
    for original, shifted in zip(x, moved):
        padded = np.pad(original, ((2, 2), (2, 2), (0, 0)))
        assert any(np.array_equal(padded[2 + dy:18 + dy, 2 + dx:18 + dx], shifted)
                   for dy in range(-2, 3) for dx in range(-2, 3))
    cut = _numpy(diff_augment(keras.ops.convert_to_tensor(x), ["cutout"], seed))
    zeros = (cut == 0).reshape(len(x), -1).sum(axis=1)
    assert zeros.max() == 64 and zeros.min() > 0  # an 8×8 square, clipped at the border
    coloured = _numpy(diff_augment(keras.ops.convert_to_tensor(x), ["color"], seed))
    assert np.abs(coloured - x).max() > 0.01


@pytest.mark.slow
def test_time_budget_stops_the_run_after_one_step_and_says_so(tmp_path, data_dir):
    cfg = _fast_cfg(subset=200, batch_size=32, epochs=3, eval_samples=20)
    run = train(cfg, out=tmp_path / "run", data_dir=data_dir, verbose=0, time_budget=1e-6)
    summary = json.loads(run.summary.read_text())
    assert summary["status"] == "stopped" and "time budget" in summary["stop_reason"]
    assert summary["epochs_done"] == 1 and summary["images_seen"] == 32
    assert run.generator_keras.is_file() and run.checkpoint_epoch() == 1


def test_the_config_accepts_exactly_the_augmentations_that_exist():
    # cgan.config keeps its own list so that loading a config does not import keras.
    from cgan import config
    from cgan.training import augment

    assert set(config.AUGMENTATIONS) == set(augment.AUGMENTATIONS)
