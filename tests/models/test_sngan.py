"""The SNGAN CIFAR recipe (cgan/models/sngan.py, configs/cifar10/sngan_v1.toml) at tiny widths."""
import json
import tomllib
from pathlib import Path

import keras
import numpy as np
import pytest

from cgan.config import ModelOptions, parse_config
from cgan.models import build_models
from model_checks import check_builds, check_label_reaches_g_and_d, latent_inputs, to_numpy

REPO = Path(__file__).resolve().parents[2]
TINY = ModelOptions(g_filters=[8], d_filters=[8])
LATENT = 16


def _tiny_config(**changes):
    """sngan_v1.toml with tiny widths: the GPU recipe's training settings at CPU-test size."""
    data = tomllib.loads((REPO / "configs/cifar10/sngan_v1.toml").read_text())
    data["model_options"].update(g_filters=[8], d_filters=[8])
    data.update(batch_size=8, latent_dim=LATENT, **changes)
    return parse_config(data)


@pytest.mark.parametrize("shape, classes", [((32, 32, 3), 10), ((24, 24, 1), 100)])
def test_shapes_and_an_unbounded_score(shape, classes):
    keras.utils.set_random_seed(0)  # random weights whose scores happen to fall inside [0, 1] are not a failure
    g, d = check_builds("sngan", shape, classes, LATENT, TINY, "score")
    assert d.layers[-1].name == "score" and isinstance(d.layers[-1], keras.layers.Add)
    # No sigmoid anywhere on the way out: random weights give scores outside [0, 1].
    scores = to_numpy(d([np.random.default_rng(1).uniform(-1, 1, (64, *shape)).astype("float32"),
                          np.arange(64, dtype="int32")[:, None] % classes], training=False))
    assert ((scores < 0) | (scores > 1)).any()


def test_default_widths_are_sngans_and_one_width_per_network():
    g, d = build_models("sngan", (32, 32, 3), 10, 128)
    assert 4.0e6 < g.count_params() < 4.6e6 and 0.9e6 < d.count_params() < 1.2e6
    with pytest.raises(ValueError, match="one width per network"):
        build_models("sngan", (32, 32, 3), 10, LATENT, ModelOptions(g_filters=[8, 8]))


def test_the_label_reaches_both_networks():
    g, d = build_models("sngan", (32, 32, 3), 10, LATENT, TINY)
    check_label_reaches_g_and_d(g, d, LATENT)


@pytest.mark.slow
def test_a_few_training_steps_move_everything():
    from cgan.training.train import build_gan

    cfg = _tiny_config()
    assert cfg.loss == "hinge" and cfg.d_steps == 4 and cfg.ema_decay > 0 and cfg.augment
    gan = build_gan(cfg, (32, 32, 3), 10)
    g_before, d_before = gan.generator.get_weights(), gan.discriminator.get_weights()
    x = np.random.default_rng(0).uniform(-1, 1, (24, 32, 32, 3)).astype("float32")
    gan.fit(x, np.arange(24) % 10, batch_size=8, epochs=1, verbose=0)
    steps = 24 // 8
    assert int(gan.g_optimizer.iterations) == steps and int(gan.d_optimizer.iterations) == cfg.d_steps * steps

    def moved(before, model):
        return any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))

    assert moved(g_before, gan.generator) and moved(d_before, gan.discriminator)
    assert moved(gan.ema_generator.get_weights(), gan.generator), "the EMA generator must lag behind G"


def test_generator_saves_and_loads_safely(tmp_path):
    g, _ = build_models("sngan", (32, 32, 3), 10, LATENT, TINY)
    g.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras", safe_mode=True)
    noise, labels = latent_inputs(10, LATENT, n=4)
    np.testing.assert_array_equal(to_numpy(loaded([noise, labels], training=False)),
                                  to_numpy(g([noise, labels], training=False)))


@pytest.mark.slow
def test_cpu_smoke_run_of_the_recipe(tmp_path, data_dir):
    from cgan.generate import Generator
    from cgan.training.train import train

    cfg = _tiny_config(subset=100, epochs=1, eval_samples=10, quality_every=1, quality_per_class=2)
    run = train(cfg, out=tmp_path / "sngan_tiny", data_dir=data_dir, verbose=0)
    summary = json.loads(run.summary.read_text())
    assert summary["status"] == "finished" and summary["model"] == "sngan"
    assert run.generator_keras.is_file()
    images, _ = Generator.from_run(run.path).generate([0, 9], n=2, seed=0)
    assert images.shape == (4, 32, 32, 3)
    history = (run.path / "history.csv").read_text()
    assert "quality_label_accuracy" in history and "quality_fd" in history
