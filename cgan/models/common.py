"""Building blocks shared by the original zoo: how the label enters G and D.

The original notebooks condition both networks the same way: the label goes
through an Embedding and a Dense layer and is reshaped into one extra channel,
which is concatenated with the noise map (G) or with the image (D).
"""
from __future__ import annotations

import keras
from keras import layers

EMBED_DIM = 50
LEAKY_SLOPE = 0.2


def start_size(image_shape, upsamplings: int = 2) -> tuple[int, int]:
    """Spatial size of G's first map: 7×7 for 28×28, 8×8 for 32×32."""
    h, w = image_shape[0], image_shape[1]
    factor = 2 ** upsamplings
    if h % factor or w % factor:
        raise ValueError(f"image size {h}x{w} is not divisible by {factor}")
    return h // factor, w // factor


def label_channel(labels, num_classes: int, size: tuple[int, int], name: str):
    """label → Embedding → Dense → reshape to one (h, w, 1) channel."""
    h, w = size
    x = layers.Embedding(num_classes, EMBED_DIM, name=f"{name}_embedding")(labels)
    x = layers.Dense(h * w, name=f"{name}_dense")(x)
    return layers.Reshape((h, w, 1), name=f"{name}_map")(x)


def generator_inputs(latent_dim: int, num_classes: int, size, channels: int,
                     bn_momentum: float | None):
    """Noise and label inputs merged into G's first feature map."""
    noise = keras.Input((latent_dim,), name="noise")
    labels = keras.Input((1,), dtype="int32", name="label")
    x = layers.Dense(size[0] * size[1] * channels, name="noise_dense")(noise)
    if bn_momentum is not None:
        x = layers.BatchNormalization(momentum=bn_momentum, name="noise_bn")(x)
    x = layers.LeakyReLU(LEAKY_SLOPE, name="noise_act")(x)
    x = layers.Reshape((size[0], size[1], channels), name="noise_map")(x)
    merged = layers.Concatenate(name="g_concat")([x, label_channel(labels, num_classes, size, "g_label")])
    return (noise, labels), merged


def discriminator_inputs(image_shape, num_classes: int):
    """Image and label inputs merged into one (H, W, C + 1) tensor."""
    image = keras.Input(image_shape, name="image")
    labels = keras.Input((1,), dtype="int32", name="label")
    channel = label_channel(labels, num_classes, image_shape[:2], "d_label")
    merged = layers.Concatenate(name="d_concat")([image, channel])
    return (image, labels), merged


def up_block(x, filters: int, kernel: int, strides: int, bn_momentum: float | None, name: str):
    """Transposed conv → (BatchNorm) → LeakyReLU."""
    x = layers.Conv2DTranspose(filters, kernel, strides=strides, padding="same", name=f"{name}_convT")(x)
    if bn_momentum is not None:
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act")(x)


def down_block(x, filters: int, kernel: int, strides: int, bn_momentum: float | None, name: str):
    """Strided conv → (BatchNorm) → LeakyReLU."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", name=f"{name}_conv")(x)
    if bn_momentum is not None:
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act")(x)


def to_image(x, channels: int, kernel: int, transposed: bool = False):
    """Last layer of G: a conv (or transposed conv) with tanh, so pixels land in [-1, 1]."""
    conv = layers.Conv2DTranspose if transposed else layers.Conv2D
    return conv(channels, kernel, padding="same", activation="tanh", name="to_image")(x)


def real_or_fake(x, dropout_rate: float, dropout_at_end: bool):
    """Flatten → (Dropout) → Dense(1, sigmoid): D's probability that the image is real."""
    x = layers.Flatten(name="flatten")(x)
    if dropout_at_end and dropout_rate:
        x = layers.Dropout(dropout_rate, name="dropout_end")(x)
    return layers.Dense(1, activation="sigmoid", name="real_prob")(x)


def pick(value, default):
    return default if value is None else value


def spectral_norm_wrapper(enabled: bool):
    """A function that wraps a layer in Keras's SpectralNormalization, or leaves it alone.

    Keras's wrapper writes W / sigma(W) back into the kernel on every training call; cgan.gan
    calls a score model's D once per loss so that each gradient sees the kernel it was computed with.
    """
    if not enabled:
        return lambda layer: layer
    return lambda layer: layers.SpectralNormalization(layer, name=f"{layer.name}_sn")
