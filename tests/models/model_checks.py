"""What every model's tests check the same way: G draws [-1, 1] images, D gives one finite value per image."""
import keras
import numpy as np

from cgan.models import build_models, discriminator_output


def to_numpy(x) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


def latent_inputs(classes: int, latent_dim: int, n: int = 3, seed: int = 0):
    """n noise vectors and n labels spread over the classes."""
    noise = np.random.default_rng(seed).standard_normal((n, latent_dim)).astype("float32")
    return noise, (np.arange(n, dtype="int32") * 7 % classes).reshape(-1, 1)


def check_builds(model: str, shape, classes: int, latent_dim: int, options, d_output: str):
    """Build `model` for this shape and class count and run G then D on three latent inputs; returns (G, D)."""
    g, d = build_models(model, shape, classes, latent_dim, options)
    noise, labels = latent_inputs(classes, latent_dim)
    images = to_numpy(g([noise, labels], training=False))
    assert images.shape == (3, *shape) and np.abs(images).max() <= 1.0
    scores = to_numpy(d([images, labels], training=False))
    assert scores.shape == (3, 1) and np.isfinite(scores).all()
    assert discriminator_output(model) == d_output
    return g, d


def check_label_reaches_g_and_d(g, d, latent_dim: int):
    """Same noise with another label must change G's image, and the same image with another label D's score.
    Class-conditional BN starts at gamma 1, beta 0 for every class, so the classes get their own values first."""
    for layer in g.layers:
        if isinstance(layer, keras.layers.Embedding):
            layer.embeddings.assign(np.random.default_rng(2).normal(1.0, 0.5, layer.embeddings.shape))
    noise = np.repeat(latent_inputs(10, latent_dim, n=1)[0], 2, axis=0)
    labels = np.array([[3], [7]], "int32")
    images = to_numpy(g([noise, labels], training=False))
    assert np.abs(images[0] - images[1]).max() > 1e-4, "same noise, other label: G's output must change"
    scores = to_numpy(d([np.repeat(images[:1], 2, axis=0), labels], training=False))
    assert abs(float(scores[0, 0] - scores[1, 0])) > 1e-6, "same image, other label: D's score must change"
