"""A tiny m1 generator in a run folder (no training): for generation, export and run-folder tests."""
import json
from pathlib import Path

from cgan.config import ModelOptions

LATENT_DIM = 8
SUMMARY = {"dataset": "mnist", "label_names": [str(d) for d in range(10)], "latent_dim": LATENT_DIM,
           "image_shape": [28, 28, 1]}


def tiny_generator(seed: int = 0):
    import keras

    from cgan.models import build_models

    keras.utils.set_random_seed(seed)  # different seeds give different weights
    generator, _ = build_models("m1", (28, 28, 1), 10, latent_dim=LATENT_DIM,
                                options=ModelOptions(g_filters=[8, 8, 4], d_filters=[4, 8]))
    return generator


def tiny_generator_run(folder: Path, seed: int = 0) -> Path:
    """<folder>/generator.keras and summary.json (the folder is created if needed); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tiny_generator(seed).save(folder / "generator.keras")
    (folder / "summary.json").write_text(json.dumps(SUMMARY))
    return folder
