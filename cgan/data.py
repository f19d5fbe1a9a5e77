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

from cgan.errors import DataError

DATA_DIR_ENV = "CGAN_DATA_DIR"
IMAGE_SHAPES = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3), "cifar100": (32, 32, 3)}
MNIST_NAMES = tuple(str(d) for d in range(10))
CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck")
# Size of each official training split: a copy with fewer images is a subset, whatever its source.
OFFICIAL_TRAIN_IMAGES = {"mnist": 60000, "cifar10": 50000, "cifar100": 50000}
OFFICIAL_TEST_IMAGES = {"mnist": 10000, "cifar10": 10000, "cifar100": 10000}


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


# A copy missing a few images (CIFAR-10's holds 49,059 of 50,000) is the full set for every purpose here;
# one that holds a quarter is a subset, and figures made from it must say so.
FULL_SET_SHARE = 0.95


def describe_train_split(name: str, images: int) -> tuple[bool, str]:
    """(is a subset, one line naming the training data) for a copy of `name` with `images` training images."""
    official = OFFICIAL_TRAIN_IMAGES[name]
    if images >= official:
        return False, f"all {official:,} official training images"
    if images >= FULL_SET_SHARE * official:
        return False, f"the full recovered set: {images:,} of the {official:,} official training images"
    return True, f"a {images:,}-image subset of the {official:,} official training images"


def data_label(summary_data: dict, dataset: str) -> str:
    """Short name of a run's training data for tables, from its summary's `data` record: '49,059 (full
    recovered set)', '11.5k subset', '60,000 (all)'."""
    images = summary_data.get("train_images")
    if not isinstance(images, int) or dataset not in OFFICIAL_TRAIN_IMAGES:
        return "?"
    if summary_data.get("train_is_subset", images < FULL_SET_SHARE * OFFICIAL_TRAIN_IMAGES[dataset]):
        return f"{images / 1000:g}k subset" if images % 100 == 0 and images >= 1000 else f"{images:,} subset"
    return f"{images:,} (all)" if images >= OFFICIAL_TRAIN_IMAGES[dataset] else f"{images:,} (full recovered set)"


def balanced_indices(labels: np.ndarray, per_class: int, seed: int, max_share: float = 1.0) -> np.ndarray:
    """Up to `per_class` random indices of every class, and at most `max_share` of a class, class after class."""
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        picks.append(rng.permutation(members)[:min(per_class, int(len(members) * max_share))])
    return np.concatenate(picks)


