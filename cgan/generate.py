"""Generate images from a trained run: the `generate` API behind the CLI, notebooks and widget.

    from cgan.generate import Generator
    g = Generator.from_run("resultados/mnist/m1_v2")      # or Generator.default("mnist")
    images, labels = g.generate(labels=[7], n=4, seed=0)  # uint8 N×H×W×C, int labels
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cgan.runs import RunError, RunFolder, results_root

# The generator each dataset uses when no --run is given (committed run folders).
SHIPPED_RUNS = {"mnist": "mnist/fast_v1"}


class LabelError(ValueError):
    """A label that the generator cannot produce; the message is one line."""


def default_run(dataset: str) -> Path:
    if dataset not in SHIPPED_RUNS:
        raise RunError(f"no shipped generator for '{dataset}' yet; train one and pass --run")
    return results_root() / SHIPPED_RUNS[dataset]


def resolve_labels(spec: str | int, names) -> list[int]:
    """'7' / 7 / 'sunflower' / 'all' → class indices; unknown names suggest the closest ones."""
    names = [str(n) for n in names]
    text = str(spec).strip()
    if text.lower() == "all":
        return list(range(len(names)))
    indices = []
    for part in text.split(","):
        part = part.strip()
        if part in names:  # names first: MNIST's names are the digits themselves
            indices.append(names.index(part))
        elif part.lstrip("-").isdigit():
            index = int(part)
            if not 0 <= index < len(names):
                raise LabelError(f"label {index} is out of range (0..{len(names) - 1})")
            indices.append(index)
        else:
            close = difflib.get_close_matches(part, names, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise LabelError(f"unknown label '{part}'{hint}")
    return indices


@dataclass
class Generator:
    model: object
    label_names: tuple[str, ...]
    latent_dim: int
    dataset: str
    run: Path

    @classmethod
    def from_run(cls, run_dir) -> "Generator":
        run = RunFolder(run_dir)
        meta = run.read_summary()
        path = run.generator_keras
        if not path.is_file():
            raise RunError(f"{run.path} has no generator.keras")
        generator = cls(load_generator(path), tuple(meta["label_names"]), int(meta["latent_dim"]),
                        meta["dataset"], run.path)
        generator.check_matches(meta)
        return generator

    def check_matches(self, meta: dict) -> None:
        """Refuse a generator file whose shape or class count disagrees with its run's summary."""
        if list(self.image_shape) != list(meta["image_shape"]):
            raise RunError(f"generator in {self.run} makes {self.image_shape} images but the run says "
                           f"{tuple(meta['image_shape'])}")
        classes = _embedding_classes(self.model)
        if classes is not None and classes != len(self.label_names):
            raise RunError(f"generator in {self.run} knows {classes} classes but the run names "
                           f"{len(self.label_names)}")
        if int(self.model.inputs[0].shape[-1]) != self.latent_dim:
            raise RunError(f"generator in {self.run} takes noise of size {self.model.inputs[0].shape[-1]}, "
                           f"not {self.latent_dim}")

    @classmethod
    def default(cls, dataset: str) -> "Generator":
        return cls.from_run(default_run(dataset))

    @property
    def image_shape(self):
        return tuple(self.model.output_shape[1:])

    def latents(self, labels, n: int, seed: int | None):
        """Noise and label arrays for n images per label, reproducible for a seed."""
        labels = np.repeat(np.asarray(labels, dtype="int32"), n).reshape(-1, 1)
        noise = np.random.default_rng(seed).standard_normal((len(labels), self.latent_dim)).astype("float32")
        return noise, labels

    def generate(self, labels, n: int = 1, seed: int | None = None):
        """uint8 images (len(labels)·n × H × W × C) and their int labels."""
        from cgan.callbacks import generate_images
        from cgan.data import to_uint8

        noise, label_array = self.latents(labels, n, seed)
        return to_uint8(generate_images(self.model, noise, label_array)), label_array.reshape(-1)


def _embedding_classes(model) -> int | None:
    import keras

    sizes = [layer.input_dim for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    return sizes[0] if sizes else None


def load_generator(path):
    """Load a saved generator with Keras's safe mode: no code from the file is ever run."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise RunError(f"generator file not found: {path}")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        text = str(exc)
        if "Lambda" in text or "lambda" in text:
            raise RunError(f"refusing to load {path}: it contains a Lambda layer (arbitrary code); "
                           f"cgan generators never need one") from None
        first = next((line for line in text.splitlines() if line.strip()), "")
        raise RunError(f"cannot load generator {path} (missing, truncated or corrupt): "
                       f"{type(exc).__name__}: {first[:160]}") from None


def save_images(images: np.ndarray, labels: np.ndarray, out, per_row: int, scale: int = 4) -> Path:
    """Write a PNG (one image, or a grid with one row per label) or an NPZ with x and y."""
    from cgan import plots

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".npz":
        np.savez_compressed(out, x=images, y=labels.astype("int64"))
    elif suffix == ".png":
        rows = -(-len(images) // per_row)
        grid = plots.tile(images, rows, per_row, pad=0 if len(images) == 1 else 2, scale=scale)
        plots.save_png(grid, out)
    else:
        raise ValueError(f"output must end in .png or .npz, not '{out.suffix or out.name}'")
    return out
