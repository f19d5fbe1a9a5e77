"""Differentiable augmentation of what D sees (DiffAugment, Zhao et al. 2020).

The same random colour shift, translation and cutout are applied to real and
generated images on their way into D, in both the D and the G step. Because
every operation is differentiable, G still gets gradients through them, and D
cannot win by memorising the small training set, which is what lets GANs train
on 10k-50k images. Written with `keras.ops` and `keras.random` so it runs on
every backend and, on JAX, inside the stateless training step.
Images are in [-1, 1], NHWC.
"""
from __future__ import annotations

import keras
from keras import ops

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def diff_augment(images, policy, seed_generator):
    """Apply each augmentation named in `policy` (keys of AUGMENTATIONS; cgan.config validates them)."""
    for name in policy:
        images = AUGMENTATIONS[name](images, seed_generator)
    return images


def _per_image(images, low, high, seed):
    return keras.random.uniform((ops.shape(images)[0], 1, 1, 1), low, high, seed=seed, dtype=images.dtype)


def color(images, seed):
    """Random brightness, saturation and contrast, per image."""
    images = images + _per_image(images, -0.5, 0.5, seed)
    channel_mean = ops.mean(images, axis=-1, keepdims=True)
    images = (images - channel_mean) * _per_image(images, 0.0, 2.0, seed) + channel_mean
    image_mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - image_mean) * _per_image(images, 0.5, 1.5, seed) + image_mean


def _shifted(padded, shift, size: int, pad: int, axis: int):
    """Take `size` rows (axis 1) or columns (axis 2) of each padded image, starting `pad + shift` in."""
    index = ops.arange(size)[None, :] + pad + shift[:, None]
    n, height, width, channels = ops.shape(padded)
    if axis == 1:
        index, shape = ops.reshape(index, (-1, size, 1, 1)), (n, size, width, channels)
    else:
        index, shape = ops.reshape(index, (-1, 1, size, 1)), (n, height, size, channels)
    return ops.take_along_axis(padded, ops.broadcast_to(index, shape), axis=axis)


def translation(images, seed):
    """Shift each image by up to 1/8 of its size in x and y, filling with zeros."""
    n, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
    pad_h, pad_w = max(1, int(height * TRANSLATION_RATIO)), max(1, int(width * TRANSLATION_RATIO))
    padded = ops.pad(images, [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]])
    shift_y = keras.random.randint((n,), -pad_h, pad_h + 1, seed=seed)
    shift_x = keras.random.randint((n,), -pad_w, pad_w + 1, seed=seed)
    rows = _shifted(padded, shift_y, height, pad_h, axis=1)
    return _shifted(rows, shift_x, width, pad_w, axis=2)


def _within(offset, half: int):
    return ops.logical_and(offset >= -half, offset < half)


def cutout(images, seed):
    """Zero one square of half the image's size at a random place in each image."""
    n, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
    half_h, half_w = int(height * CUTOUT_RATIO) // 2, int(width * CUTOUT_RATIO) // 2
    centre_y = keras.random.randint((n, 1, 1, 1), 0, height, seed=seed)
    centre_x = keras.random.randint((n, 1, 1, 1), 0, width, seed=seed)
    rows = ops.reshape(ops.arange(height), (1, height, 1, 1))
    cols = ops.reshape(ops.arange(width), (1, 1, width, 1))
    inside = ops.logical_and(_within(rows - centre_y, half_h), _within(cols - centre_x, half_w))
    return images * ops.cast(ops.logical_not(inside), images.dtype)


AUGMENTATIONS = {"color": color, "translation": translation, "cutout": cutout}
