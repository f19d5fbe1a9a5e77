"""sngan — SNGAN's ResNet cGAN for CIFAR-10 (Miyato et al. 2018; Miyato & Koyama 2018); not in the original zoo.

The recipe that BigGAN and DiffAugment build on for CIFAR, meant for a GPU
(configs/cifar10/sngan_v1.toml); on a CPU only tiny widths are practical.

G: noise → Dense → (H/8 × W/8 × ch) map → three residual up-blocks →
BatchNorm, ReLU → 3×3 conv to the image channels, tanh. An up-block is
CBN, ReLU, ×2 nearest upsampling, 3×3 conv, CBN, ReLU, 3×3 conv, added to a
shortcut of ×2 upsampling and a 1×1 conv. CBN is class-conditional BatchNorm:
a BatchNorm without its own scale and offset, whose gamma and beta are looked
up per label (Embeddings starting at 1 and 0) — the label enters G only there.
D: an "optimized" first block (3×3 conv, ReLU, 3×3 conv, 2×2 average pool,
plus a shortcut of pool then 1×1 conv), a down-block (ReLU, conv, ReLU, conv,
pool; shortcut 1×1 conv then pool), two blocks at that size with identity
shortcuts → ReLU → global sum pooling → features h. Its output is an unbounded
score w·h + embed(label)·h: the projection discriminator.
`spectral_norm = true` (the default) wraps every conv and dense of D, and
the projection embedding, in Keras's SpectralNormalization; G has none.

Widths: g_filters = [ch] and d_filters = [ch], one entry each (SNGAN's
CIFAR-10 ResNet: 256 and 128). Any image size divisible by 8, any class count.
"""
from __future__ import annotations

import keras
from keras import layers

from cgan.models.common import BN_EPSILON, OUTPUT_DTYPE, conditional_batchnorm, pick, spectral_norm_wrapper, start_size

SUMMARY = "the SNGAN-style CIFAR recipe for GPUs (ResNet, spectral norm, projection D, DiffAugment)"
D_OUTPUT = "score"
NOTEBOOKS = {"cifar10": "v1"}
DEFAULTS = dict(g_filters=[256], d_filters=[128], bn_momentum=0.9, spectral_norm=True)


def build_generator(image_shape, num_classes, latent_dim, options):
    ch = _width(options.g_filters, DEFAULTS["g_filters"], "g_filters")
    momentum = pick(options.bn_momentum, DEFAULTS["bn_momentum"])
    h, w = start_size(image_shape, upsamplings=3)
    noise = keras.Input((latent_dim,), name="noise")
    labels = keras.Input((1,), dtype="int32", name="label")
    x = layers.Reshape((h, w, ch), name="start_map")(layers.Dense(h * w * ch, name="project")(noise))
    for i in (1, 2, 3):
        x = _up_block(x, labels, ch, num_classes, momentum, f"up{i}")
    x = layers.BatchNormalization(momentum=momentum, epsilon=BN_EPSILON, name="out_bn")(x)
    x = layers.ReLU(name="out_act")(x)
    image = layers.Conv2D(image_shape[-1], 3, padding="same", activation="tanh", dtype=OUTPUT_DTYPE,
                          name="to_image")(x)
    return keras.Model([noise, labels], image, name="sngan_generator")


def _up_block(x, labels, ch, num_classes, momentum, name):
    shortcut = layers.UpSampling2D(name=f"{name}_sc_up")(x)
    shortcut = layers.Conv2D(ch, 1, name=f"{name}_sc_conv")(shortcut)
    x = layers.ReLU(name=f"{name}_act1")(conditional_batchnorm(x, labels, num_classes, momentum, f"{name}_cbn1"))
    x = layers.UpSampling2D(name=f"{name}_up")(x)
    x = layers.Conv2D(ch, 3, padding="same", name=f"{name}_conv1")(x)
    x = layers.ReLU(name=f"{name}_act2")(conditional_batchnorm(x, labels, num_classes, momentum, f"{name}_cbn2"))
    x = layers.Conv2D(ch, 3, padding="same", name=f"{name}_conv2")(x)
    return layers.Add(name=f"{name}_out")([x, shortcut])


def build_discriminator(image_shape, num_classes, options):
    ch = _width(options.d_filters, DEFAULTS["d_filters"], "d_filters")
    sn = spectral_norm_wrapper(pick(options.spectral_norm, DEFAULTS["spectral_norm"]))
    start_size(image_shape, upsamplings=3)  # same sizes as G, so a 24×24 D pairs with a 24×24 G
    image = keras.Input(image_shape, name="image")
    labels = keras.Input((1,), dtype="int32", name="label")
    # Optimized block: no ReLU before the first conv (it would zero half the pixels).
    x = sn(layers.Conv2D(ch, 3, padding="same", name="opt_conv1"))(image)
    x = sn(layers.Conv2D(ch, 3, padding="same", name="opt_conv2"))(layers.ReLU(name="opt_act")(x))
    x = layers.AveragePooling2D(2, name="opt_pool")(x)
    shortcut = sn(layers.Conv2D(ch, 1, name="opt_sc_conv"))(layers.AveragePooling2D(2, name="opt_sc_pool")(image))
    x = layers.Add(name="opt_out")([x, shortcut])
    x = _down_block(x, ch, sn, "down", downsample=True)
    x = _down_block(x, ch, sn, "same1", downsample=False)
    x = _down_block(x, ch, sn, "same2", downsample=False)
    x = layers.ReLU(name="features_act")(x)
    # Global *sum* pooling as in SNGAN: it sets the scale of the score that the hinge's margin of 1 meets.
    area = x.shape[1] * x.shape[2]
    features = layers.Rescaling(float(area), name="features")(layers.GlobalAveragePooling2D(name="pool")(x))
    unconditional = sn(layers.Dense(1, dtype=OUTPUT_DTYPE, name="realness"))(features)
    # The projection embedding as a bias-free Dense on a one-hot label: SpectralNormalization casts its
    # output to its input's dtype, which for an Embedding would be the integer label.
    one_hot = layers.CategoryEncoding(num_classes, output_mode="one_hot", name="label_one_hot")(labels)
    label_code = sn(layers.Dense(ch, use_bias=False, name="projection"))(one_hot)
    matches_label = layers.Dot(axes=1, dtype=OUTPUT_DTYPE, name="label_match")([label_code, features])
    return keras.Model([image, labels], layers.Add(dtype=OUTPUT_DTYPE, name="score")([unconditional, matches_label]),
                       name="sngan_discriminator")


def _down_block(x, ch, sn, name, downsample):
    shortcut = x
    if downsample:  # a learnt shortcut only where the block changes the size (SNGAN's learnable_sc)
        shortcut = sn(layers.Conv2D(ch, 1, name=f"{name}_sc_conv"))(x)
        shortcut = layers.AveragePooling2D(2, name=f"{name}_sc_pool")(shortcut)
    x = sn(layers.Conv2D(ch, 3, padding="same", name=f"{name}_conv1"))(layers.ReLU(name=f"{name}_act1")(x))
    x = sn(layers.Conv2D(ch, 3, padding="same", name=f"{name}_conv2"))(layers.ReLU(name=f"{name}_act2")(x))
    if downsample:
        x = layers.AveragePooling2D(2, name=f"{name}_pool")(x)
    return layers.Add(name=f"{name}_out")([x, shortcut])


def _width(value, default, field):
    widths = pick(value, default)
    if len(widths) != 1:
        raise ValueError(f"sngan takes one width per network ({field} = [ch]), got {widths}")
    return widths[0]
