"""fast — a small cGAN built for quality per CPU-minute; not part of the original zoo.

m1 spends 0.40 GFLOP per training image (counted, benchmarks/README.md), mostly
in its full-resolution transposed convs, and needs CPU-hours to learn the label. This model keeps the
expensive layers at low resolution and lets D tell G about the label directly:

G: noise ⊕ label embedding → Dense → (H/4 × W/4 × g0) map → BatchNorm, ReLU →
stride-2 4×4 transposed conv to g1 filters → BatchNorm, ReLU → stride-2 4×4
transposed conv to the image channels, tanh.
D: one stride-2 4×4 conv with LeakyReLU per entry of d_filters → flattened
features h (not pooled: with two convs each feature sees only a 10×10 patch,
and a pooled D judged textures, not digits). Its output is an unbounded score
w·h + embed(label)·h: the projection discriminator (Miyato & Koyama 2018),
which makes "is this the right digit?" part of every real/fake verdict.
`spectral_norm = true` wraps D's convs and dense in Keras's SpectralNormalization.

What each choice gave on the 2-core CPU: benchmarks/README.md, "Fast model: what was tried".
"""
from __future__ import annotations

import keras
from keras import layers

from cgan.models.common import (EMBED_DIM, OUTPUT_DTYPE, pick, spectral_norm_wrapper, start_size,
                                strided_projection_score)

SUMMARY = "the fast projection-discriminator cGAN built for quality per CPU-minute"
D_OUTPUT = "score"
D_CLASS_LOGITS = True
CPU_BACKEND = "tensorflow"
NOTEBOOKS = {"mnist": "v1"}
DEFAULTS = dict(g_filters=[128, 64], d_filters=[64, 128], bn_momentum=0.9, spectral_norm=False)


def build_generator(image_shape, num_classes, latent_dim, options):
    base, mid = pick(options.g_filters, DEFAULTS["g_filters"])
    momentum = pick(options.bn_momentum, DEFAULTS["bn_momentum"])
    h, w = start_size(image_shape)
    noise = keras.Input((latent_dim,), name="noise")
    labels = keras.Input((1,), dtype="int32", name="label")
    label_code = layers.Flatten(name="g_label_flat")(
        layers.Embedding(num_classes, EMBED_DIM, name="g_label_embedding")(labels))
    x = layers.Concatenate(name="g_concat")([noise, label_code])
    x = layers.Dense(h * w * base, use_bias=False, name="project")(x)
    x = layers.Reshape((h, w, base), name="start_map")(x)
    x = layers.ReLU(name="start_act")(layers.BatchNormalization(momentum=momentum, name="start_bn")(x))
    x = layers.Conv2DTranspose(mid, 4, strides=2, padding="same", use_bias=False, name="up1_convT")(x)
    x = layers.ReLU(name="up1_act")(layers.BatchNormalization(momentum=momentum, name="up1_bn")(x))
    image = layers.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same", activation="tanh",
                                   dtype=OUTPUT_DTYPE, name="to_image")(x)
    return keras.Model([noise, labels], image, name="fast_generator")


def build_discriminator(image_shape, num_classes, options):
    filters = pick(options.d_filters, DEFAULTS["d_filters"])
    normalise = spectral_norm_wrapper(pick(options.spectral_norm, DEFAULTS["spectral_norm"]))
    image = keras.Input(image_shape, name="image")
    labels = keras.Input((1,), dtype="int32", name="label")
    x = image
    score = strided_projection_score(x, labels, num_classes, filters, normalise)
    return keras.Model([image, labels], score, name="fast_discriminator")