def proportional_indices(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of about n items with every class in its original proportion (what the EDA describes;
    `balanced_indices` gives every class the same count instead, which training and scoring want)."""
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(len(labels)), train_size=n, stratify=labels, random_state=seed)
    return np.sort(keep)


def fine_to_coarse(data_dir=None) -> np.ndarray:
    """CIFAR-100's superclass of each fine class (index → index), read off the aligned test labels."""
    fine = load_dataset("cifar100", data_dir, label_mode="fine", train=False).y_test
    coarse = load_dataset("cifar100", data_dir, label_mode="coarse", train=False).y_test
    mapping = np.full(100, -1)
    mapping[fine] = coarse
    if (mapping < 0).any() or not np.array_equal(mapping[fine], coarse):
        raise DataError("CIFAR-100's fine labels do not map to one superclass each")
    return mapping


def _read_npz(path: Path, name: str, label_mode: str) -> dict:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as exc:  # truncated or not an npz
        raise DataError(f"cannot read {path}: {exc}") from None
    check_arrays(arrays, name, label_mode, path)
    if name == "cifar100" and label_mode == "coarse":
        arrays["y_train"], arrays["y_test"] = arrays["y_train_coarse"], arrays["y_test_coarse"]
        arrays["label_names"] = arrays["coarse_label_names"]
    return arrays


def _label_keys(label_mode: str) -> tuple[str, str, str]:
    """The npz keys of (train labels, test labels, names) for a label mode."""
    return ("y_train", "y_test", "label_names") if label_mode == "fine" else \
        ("y_train_coarse", "y_test_coarse", "coarse_label_names")


def check_arrays(arrays: dict, name: str, label_mode: str, source) -> None:
    """DataError (one line, naming `source`) unless the arrays are a `keras.datasets`-style copy of `name`:
    uint8 images of the dataset's shape, one integer label in range per image, and its number of class names.
    Checked on loading, so that a wrong file fails here and not as a shape error deep inside Keras."""
    y_train, y_test, names_key = _label_keys(label_mode)
    missing = [k for k in ("x_train", y_train, "x_test", y_test, names_key) if k not in arrays]
    if missing:
        raise DataError(f"{source} lacks {', '.join(missing)} (a {name} file holds x_train, y_train, x_test, "
                        f"y_test and label_names)")
    classes = len(label_names(name, label_mode=label_mode))
    if arrays[names_key].shape != (classes,):
        raise DataError(f"{source}: {names_key} has shape {arrays[names_key].shape}, not the {classes} names "
                        f"of {name}")
    for x_key, y_key in (("x_train", y_train), ("x_test", y_test)):
        x, y = arrays[x_key], arrays[y_key]
        shape = x.shape[1:] + ((1,) if x.ndim == 3 else ())  # MNIST may come without its channel axis
        if x.dtype != np.uint8 or x.ndim not in (3, 4) or shape != IMAGE_SHAPES[name] or not len(x):
            raise DataError(f"{source}: {x_key} is {x.dtype} {x.shape}; {name} needs uint8 images of "
                            f"{' × '.join(map(str, IMAGE_SHAPES[name]))}")
        if not np.issubdtype(y.dtype, np.integer) or y.ndim not in (1, 2) \
                or y.size != len(x) or len(y) != len(x):
            raise DataError(f"{source}: {y_key} is {y.dtype} {y.shape}; it needs one integer label for each "
                            f"of the {len(x)} images in {x_key}")
        if y.min() < 0 or y.max() >= classes:
            raise DataError(f"{source}: {y_key} holds labels {y.min()}..{y.max()}, outside 0..{classes - 1}")


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
                 label_mode: str = "fine", seed: int = 0, train: bool = True) -> Dataset:
    """Load a dataset scaled to [-1, 1]; `subset` keeps a stratified sample of the train split.

    `train=False` keeps no training images (an empty array of the right shape), for callers that only score
    against the test split: CIFAR-10's 49k training images are 600 MB as float32."""
    if name not in IMAGE_SHAPES:
        raise DataError(f"unknown dataset '{name}' (choose from {', '.join(IMAGE_SHAPES)})")
    if label_mode not in ("fine", "coarse") or (label_mode == "coarse" and name != "cifar100"):
        raise DataError(f"label mode '{label_mode}' is not available for {name}")
    folder = resolve_data_dir(data_dir)
    path = folder / f"{name}.npz" if folder else None
    if path is not None and path.is_file():
        # a folder named by the environment is recorded by its variable, so run records name no machine's paths
        shown = str(path) if data_dir else f"${DATA_DIR_ENV}/{path.name}"  # as resolve_data_dir chose
        arrays, source = _read_npz(path, name, label_mode), shown
    else:
        arrays, source = _from_keras(name, label_mode), "keras.datasets"
    x_train, y_train = arrays["x_train"], arrays["y_train"].reshape(-1).astype("int32")
    if x_train.ndim == 3:  # keras.datasets MNIST has no channel axis
        x_train, arrays["x_test"] = x_train[..., None], arrays["x_test"][..., None]
    is_subset, note = describe_train_split(name, len(x_train))
    if subset is not None and subset < len(x_train):
        keep = np.sort(balanced_indices(y_train, max(1, subset // len(np.unique(y_train))), seed))
        x_train, y_train, is_subset = x_train[keep], y_train[keep], True
        note = f"a stratified subset of {len(keep):,} training images (subset={subset}, seed {seed})"
    if not train:
        x_train, y_train = x_train[:0], y_train[:0]
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
