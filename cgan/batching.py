"""How many images one eager model call may take: bounded by the memory its layer outputs hold.

Every inference loop outside `fit` (generation, the evaluation classifier, D's and G's end-of-epoch
reports) runs the model a batch at a time. A fixed batch suits no model: one call on 200,000 images
took 23.6 GB, SNGAN's G outputs 16.5 MB per 32×32 image (8 GB for 500), MNIST `fast`'s 0.24 MB, and
the CIFAR-100 classifier at 500 images a call left 2.4 GB more resident than at 100. So the batch is
as many images as fit ACTIVATION_BUDGET, at most MAX_BATCH.
"""
from __future__ import annotations

import numpy as np

MAX_BATCH = 500
ACTIVATION_BUDGET = 512 * 2**20


def activation_bytes_per_image(model) -> int:
    """float32 bytes of every layer's output for one image: what a forward pass may hold at once (0 where the
    model has no Keras layers to read)."""
    total = 0
    for layer in getattr(model, "layers", ()):
        try:
            outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        except (AttributeError, ValueError):  # a layer called more than once has no single output
            continue
        total += sum(int(np.prod([d or 1 for d in o.shape[1:]])) for o in outputs)
    return 4 * total


def batch_for(bytes_per_image: int | None) -> int:
    if not bytes_per_image:
        return MAX_BATCH
    return max(1, min(MAX_BATCH, ACTIVATION_BUDGET // bytes_per_image))


def inference_batch(model) -> int:
    """Images per call of `model` (see ACTIVATION_BUDGET)."""
    return batch_for(activation_bytes_per_image(model))
