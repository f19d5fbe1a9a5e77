"""Datasets: MNIST, CIFAR-10 and CIFAR-100 in `keras.datasets` schema.

Source order: an explicit `data_dir`, then `$CGAN_DATA_DIR`, then
`keras.datasets` (which downloads). Images come back as float32 in [-1, 1],
labels as int32.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR_ENV = "CGAN_DATA_DIR"
IMAGE_SHAPES = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3), "cifar100": (32, 32, 3)}
MNIST_NAMES = tuple(str(d) for d in range(10))
CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck")
# Size of each official training split: a copy with fewer images is a subset, whatever its source.
OFFICIAL_TRAIN_IMAGES = {"mnist": 60000, "cifar10": 50000, "cifar100": 50000}


class DataError(RuntimeError):
    """No usable copy of a dataset; the message is one line."""


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    label_names: tuple[str, ...]
    source: str
    train_is_subset: bool
    train_note: str = ""

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.label_names)


def to_unit_range(images_uint8: np.ndarray) -> np.ndarray:
    return images_uint8.astype("float32") / 127.5 - 1.0


def to_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.rint((np.asarray(images) + 1.0) * 127.5), 0, 255).astype("uint8")


def _stratified_head(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of a class-balanced random subset of size ~n (all classes kept)."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = max(1, n // len(classes))
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in classes]
    return np.sort(np.concatenate(picks))


def _read_npz(path: Path, name: str, label_mode: str) -> dict:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as exc:  # truncated or not an npz
        raise DataError(f"cannot read {path}: {exc}") from None
    if name == "cifar100" and label_mode == "coarse":
        arrays["y_train"], arrays["y_test"] = arrays["y_train_coarse"], arrays["y_test_coarse"]
        arrays["label_names"] = arrays["coarse_label_names"]
    return arrays


def _from_keras(name: str, label_mode: str) -> dict:
    import keras

    module = getattr(keras.datasets, name)
    try:
        if name == "cifar100":
            (xt, yt), (xs, ys) = module.load_data(label_mode=label_mode)
        else:
            (xt, yt), (xs, ys) = module.load_data()
    except Exception as exc:
        raise DataError(
            f"no {name} data: set ${DATA_DIR_ENV} or --data-dir to a folder with {name}.npz "
            f"(keras.datasets download failed: {str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})"
        ) from None
    names = {"mnist": MNIST_NAMES, "cifar10": CIFAR10_NAMES}.get(name)
    if names is None:  # keras ships no CIFAR-100 names; sorted order is the official one
        names = _cifar100_names(label_mode)
    return {"x_train": xt, "y_train": yt, "x_test": xs, "y_test": ys, "label_names": np.array(names)}


def _cifar100_names(label_mode: str) -> tuple[str, ...]:
    from cgan.labels_cifar100 import COARSE, FINE

    return FINE if label_mode == "fine" else COARSE


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    value = data_dir or os.environ.get(DATA_DIR_ENV)
    return Path(value) if value else None


def load_dataset(name: str, data_dir=None, subset: int | None = None,
                 label_mode: str = "fine", seed: int = 0) -> Dataset:
    """Load a dataset scaled to [-1, 1]; `subset` keeps a stratified sample of the train split."""
    if name not in IMAGE_SHAPES:
        raise DataError(f"unknown dataset '{name}' (choose from {', '.join(IMAGE_SHAPES)})")
    if label_mode not in ("fine", "coarse") or (label_mode == "coarse" and name != "cifar100"):
        raise DataError(f"label mode '{label_mode}' is not available for {name}")
    folder = resolve_data_dir(data_dir)
    path = folder / f"{name}.npz" if folder else None
    if path is not None and path.is_file():
        arrays, source = _read_npz(path, name, label_mode), str(path)
    else:
        arrays, source = _from_keras(name, label_mode), "keras.datasets"
    x_train, y_train = arrays["x_train"], arrays["y_train"].reshape(-1).astype("int32")
    if x_train.ndim == 3:  # keras.datasets MNIST has no channel axis
        x_train, arrays["x_test"] = x_train[..., None], arrays["x_test"][..., None]
    official = OFFICIAL_TRAIN_IMAGES[name]
    is_subset = len(x_train) < official
    note = (f"all {official:,} official training images" if not is_subset else
            f"{len(x_train):,} of the {official:,} official training images, as the copy holds them")
    if subset is not None and subset < len(x_train):
        keep = _stratified_head(y_train, subset, seed)
        x_train, y_train, is_subset = x_train[keep], y_train[keep], True
        note = f"a stratified subset of {len(keep):,} training images (subset={subset}, seed {seed})"
    return Dataset(
        name=name,
        x_train=to_unit_range(x_train),
        y_train=y_train,
        x_test=to_unit_range(arrays["x_test"]),
        y_test=arrays["y_test"].reshape(-1).astype("int32"),
        label_names=tuple(str(s) for s in arrays["label_names"]),
        source=source,
        train_is_subset=is_subset,
        train_note=note,
    )


def label_names(name: str, data_dir=None, label_mode: str = "fine") -> tuple[str, ...]:
    """Class names without loading pixels where we know them by heart."""
    if name == "mnist":
        return MNIST_NAMES
    if name == "cifar10":
        return CIFAR10_NAMES
    if name == "cifar100":
        return _cifar100_names(label_mode)
    raise DataError(f"unknown dataset '{name}' (choose from {', '.join(IMAGE_SHAPES)})")
