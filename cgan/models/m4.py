"""m4 — m3 with one more transposed conv in G and a plain conv as G's last layer.

The original adds about 0.2M parameters to m3 (CIFAR-100). Reconstruction: after
m3's 64-filter stage, a stride-1 5×5 transposed conv with 128 filters (BatchNorm,
LeakyReLU), then a 5×5 Conv2D with tanh instead of m3's transposed output layer.
D is m3's discriminator unchanged.
"""
from __future__ import annotations

import keras

from cgan.models import m3
from cgan.models.common import pick, to_image, up_block

SUMMARY = "m3 with one more transposed convolution in G and a plain convolution at its end (CIFAR-100)"
NOMINAL_PARAMS = 5.2e6
CPU_BACKEND = {"AVX2": "torch", "default": "tensorflow"}
NOTEBOOKS = {"cifar100": "v1"}

EXTRA_FILTERS = 128
DEFAULTS = m3.DEFAULTS
build_discriminator = m3.build_discriminator


def build_generator(image_shape, num_classes, latent_dim, options):
    inputs, x = m3.generator_trunk(image_shape, num_classes, latent_dim, options)
    momentum = pick(options.bn_momentum, DEFAULTS["bn_momentum"])
    x = up_block(x, EXTRA_FILTERS, 5, 1, momentum, "up4")
    return keras.Model(inputs, to_image(x, image_shape[-1], 5), name="m4_generator")
