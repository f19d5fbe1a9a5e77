"""m1 — the original project's first, small cGAN (≈1M parameters, MNIST, RMSprop).

G: noise → Dense → 7×7×128 map, label channel concatenated, two stride-2
transposed convs (128 then 64 filters, 4×4 kernels) with BatchNorm and
LeakyReLU, and a final 7×7 conv with tanh.
D: label channel concatenated with the image, two stride-2 3×3 convs (64 then
128 filters) with LeakyReLU (no BatchNorm, as in the original), Dropout before
the sigmoid output.

Reconstruction notes: the original gives the layer types and the ~1M total; the
second transposed conv has 64 filters so that G + D lands near 1M on MNIST.
"""
from __future__ import annotations

import keras

from cgan.models.common import (discriminator_inputs, down_block, generator_inputs, pick, real_or_fake, start_size,
                                to_image, up_block)

SUMMARY = "the original project's first, small cGAN (MNIST, RMSprop)"
NOMINAL_PARAMS = 1.0e6
NOTEBOOKS = {"mnist": "v2"}

DEFAULTS = dict(g_filters=[128, 128, 64], d_filters=[64, 128], bn_momentum=0.9,
                dropout_rate=0.4, dropout_at="end")


def build_generator(image_shape, num_classes, latent_dim, options):
    base, up1, up2 = pick(options.g_filters, DEFAULTS["g_filters"])
    momentum = pick(options.bn_momentum, DEFAULTS["bn_momentum"])
    inputs, x = generator_inputs(latent_dim, num_classes, start_size(image_shape), base, None)
    x = up_block(x, up1, 4, 2, momentum, "up1")
    x = up_block(x, up2, 4, 2, momentum, "up2")
    return keras.Model(inputs, to_image(x, image_shape[-1], 7), name="m1_generator")


def build_discriminator(image_shape, num_classes, options):
    f1, f2 = pick(options.d_filters, DEFAULTS["d_filters"])
    inputs, x = discriminator_inputs(image_shape, num_classes)
    x = down_block(x, f1, 3, 2, None, "down1")
    x = down_block(x, f2, 3, 2, None, "down2")
    rate = pick(options.dropout_rate, DEFAULTS["dropout_rate"])
    return keras.Model(inputs, real_or_fake(x, rate, True), name="m1_discriminator")
