"""m3 — the deeper original model (≈5M parameters; MNIST and CIFAR-100).

The original describes it as deeper than m1, with filter counts that change
per layer, bigger (5×5) kernels, Dropout and BatchNorm. Reconstruction:
G: noise → Dense → 256-channel map with BatchNorm, label channel, then
transposed convs 256 (stride 1) → 128 (stride 2) → 64 (stride 2), each with
BatchNorm and LeakyReLU, and a final 5×5 transposed conv with tanh.
D: label channel + image, Dropout at the input, convs 64 → 128 → 256
(5×5, strides 2, 2, 1) with BatchNorm after the first, Dropout before the output.
"""
from __future__ import annotations

import keras
from keras import layers

from cgan.models.common import (discriminator_inputs, down_block, generator_inputs, pick, real_or_fake, start_size,
                                to_image, up_block)

SUMMARY = "the original project's deeper cGAN: 5×5 kernels, Dropout, BatchNorm (MNIST and CIFAR-100)"
NOMINAL_PARAMS = 5.0e6
CPU_BACKEND = {"AVX2": "torch", "default": "tensorflow"}
NOTEBOOKS = {"mnist": "v1", "cifar100": "v1"}

DEFAULTS = dict(g_filters=[256, 256, 128, 64], d_filters=[64, 128, 256], bn_momentum=0.9,
                dropout_rate=0.3, dropout_at="end")


def generator_trunk(image_shape, num_classes, latent_dim, options):
    """Everything up to G's last layer; m4 builds on it."""
    base, f1, f2, f3 = pick(options.g_filters, DEFAULTS["g_filters"])
    momentum = pick(options.bn_momentum, DEFAULTS["bn_momentum"])
    inputs, x = generator_inputs(latent_dim, num_classes, start_size(image_shape), base, momentum)
    x = up_block(x, f1, 5, 1, momentum, "up1")
    x = up_block(x, f2, 5, 2, momentum, "up2")
    x = up_block(x, f3, 5, 2, momentum, "up3")
    return inputs, x


def build_generator(image_shape, num_classes, latent_dim, options):
    inputs, x = generator_trunk(image_shape, num_classes, latent_dim, options)
    out = to_image(x, image_shape[-1], 5, transposed=True)
    return keras.Model(inputs, out, name="m3_generator")


def build_discriminator(image_shape, num_classes, options):
    f1, f2, f3 = pick(options.d_filters, DEFAULTS["d_filters"])
    momentum = pick(options.bn_momentum, DEFAULTS["bn_momentum"])
    rate = pick(options.dropout_rate, DEFAULTS["dropout_rate"])
    inputs, x = discriminator_inputs(image_shape, num_classes)
    x = layers.Dropout(rate, name="dropout_start")(x)
    x = down_block(x, f1, 5, 2, None, "down1")
    x = down_block(x, f2, 5, 2, momentum, "down2")
    x = down_block(x, f3, 5, 1, momentum, "down3")
    return keras.Model(inputs, real_or_fake(x, rate, True), name="m3_discriminator")
