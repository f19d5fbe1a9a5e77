"""The training step on tiny synthetic data, on the active backend."""
import keras
import numpy as np
import pytest

from cgan.config import load_config
from cgan.training.train import build_gan


def _tiny_gan(batch_size=8):
    cfg = load_config("configs/mnist/m1_v1.toml").with_overrides(latent_dim=8, batch_size=batch_size)
    return build_gan(cfg.with_overrides(model_options={"g_filters": [8, 8, 4], "d_filters": [4, 8]}),
                     (28, 28, 1), 10)


def _weights(model):
    """Every weight, BatchNorm's moving statistics included."""
    return [np.array(keras.ops.convert_to_numpy(w)) for w in model.weights]


@pytest.mark.slow
def test_fit_updates_both_networks_and_both_optimizers():
    gan = _tiny_gan()
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, 32).astype("int32")
    g_before, d_before = _weights(gan.generator), _weights(gan.discriminator)
    history = gan.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_data=(x[:8], y[:8]))
    assert int(gan.d_optimizer.iterations) == 8 and int(gan.g_optimizer.iterations) == 8
    assert any(np.abs(a - b).max() > 0 for a, b in zip(g_before, _weights(gan.generator)))
    assert any(np.abs(a - b).max() > 0 for a, b in zip(d_before, _weights(gan.discriminator)))
    for key in ("d_loss", "g_loss", "val_d_loss", "val_g_loss"):
        assert np.isfinite(history.history[key]).all()


def test_test_step_changes_nothing():
    gan = _tiny_gan()
    x = np.zeros((16, 28, 28, 1), "float32")
    y = np.arange(16, dtype="int32") % 10
    before = _weights(gan.generator) + _weights(gan.discriminator)
    assert len(before) > len(gan.generator.trainable_weights + gan.discriminator.trainable_weights)  # G has BN
    gan.evaluate(x, y, batch_size=8, verbose=0)
    after = _weights(gan.generator) + _weights(gan.discriminator)
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert int(gan.d_optimizer.iterations) == 0


def test_evolution_gif_keeps_evenly_spaced_frames_with_the_first_and_last(tmp_path):
    """A 400-epoch CIFAR-100 run made a 17 MB GIF by epoch 56: the GIF keeps at most MAX_GIF_FRAMES frames."""
    from PIL import Image

    from cgan import plots

    assert plots.gif_frames(list(range(10)), 40) == list(range(10))
    picked = plots.gif_frames(list(range(400)), 40)
    assert len(picked) == 40 and picked[0] == 0 and picked[-1] == 399
    assert max(b - a for a, b in zip(picked, picked[1:])) <= 11  # evenly spaced
    # A run resumed in a folder that kept every 4th of its first 100 grids, then every grid to epoch 200:
    # the frames stay evenly spaced in epochs, not crowded into the later ones.
    epochs = [*range(1, 101, 4), *range(101, 201)]
    picked = plots.gif_frames(epochs, 40, epochs=epochs)
    assert picked[0] == 1 and picked[-1] == 200 and len(picked) >= 35
    assert max(b - a for a, b in zip(picked, picked[1:])) <= 8
    assert sum(epoch <= 100 for epoch in picked) >= 17  # half the epochs, about half the frames
    frames = []
    for i in range(plots.MAX_GIF_FRAMES + 5):
        frames.append(tmp_path / f"epoch_{i:03d}.png")
        Image.new("RGB", (4, 4), (i, 0, 0)).save(frames[-1])
    plots.write_gif(frames, tmp_path / "evolution.gif")
    assert Image.open(tmp_path / "evolution.gif").n_frames == plots.MAX_GIF_FRAMES



# The original zoo at tiny widths: (config, G filters, D filters, image shape, classes).
TINY_ORIGINALS = {"m1": ("configs/mnist/m1_v1.toml", [8, 8, 4], [4, 8], (28, 28, 1), 10),
                  "m3": ("configs/cifar100/m3_v1.toml", [8, 8, 8, 4], [4, 8, 8], (32, 32, 3), 100),
                  "m4": ("configs/cifar100/m4_v1.toml", [8, 8, 8, 4], [4, 8, 8], (32, 32, 3), 100),
                  "m5": ("configs/cifar10/m5_v3.toml", [8, 8, 8, 4], [4, 8, 8, 8, 8], (32, 32, 3), 10)}


