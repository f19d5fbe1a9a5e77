"""m5 — the large original model (≈55M parameters; CIFAR-100 and CIFAR-10).

Original: 4 transposed convs in G and 5 convs in D. Versions on CIFAR-10 differ
in G's filters (v1 512-256-128-64, v2 256-128-64-32), BatchNorm momentum (v1 0.8)
and where D's Dropout sits (v1 end, v2 start); v3/v4 change only the optimizer
and batch size. Reconstruction:
G: noise → Dense → 8×8 (7×7 for MNIST) map with as many channels as the first
filter count, label channel, transposed convs f1 (stride 1) → f2 (2) → f3 (2)
→ f4 (1), 5×5, BatchNorm + LeakyReLU, and a 5×5 Conv2D with tanh.
D: label channel + image, convs 128 → 256 → 512 (stride 2) → 1024 → 1024
(stride 1), 5×5, BatchNorm after all but the first. Most of the ~55M sits in
D's last two 1024-filter convs, which is how a 5-conv D reaches that size.
"""
from __future__ import annotations

import keras
from keras import layers

from cgan.models.common import (discriminator_inputs, down_block, generator_inputs, pick, real_or_fake, start_size,
                                to_image, up_block)

SUMMARY = "the original project's largest cGAN (CIFAR-100 and CIFAR-10 v1-v4)"
NOMINAL_PARAMS = 55e6
CPU_BACKEND = {"AVX2": "torch", "default": "tensorflow"}
NOTEBOOKS = {"cifar100": "v1", "cifar10": "v3"}

DEFAULTS = dict(g_filters=[512, 256, 128, 64], d_filters=[128, 256, 512, 1024, 1024],
                bn_momentum=0.99, dropout_rate=0.3, dropout_at="end")
G_STRIDES = (1, 2, 2, 1)
D_STRIDES = (2, 2, 2, 1, 1)


def build_generator(image_shape, num_classes, latent_dim, options):
    filters = pick(options.g_filters, DEFAULTS["g_filters"])
    momentum = pick(options.bn_momentum, DEFAULTS["bn_momentum"])
    inputs, x = generator_inputs(latent_dim, num_classes, start_size(image_shape), filters[0], momentum)
    for i, (f, s) in enumerate(zip(filters, G_STRIDES, strict=True), start=1):
        x = up_block(x, f, 5, s, momentum, f"up{i}")
    return keras.Model(inputs, to_image(x, image_shape[-1], 5), name="m5_generator")


def build_discriminator(image_shape, num_classes, options):
    filters = pick(options.d_filters, DEFAULTS["d_filters"])
    momentum = pick(options.bn_momentum, DEFAULTS["bn_momentum"])
    rate = pick(options.dropout_rate, DEFAULTS["dropout_rate"])
    at_end = pick(options.dropout_at, DEFAULTS["dropout_at"]) == "end"
    inputs, x = discriminator_inputs(image_shape, num_classes)
    if not at_end:
        x = layers.Dropout(rate, name="dropout_start")(x)
    for i, (f, s) in enumerate(zip(filters, D_STRIDES, strict=True), start=1):
        x = down_block(x, f, 5, s, None if i == 1 else momentum, f"down{i}")
    return keras.Model(inputs, real_or_fake(x, rate, at_end), name="m5_discriminator")
