"""The model zoo: one module per architecture, looked up by name.

m1, m3, m4 and m5 rebuild the original project's models; `fast` and `sngan` are new, `fast32` too.
A module may set D_OUTPUT = "score" when its discriminator outputs an unbounded
score instead of a probability; cgan.gan picks the matching loss.
"""
from __future__ import annotations

import importlib

from cgan.config import MODELS, ModelOptions

# Parameter counts (G + D) the original project reports, used by tests and the README.
NOMINAL_PARAMS = {"m1": 1.0e6, "m3": 5.0e6, "m4": 5.2e6, "m5": 55e6}


def _module(name: str):
    if name not in MODELS:
        raise ValueError(f"unknown model '{name}' (choose from {', '.join(MODELS)})")
    return importlib.import_module(f"cgan.models.{name}")


def build_models(name: str, image_shape, num_classes: int, latent_dim: int = 100,
                 options: ModelOptions | None = None):
    """(generator, discriminator) of one model for any image shape and class count."""
    module = _module(name)
    options = options or ModelOptions()
    generator = module.build_generator(tuple(image_shape), num_classes, latent_dim, options)
    discriminator = module.build_discriminator(tuple(image_shape), num_classes, options)
    return generator, discriminator


def discriminator_output(name: str) -> str:
    """'probability' (sigmoid, the original zoo) or 'score' (a logit, for hinge or logit BCE)."""
    return getattr(_module(name), "D_OUTPUT", "probability")
