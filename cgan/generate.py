"""Generate images from a trained run: the `generate` API behind the CLI, notebooks and widget.

    from cgan.generate import Generator
    g = Generator.from_run("resultados/mnist/m1_v2")      # or Generator.default("mnist")
    images, labels = g.generate(labels=[7], n=4, seed=0)  # uint8 N×H×W×C, int labels

Large requests go through `write_output`: the model runs a batch at a time (`Generator.batch_size`) and an
.npz is streamed to disk batch by batch, so memory stays flat whatever the count. It replaces an existing file
only if that file is writable, and keeps its permissions; the CLI says when it replaced one.
"""
from __future__ import annotations

import difflib
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cgan.batching import inference_batch
from cgan.errors import LabelError, RunError
from cgan.io import atomic_write, existing_ancestor
from cgan.runs import RunFolder, results_root

# The generator each dataset uses when no --run is given (committed run folders).
SHIPPED_RUNS = {"mnist": "mnist/fast_v1", "cifar10": "cifar10/fast32_v3", "cifar100": "cifar100/fast32_v1"}
# Largest PNG grid written, in pixels after --scale: 8192 × 8192, the texture limit of many image viewers.
# The grid is built in memory (up to ~200 MB for RGB); larger requests belong in an .npz.
MAX_GRID_PIXELS = 8192 * 8192


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
        elif part.isascii() and part.lstrip("-").isdigit():  # str.isdigit also takes '²' and '①', int() not
            index = int(part)
            if not 0 <= index < len(names):
                raise LabelError(f"label {index} is out of range (0..{len(names) - 1})")
            indices.append(index)
        else:
            close = difflib.get_close_matches(part, names, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise LabelError(f"unknown label '{part}'{hint}")
    return indices


def read_generator_summary(run: RunFolder) -> dict:
    """The run's summary.json with what generation needs checked (RunError, one line, naming the file):
    a known dataset, its class names, the noise size, and an image shape (the dataset's when not recorded)."""
    from cgan.data import IMAGE_SHAPES

    meta = run.read_summary()  # a dict: RunFolder refuses anything else
    where = run.summary
    missing = [key for key in ("dataset", "label_names", "latent_dim") if key not in meta]
    if missing:
        raise RunError(f"{where} lacks {', '.join(missing)}; it is not the summary of a cgan run")
    if meta["dataset"] not in IMAGE_SHAPES:
        raise RunError(f"{where} names an unknown dataset {meta['dataset']!r} (one of {', '.join(IMAGE_SHAPES)})")
    names, latent = meta["label_names"], meta["latent_dim"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise RunError(f"{where}: label_names must be a non-empty list of names")
    if not _is_count(latent):
        raise RunError(f"{where}: latent_dim must be a positive integer, not {latent!r}")
    shape = meta.setdefault("image_shape", list(IMAGE_SHAPES[meta["dataset"]]))
    if not (isinstance(shape, list) and len(shape) == 3 and all(_is_count(d) for d in shape)):
        raise RunError(f"{where}: image_shape must be [height, width, channels], not {shape!r}")
    return meta


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclass
class Generator:
    model: object
    label_names: tuple[str, ...]
    latent_dim: int
    dataset: str
    run: Path

    @property
    def source(self) -> str:
        """The file this generator draws with, as metrics.json and reports name it."""
        return "generator.keras"

    @classmethod
    def from_run(cls, run_dir) -> "Generator":
        run = RunFolder(run_dir)
        meta = read_generator_summary(run)
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
        check_dataset_shape(self, "generator")
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

    def batch_size(self) -> int:
        """Images per model call (cgan.batching)."""
        return inference_batch(self.model)

    def batches(self, labels, n: int = 1, seed: int | None = None, batch_size: int | None = None):
        """Yield (uint8 images, int labels) batch by batch: the same images as `generate`, in flat memory.

        The noise is drawn batch by batch from one generator seeded once, which gives the same numbers as
        one draw of the whole request (`latents`).
        """
        from cgan.data import to_uint8

        batch_size = batch_size or self.batch_size()
        labels = np.asarray(labels, dtype="int32")
        rng = np.random.default_rng(seed)
        for start in range(0, len(labels) * n, batch_size):
            label_batch = labels[np.arange(start, min(start + batch_size, len(labels) * n)) // n].reshape(-1, 1)
            noise = rng.standard_normal((len(label_batch), self.latent_dim)).astype("float32")
            yield to_uint8(self._run(noise, label_batch)), label_batch.reshape(-1)

    def generate(self, labels, n: int = 1, seed: int | None = None):
        """uint8 images (len(labels)·n × H × W × C) and their int labels."""
        parts = list(self.batches(labels, n, seed))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _run(self, noise: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """The model's output in [-1, 1] for one batch.

        predict_on_batch, not model(...): on PyTorch a plain call records the autograd graph, and the peak RSS
        crept up (29 MB over 50 batches of 500 tiny-model images, against 3 MB); predict runs under no_grad.
        """
        return np.asarray(self.model.predict_on_batch([noise, labels]))


def check_dataset_shape(generator: Generator, what: str) -> None:
    """Refuse a run whose summary names a dataset of another image shape than its generator makes: its images
    would be scored, or labelled, as that dataset's."""
    from cgan.data import IMAGE_SHAPES

    expected = IMAGE_SHAPES[generator.dataset]
    if tuple(generator.image_shape) != expected:
        raise RunError(f"{what} in {generator.run} makes {tuple(generator.image_shape)} images, but its summary "
                       f"names {generator.dataset}, whose images are {expected}")


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
    # Keras reports a .keras file that is not a whole zip archive as "File not found".
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise RunError(f"cannot load generator {path}: the file is truncated or corrupt (not a complete .keras "
                       f"archive)")
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


def write_output(generator: Generator, labels, n: int, seed: int | None, out, per_row: int,
                 scale: int = 4) -> Path:
    """Generate n images per label into a PNG (one image, or a grid with `per_row` images to a row) or an NPZ
    with x (uint8 N×H×W×C) and y (int64 labels). An NPZ is streamed batch by batch; both are written atomically."""
    out = output_target(out)
    check_output(out, len(labels) * n, generator.image_shape, per_row, scale)
    check_replaceable(out)
    batches = generator.batches(labels, n, seed)
    if out.suffix.lower() == ".npz":
        atomic_write(out, lambda tmp: _stream_npz(tmp, batches, labels, n, generator.image_shape))
        return out
    from cgan import plots

    images = np.concatenate([b[0] for b in batches])  # at most MAX_GRID_PIXELS / scale² pixels
    if len(labels) > 1:  # several classes: name them in the picture
        grid = plots.named_tile(images, [generator.label_names[i] for i in labels], per_row, scale=scale)
    else:
        grid = plots.tile(images, -(-len(images) // per_row), min(len(images), per_row),
                          pad=0 if len(images) == 1 else 2, scale=scale)
    atomic_write(out, lambda tmp: plots.save_png(grid, tmp))
    return out


OUTPUT_SUFFIXES = (".png", ".npz")


def output_suffix(out) -> str:
    """'.png' (a grid) or '.npz' (arrays); RunError for any other name."""
    suffix = Path(out).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise RunError(f"--out must end in .png or .npz, not '{Path(out).suffix or Path(out).name}': {out}")
    return suffix


def output_target(out) -> Path:
    """The path written for `out`: a symbolic link's target, so that the link itself stays."""
    out = Path(out)
    return Path(os.path.realpath(out)) if out.is_symlink() else out


def check_replaceable(out: Path) -> bool:
    """Whether `out` exists and would be replaced; RunError (one line) for a path that must not be.

    A file without any write permission bit is refused even where the user could replace it anyway (root, or
    the owner of its folder): read-only is what its owner asked for.
    """
    try:
        info = os.stat(out)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(info.st_mode):
        raise RunError(f"{out} exists and is not a regular file; choose another output")
    if not info.st_mode & 0o222 or not os.access(out, os.W_OK):
        raise RunError(f"{out} is read-only; refusing to replace it (make it writable, or choose another output)")
    return True


def check_output(out: Path, count: int, image_shape, per_row: int, scale: int) -> None:
    """Refuse (RunError, one line) an output that would not fit on its disk, or a PNG grid over MAX_GRID_PIXELS."""
    suffix = output_suffix(out)
    if scale < 1:
        raise RunError("--scale must be at least 1")
    h, w, c = image_shape
    needed = count * h * w * c + count * 8  # uncompressed x and y: what deflate cannot exceed by more than 0.1 %
    if suffix == ".png":
        height, width = _grid_size(count, per_row, h, w, scale)
        if height * width > MAX_GRID_PIXELS:
            raise RunError(f"a PNG grid of {count:,} images would be {width:,} × {height:,} pixels, over the "
                           f"{MAX_GRID_PIXELS:,}-pixel limit; ask for fewer images, a smaller --scale, or an .npz")
        needed = height * width * c
    free = shutil.disk_usage(Path(out).parent if str(Path(out).parent) else ".").free
    if needed * 1.001 + 2**16 > free:
        raise RunError(f"{count:,} images need up to {_size(needed)} for {out}, but its disk has {_size(free)} "
                       f"free; ask for fewer")


def check_writable_folder(folder, needed_bytes: int = 0) -> None:
    """RunError (one line) unless a file can be made in `folder` (or, where it does not exist yet, in the
    nearest folder above it) and its disk has `needed_bytes` free: checked before slow work, not after it."""
    folder = Path(folder)
    existing = existing_ancestor(folder)
    if not existing.is_dir():
        raise RunError(f"cannot write to {folder}: {existing} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):  # the real test: permissions, a read-only mount, no inodes
            pass
    except OSError as exc:
        raise RunError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    free = shutil.disk_usage(existing).free
    if needed_bytes * 1.001 + 2**16 > free:
        raise RunError(f"cannot write to {folder}: its disk has {_size(free)} free, and this needs about "
                       f"{_size(needed_bytes)}")


def _grid_size(count: int, per_row: int, h: int, w: int, scale: int) -> tuple[int, int]:
    """(height, width) of `plots.tile`'s mosaic for `count` images, `per_row` to a row."""
    cols, rows = min(count, per_row), -(-count // per_row)
    pad = 0 if count == 1 else 2
    return (rows * (h + pad) + pad) * scale, (cols * (w + pad) + pad) * scale


def _size(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:,.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:,.1f} MiB"


def _stream_npz(path, batches, labels, n: int, image_shape) -> None:
    """What `np.savez_compressed(path, x=images, y=labels)` writes, one batch of images at a time."""
    count = len(labels) * n
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            _npy_header(member, "uint8", (count, *image_shape))
            for images, _ in batches:
                member.write(np.ascontiguousarray(images, dtype="uint8").tobytes())
        with archive.open("y.npy", "w", force_zip64=True) as member:
            _npy_header(member, "int64", (count,))
            for start in range(0, count, 2**20):
                index = np.arange(start, min(start + 2**20, count)) // n
                member.write(np.asarray(labels, dtype="int64")[index].tobytes())


def _npy_header(stream, dtype: str, shape: tuple) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": tuple(int(s) for s in shape)}
    np.lib.format.write_array_header_1_0(stream, header)
