"""Inference batches follow the memory a model's layer outputs hold, in every loop that runs a model outside fit."""
import keras
import numpy as np
import pytest

import cgan.batching as batching
from cgan.evaluation.classifier import DomainClassifier
from cgan.training.callbacks import generate_images


def _tiny_classifier():
    image = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same")(image)  # 8·8·4 floats
    features = keras.layers.GlobalAveragePooling2D(name="features")(x)  # 4
    return keras.Model(image, keras.layers.Dense(3, activation="softmax")(features))  # 3


def test_bytes_per_image_sum_every_layer_output():
    # The input layer's 8·8·1 floats count too: the batch itself is held.
    assert batching.activation_bytes_per_image(_tiny_classifier()) == 4 * (64 + 256 + 4 + 3)
    assert batching.activation_bytes_per_image(lambda x: x) == 0  # no Keras layers: nothing to measure


@pytest.mark.parametrize("per_image, batch", [(None, 500), (0, 500), (2**20, 500), (int(16.5 * 2**20), 31),
                                              (2**40, 1)])
def test_the_batch_is_what_fits_the_budget_at_most_500(per_image, batch):
    assert batching.batch_for(per_image) == batch


def test_the_classifier_scores_in_batches_within_the_budget(monkeypatch):
    model = _tiny_classifier()
    monkeypatch.setattr(batching, "ACTIVATION_BUDGET", 40 * batching.activation_bytes_per_image(model))
    classifier = DomainClassifier("tiny", model, {})
    sizes = []
    both = classifier._both
    classifier._both = lambda images, training=False: (sizes.append(len(images)), both(images))[1]
    features, probs = classifier.features_and_probs(np.zeros((100, 8, 8, 1), "float32"))
    assert sizes == [40, 40, 20] and features.shape == (100, 4) and probs.shape == (100, 3)


def test_generated_images_come_in_batches_within_the_budget(monkeypatch):
    noise = keras.Input((2,))
    label = keras.Input((1,))
    x = keras.layers.Concatenate()([noise, label])
    generator = keras.Model([noise, label], keras.layers.Reshape((2, 2, 1))(keras.layers.Dense(4)(x)))
    monkeypatch.setattr(batching, "ACTIVATION_BUDGET", 7 * batching.activation_bytes_per_image(generator))
    calls = []
    counting = lambda inputs, training=False: (calls.append(len(inputs[0])), generator(inputs))[1]  # noqa: E731
    counting.layers = generator.layers
    images = generate_images(counting, np.zeros((20, 2), "float32"), np.zeros((20, 1), "float32"))
    assert calls == [7, 7, 6] and images.shape == (20, 2, 2, 1)
