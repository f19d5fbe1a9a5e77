"""The model zoo: one module per original architecture, looked up by name."""
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
    """(generator, discriminator) of one original model for any image shape and class count."""
    module = _module(name)
    options = options or ModelOptions()
    generator = module.build_generator(tuple(image_shape), num_classes, latent_dim, options)
    discriminator = module.build_discriminator(tuple(image_shape), num_classes, options)
    return generator, discriminator
