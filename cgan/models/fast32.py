"""fast32 — `fast`'s idea grown for 32×32 colour images; not part of the original zoo.

Built for quality per CPU-hour on CIFAR-10 and CIFAR-100 at small scale, from what the
class-conditional GAN literature found works there, with each choice measured in
short runs of equal wall clock on the 2-core CPU (benchmarks/README.md, "fast32: what was tried"):

G: noise → Dense → (H/2^k × W/2^k × g0) map, then one stride-2 4×4 transposed
conv per further entry of g_filters, and a last one to the image channels (tanh);
k = len(g_filters), so [128, 64, 32] goes 4×4 → 8×8 → 16×16 → 32×32. Every map
before a transposed conv goes through BatchNorm and ReLU. The label enters G
through class-conditional BatchNorm (gamma and beta looked up per label, as in
SNGAN and BigGAN; `g_conditioning = "cbn"`) or, as in `fast`, as an embedding
concatenated with the noise (`"concat"`).
D: one stride-2 4×4 conv with LeakyReLU per entry of d_filters, flattened
features h, and the projection output w·h + embed(label)·h (Miyato & Koyama
2018). `d_label_input = true` also hands D the label early, as the original zoo
does: an embedding reshaped to one extra input channel.
Training choices (loss, EMA, DiffAugment, batch, learning rate) live in the configs.
"""
from __future__ import annotations

import keras
from keras import layers

from cgan.models.common import (EMBED_DIM, OUTPUT_DTYPE, conditional_batchnorm, label_channel, pick,
                                spectral_norm_wrapper, start_size, strided_projection_score)

SUMMARY = "the shipped CIFAR generator: fast's idea grown for 32×32 colour images"
D_OUTPUT = "score"
D_CLASS_LOGITS = True
CPU_BACKEND = "tensorflow"
NOTEBOOKS = {"cifar10": "v3", "cifar100": "v1"}
DEFAULTS = dict(g_filters=[128, 64, 32], d_filters=[32, 64, 128], bn_momentum=0.9, spectral_norm=False,
                g_conditioning="cbn", d_label_input=False)


def build_generator(image_shape, num_classes, latent_dim, options):
    widths = pick(options.g_filters, DEFAULTS["g_filters"])
    momentum = pick(options.bn_momentum, DEFAULTS["bn_momentum"])
    conditioning = pick(options.g_conditioning, DEFAULTS["g_conditioning"])
    h, w = start_size(image_shape, upsamplings=len(widths))
    noise = keras.Input((latent_dim,), name="noise")
    labels = keras.Input((1,), dtype="int32", name="label")
    x = noise
    if conditioning == "concat":
        label_code = layers.Flatten(name="g_label_flat")(
            layers.Embedding(num_classes, EMBED_DIM, name="g_label_embedding")(labels))
        x = layers.Concatenate(name="g_concat")([noise, label_code])
    x = layers.Dense(h * w * widths[0], use_bias=False, name="project")(x)
    x = layers.Reshape((h, w, widths[0]), name="start_map")(x)

    def normalise(x, name):
        if conditioning == "cbn":
            return conditional_batchnorm(x, labels, num_classes, momentum, name)
        return layers.BatchNormalization(momentum=momentum, name=f"{name}_bn")(x)

    for i, width in enumerate(widths[1:], start=1):
        x = layers.ReLU(name=f"up{i}_in_act")(normalise(x, f"up{i}_in"))
        x = layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False, name=f"up{i}_convT")(x)
    x = layers.ReLU(name="out_act")(normalise(x, "out"))
    image = layers.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same", activation="tanh",
                                   dtype=OUTPUT_DTYPE, name="to_image")(x)
    return keras.Model([noise, labels], image, name="fast32_generator")


def build_discriminator(image_shape, num_classes, options):
    widths = pick(options.d_filters, DEFAULTS["d_filters"])
    normalise = spectral_norm_wrapper(pick(options.spectral_norm, DEFAULTS["spectral_norm"]))
    start_size(image_shape, upsamplings=len(widths))  # each conv halves the size
    image = keras.Input(image_shape, name="image")
    labels = keras.Input((1,), dtype="int32", name="label")
    x = image
    if pick(options.d_label_input, DEFAULTS["d_label_input"]):
        x = layers.Concatenate(name="d_concat")([image, label_channel(labels, num_classes, image_shape[:2], "d_label")])
    score = strided_projection_score(x, labels, num_classes, widths, normalise)
    return keras.Model([image, labels], score, name="fast32_discriminator")
