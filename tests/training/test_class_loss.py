"""The class loss (cgan/training/gan.py, `class_loss_weight`) on tiny models, without fit."""
import keras
import numpy as np
import pytest

from cgan.config import parse_config
from cgan.errors import ConfigError
from cgan.models import REGISTRY, ModelOptions, build_models
from cgan.models.common import FEATURES_LAYER, PROJECTION_LAYER
from cgan.training.backends import backend_module
from cgan.training.gan import ConditionalGAN, build_gan, class_logits
from tests.models.test_precision import TINY

BASE = {"dataset": "cifar10", "model": "fast32", "version": "v1", "epochs": 10, "batch_size": 4, "latent_dim": 8,
        "d_optimizer": {"name": "adam", "learning_rate": 0.001}, "g_optimizer": {"name": "adam", "learning_rate": 0.002},
        "model_options": {"g_filters": [8, 4], "d_filters": [4, 8]}}
SHAPE, CLASSES, WEIGHT = (16, 16, 3), 10, 0.7


def _pair():
    plain = build_gan(parse_config(BASE), SHAPE, CLASSES)
    classes = build_gan(parse_config({**BASE, "class_loss_weight": WEIGHT}), SHAPE, CLASSES)
    classes.generator.set_weights(plain.generator.get_weights())
    classes.discriminator.set_weights(plain.discriminator.get_weights())
    return plain, classes


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype="float64")


def _cross_entropy_by_hand(gan, images, labels):
    """Softmax cross-entropy of embed(c)·h over the classes c, from D's layers read one by one."""
    features = keras.Model(gan.discriminator.inputs, gan.discriminator.get_layer(FEATURES_LAYER).output)
    h = _numpy(features([images, labels], training=True))
    logits = h @ _numpy(gan.discriminator.get_layer(PROJECTION_LAYER).embeddings).T
    logits -= logits.max(axis=1, keepdims=True)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_softmax[np.arange(len(logits)), _numpy(labels).astype(int).ravel()].mean()


def _inputs():
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (4, *SHAPE)).astype("float32")
    labels = np.array([[1], [3], [5], [7]], "int32")
    noise = rng.normal(size=(4, 8)).astype("float32")
    # Tensors, as in a training step: Keras refuses a call that mixes a tensor (G's images) with numpy labels.
    return tuple(keras.ops.convert_to_tensor(x) for x in (real, labels, noise))


def test_d_adds_the_weighted_cross_entropy_of_real_images_in_training_only():
    plain, classes = _pair()
    real, labels, noise = _inputs()

    def loss(gan, training):
        return float(_numpy(gan.discriminator_loss(real, labels, noise, keras.ops.flip(labels, 0), training)))

    expected = WEIGHT * _cross_entropy_by_hand(classes, real, labels)
    assert expected > 0.1
    assert loss(classes, training=True) - loss(plain, training=True) == pytest.approx(expected, rel=1e-4)
    assert loss(classes, training=False) == pytest.approx(loss(plain, training=False), rel=1e-5)


def test_g_adds_the_weighted_cross_entropy_of_its_images_for_the_requested_labels():
    plain, classes = _pair()
    _, labels, noise = _inputs()
    fake = classes.generator([noise, labels], training=True)

    def loss(gan):
        return float(_numpy(gan.generator_loss(noise, labels, training=True)))

    expected = WEIGHT * _cross_entropy_by_hand(classes, fake, labels)
    assert loss(classes) - loss(plain) == pytest.approx(expected, rel=1e-3)


def test_gradients_reach_every_class_row_of_the_label_embedding_only_through_the_class_loss():
    """A batch moves only its own labels' rows of D's embedding through the projection; the class loss's softmax
    moves every row."""
    if keras.backend.backend() == "jax":  # its minimize runs inside a training step's stateless scope
        pytest.skip("checked on TensorFlow and PyTorch; tests/training/test_backends.py trains it on JAX")
    real, labels, noise = _inputs()

    def rows_moved(gan):
        embedding = gan.discriminator.get_layer(PROJECTION_LAYER).embeddings
        before = _numpy(embedding)
        optimizer = keras.optimizers.SGD(learning_rate=1.0)
        optimizer.build([embedding])
        backend_module().minimize(lambda: gan.discriminator_loss(real, labels, noise, labels, training=True),
                                  [embedding], optimizer)
        return set(np.flatnonzero(np.abs(_numpy(embedding) - before).sum(axis=1) > 0))

    plain, classes = _pair()
    assert rows_moved(plain) == {1, 3, 5, 7}
    assert rows_moved(classes) == set(range(CLASSES))


@pytest.mark.parametrize("model", ["m1", "sngan"])
def test_a_model_without_class_logits_refuses_the_class_loss(model):
    with pytest.raises(ConfigError, match="class loss needs a discriminator with class logits"):
        parse_config({**BASE, "model": model, "class_loss_weight": 0.1})


def test_a_discriminator_without_a_projection_embedding_is_refused_by_name():
    plain = build_gan(parse_config({**BASE, "model": "sngan", "model_options": TINY["sngan"]}), SHAPE, CLASSES)
    with pytest.raises(ValueError, match="needs a projection discriminator"):
        ConditionalGAN(plain.generator, plain.discriminator, 8, CLASSES, d_output="score", class_loss_weight=1.0)


@pytest.mark.parametrize("name", sorted(TINY))
def test_d_class_logits_is_declared_exactly_where_d_has_them(name):
    """The config trusts the declaration; a D that has class logits must say so, and one that says so must have them."""
    shape = (28, 28, 1) if name in ("m1", "fast") else (32, 32, 3)
    _, d = build_models(name, shape, CLASSES, 8, ModelOptions(**TINY[name]))
    try:
        logits = class_logits(d)
    except ValueError:
        logits = None
    assert (logits is not None) == REGISTRY[name].d_class_logits
    if logits is not None:
        images = np.zeros((2, *shape), "float32")
        score, per_class = logits([images, np.array([[0], [1]], "int32")], False)
        assert tuple(per_class.shape) == (2, CLASSES) and tuple(score.shape) == (2, 1)