@pytest.mark.parametrize("model", TINY_ORIGINALS)
def test_the_original_losses_come_from_the_logit_under_d_sigmoid(model):
    """sigmoid(logit) is D's own output, and the loss is BCE on it (no clipping)."""
    config, g_filters, d_filters, shape, classes = TINY_ORIGINALS[model]
    cfg = load_config(config).with_overrides(latent_dim=8, batch_size=8)
    gan = build_gan(cfg.with_overrides(model_options={"g_filters": g_filters, "d_filters": d_filters}), shape, classes)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (6, *shape)).astype("float32")
    labels = (np.arange(6) % classes).reshape(-1, 1).astype("int32")
    probs = keras.ops.convert_to_numpy(gan.discriminator([images, labels], training=False))
    logits = keras.ops.convert_to_numpy(gan.judge(images, labels, training=False))
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), probs, rtol=1e-4, atol=1e-6)
    real, fake = logits[:3], logits[3:]
    expected = np.mean(np.concatenate([np.log1p(np.exp(-real)), np.log1p(np.exp(fake))]))  # as it was logged
    np.testing.assert_allclose(float(gan._d_loss_fn(keras.ops.convert_to_tensor(real), keras.ops.convert_to_tensor(fake))),
                               expected, rtol=1e-5)


@pytest.mark.slow
def test_a_saturated_discriminator_still_learns():
    """D calling everything real with probability 1.0 (how m5 v3 died at step 3) gets a gradient and moves back."""
    gan = _tiny_gan()
    head = gan.discriminator.get_layer("real_prob")
    head.bias.assign(np.full(head.bias.shape, 40.0, "float32"))  # sigmoid(40) is 1.0 in float32
    x = np.zeros((8, 28, 28, 1), "float32")
    y = np.arange(8, dtype="int32")
    assert np.all(keras.ops.convert_to_numpy(gan.discriminator([x, y.reshape(-1, 1)])) == 1.0)
    gan.fit(x, y, batch_size=8, epochs=1, verbose=0)
    # BCE on clipped probabilities has zero gradient here, so Adam would leave the bias at exactly 40.
    assert float(keras.ops.convert_to_numpy(head.bias)[0]) < 40.0 - 1e-4


def test_evolution_gif_stays_under_its_byte_limit_halving_frames_before_dropping_them(tmp_path):
    """A 325-epoch CIFAR-100 run's GIF was 11.8 MB; git carries every committed GIF."""
    from PIL import Image

    from cgan import plots

    rng = np.random.default_rng(0)  # noise: the GIF's compression cannot shrink it, as with an untrained G
    frames = []
    for i in range(12):
        frames.append(tmp_path / f"epoch_{i:03d}.png")
        Image.fromarray(rng.integers(0, 256, (120, 100, 3), dtype="uint8")).save(frames[-1])
    whole = tmp_path / "whole.gif"
    plots.write_gif(frames, whole, max_bytes=10**9)
    assert Image.open(whole).size == (100, 120) and Image.open(whole).n_frames == 12
    limit = whole.stat().st_size // 3  # halving alone gives about a quarter, so 12 frames still fit
    plots.write_gif(frames, tmp_path / "half.gif", max_bytes=limit)
    half = Image.open(tmp_path / "half.gif")
    assert half.size == (50, 60) and half.n_frames == 12 and (tmp_path / "half.gif").stat().st_size <= limit
    limit = whole.stat().st_size // 10
    plots.write_gif(frames, tmp_path / "fewer.gif", max_bytes=limit)
    fewer = Image.open(tmp_path / "fewer.gif")
    assert fewer.size == (50, 60) and 2 <= fewer.n_frames < 12 and (tmp_path / "fewer.gif").stat().st_size <= limit
