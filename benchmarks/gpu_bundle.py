"""Pack what the GPU scripts need on an offline GPU machine: `python -m benchmarks.gpu_bundle`.

Writes .gpu_bundle/ (git-ignored) for benchmarks/gpu_check.sh and benchmarks/gpu_zoo.sh:
- site.tar.xz: the packages the H200 image lacks (Keras and the few it and cgan need; that image already has
  PyTorch, JAX, numpy, scipy, pandas, scikit-learn, matplotlib, h5py, rich, absl-py, ml-dtypes), unzipped from
  their wheels for its Python 3.12 and xz-compressed (3.6 MB instead of 5.7 MB of wheels);
- data/<dataset>.npz.xz for each of --datasets, in cgan's npz layout: a stratified sample of --test-images test
  images and as many training images as fit, xz-compressed (CIFAR with a delta filter across the RGB bytes: 0.67
  of the raw size where zlib, np.savez_compressed's, keeps 0.92);
- manifest.json: the images of each dataset, out of how many in the source, and the sizes.
The device tool carries at most 64 MiB together with the working tree that git would commit (shipped run folders
included), so the data gets what the tree and the packages leave of 64 MiB less --margin-mib. Datasets are
taken in the order given while each still gets its test images and MIN_TRAIN_IMAGES training images; those
that do not fit are named and left out. The room left is shared out in equal bytes.
"""
from __future__ import annotations

import argparse
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# Pinned to what this project runs with (constraints-cpu.txt) and their own pins here; tomli-w: cgan.config.
WHEELS = ["keras==3.15.1", "namex==0.1.0", "optree==0.20.0", "pydantic==2.14.4", "pydantic-core==2.50.5",
          "annotated-types==0.7.0", "typing-inspection==0.4.5", "tomli-w==1.2.0"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
LIMIT = 64 * 2**20  # what the device tool carries: working tree + carried paths
# What git may carry (tests/test_tree_budget.py), so that 16 MiB are left to the bundle: its packages (3.6 MiB),
# the 1 MiB margin and ~11 MiB of data. The least the GPU zoo can train on, 1,000 test and 1,000 training images
# of each dataset, takes 7.9 MiB of it (~2 KB a CIFAR image, ~150 B an MNIST one).
TREE_BUDGET = LIMIT - 16 * 2**20
DATASETS = ("mnist", "cifar100", "cifar10")  # benchmarks/gpu_zoo.py's order of value
TEST_IMAGES = 1000
MIN_TRAIN_IMAGES = 1000
SAMPLE_IMAGES = 300  # compressed to estimate the bytes per image before packing
SUFFIX = ".npz.xz"


def download_wheels(folder: Path, python_version: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    platform_args = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", python_version, "--implementation", "cp", *platform_args,
                    "-d", str(folder), *WHEELS], check=True)


def pack_site(wheels: Path, target: Path) -> None:
    """The wheels unzipped into one site-packages tree, as tar.xz. Unzipping is all that installing these
    wheels does (none has scripts or data files), so the GPU machine untars it onto PYTHONPATH."""
    with tempfile.TemporaryDirectory() as tree:
        for wheel in sorted(wheels.glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(tree)
        with tarfile.open(target, "w:xz", preset=9) as tar:
            tar.add(tree, arcname=".")


def _stratified(labels: np.ndarray, count: int, rng) -> np.ndarray:
    """`count` indices spread evenly over the classes (all of a class that has fewer), sorted."""
    classes = np.unique(labels)
    picks = []
    for i, c in enumerate(classes):
        members = rng.permutation(np.flatnonzero(labels == c))
        picks.append(members[:count // len(classes) + (i < count % len(classes))])
    return np.sort(np.concatenate(picks))


def subset(arrays: dict, train_images: int | None, test_images: int, seed: int = 0) -> dict:
    """A stratified sample of each split; every per-image array (coarse labels, train_index) follows its split.

    A cut training split gets `train_index`, which marks it as a subset for cgan.data (summary.json says so).
    """
    rng = np.random.default_rng(seed)
    out = dict(arrays)
    picks = {"test": _stratified(np.asarray(arrays["y_test"]).reshape(-1), test_images, rng)}
    if train_images is not None and train_images < len(arrays["y_train"]):
        picks["train"] = _stratified(np.asarray(arrays["y_train"]).reshape(-1), train_images, rng)
        out.setdefault("train_index", np.arange(len(arrays["y_train"]), dtype="int32"))
    for key in out:
        split = "train" if "train" in key else "test" if "test" in key else None
        if split in picks:
            out[key] = out[key][picks[split]]
    return out


def compress(arrays: dict) -> bytes:
    """An uncompressed npz, xz-compressed; RGB images get a delta filter over the 3 bytes of a pixel."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    rgb = arrays["x_train"].shape[-1] == 3
    filters = ([{"id": lzma.FILTER_DELTA, "dist": 3}] if rgb else []) + [{"id": lzma.FILTER_LZMA2, "preset": 6}]
    return lzma.compress(buffer.getvalue(), format=lzma.FORMAT_XZ, filters=filters)


def load_source(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def bytes_per_image(arrays: dict) -> float:
    sample = subset(arrays, SAMPLE_IMAGES, SAMPLE_IMAGES)
    sample = {k: v for k, v in sample.items() if "test" not in k}
    return len(compress(sample)) / SAMPLE_IMAGES


def plan_images(room: float, cost: dict, available: dict, test_images: int, min_train: int = MIN_TRAIN_IMAGES):
    """({dataset: training images}, [dataset left out]) for `room` bytes: datasets in the order of `cost`
    (bytes per image) while each still gets its test images and `min_train` training images; what is left is
    shared out in equal bytes on top, each capped at what its source has (the excess going to the others)."""
    kept, dropped, left = [], [], room
    for name, per_image in cost.items():
        need = (test_images + min(min_train, available[name])) * per_image
        if need <= left:
            kept.append(name)
            left -= need
        else:
            dropped.append(name)
    images = {name: min(min_train, available[name]) for name in kept}
    open_ = [name for name in kept if images[name] < available[name]]
    while open_:  # water-filling: those whose whole split fits take it; the rest share what is left
        share = left / len(open_)
        whole = [n for n in open_ if (available[n] - images[n]) * cost[n] <= share]
        if not whole:
            for name in open_:
                images[name] += int(share / cost[name])
            break
        for name in whole:
            left -= (available[name] - images[name]) * cost[name]
            images[name] = available[name]
            open_.remove(name)
    return images, dropped


def pack_datasets(source_dir: Path, bundle: Path, counts: dict, test_images: int) -> dict:
    """Write data/<name>.npz.xz for {name: training images (None: all)}; returns the manifest entries."""
    (bundle / "data").mkdir(parents=True, exist_ok=True)
    entries = {}
    for name, train in counts.items():
        arrays = load_source(Path(source_dir) / f"{name}.npz")
        packed = subset(arrays, train, test_images)
        target = bundle / "data" / f"{name}{SUFFIX}"
        target.write_bytes(compress(packed))
        entries[name] = {"train_images": len(packed["y_train"]), "source_train_images": len(arrays["y_train"]),
                         "test_images": len(packed["y_test"]), "source_test_images": len(arrays["y_test"]),
                         "bytes": target.stat().st_size, "source": f"{name}.npz"}
    return entries


def write_manifest(bundle: Path, datasets: dict, **facts) -> None:
    (bundle / "manifest.json").write_text(json.dumps({"datasets": datasets, **facts}, indent=2) + "\n")


def read_manifest(bundle: Path) -> dict:
    path = Path(bundle) / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {"datasets": {}}


def unpack_data(bundle: Path, target: Path, need=()) -> Path:
    """Decompress the bundle's data/<name>.npz.xz into target/<name>.npz (once); returns target, the folder for
    cgan's --data-dir. Exits with how to make the bundle when a dataset in `need` is not in it."""
    packed = {p.name[:-len(SUFFIX)]: p for p in (Path(bundle) / "data").glob(f"*{SUFFIX}")}
    missing = [name for name in need if name not in packed]
    if missing:
        raise SystemExit(f"no {', '.join(missing)} data in the bundle at {bundle}: run `python -m "
                         f"benchmarks.gpu_bundle --datasets {' '.join(need)}` where the data is")
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for name, path in packed.items():
        out = target / f"{name}.npz"
        if not out.is_file() or out.stat().st_mtime < path.stat().st_mtime:
            partial = out.with_suffix(".partial")
            partial.write_bytes(lzma.decompress(path.read_bytes()))
            os.replace(partial, out)
    return target


def tree_file_sizes(untracked: bool = True) -> dict[str, int]:
    """Bytes of each file git tracks, plus (untracked=True) those untracked and not ignored: what the tool sends."""
    extra = ["--others", "--exclude-standard"] if untracked else []
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", *extra], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    return {name: (REPO / name).stat().st_size for name in listed if name and (REPO / name).is_file()}


def travelling_tree_bytes() -> int:
    """Bytes of the files the device tool sends: tracked plus untracked, not ignored."""
    return sum(tree_file_sizes().values())


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / ".gpu_bundle"))
    parser.add_argument("--data-dir",
                        default=os.environ.get("CGAN_DATA_DIR") or str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--python-version", default="3.12", help="the GPU machine's Python")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS),
                        help="in order of priority: the first ones are kept when not all fit")
    parser.add_argument("--test-images", type=int, default=TEST_IMAGES, help="per dataset, stratified")
    parser.add_argument("--margin-mib", type=float, default=1.0,
                        help="left free of the 64 MiB, for files the tree gains before the call")
    args = parser.parse_args(argv)
    out = Path(args.out)
    wheels = Path(tempfile.mkdtemp(prefix="gpu_bundle_wheels_"))
    download_wheels(wheels, args.python_version)
    out.mkdir(parents=True, exist_ok=True)
    pack_site(wheels, out / "site.tar.xz")
    shutil.rmtree(wheels)
    shutil.rmtree(out / "wheels", ignore_errors=True)  # the layout before site.tar.xz: it would travel too
    for stale in (out / "data").glob(f"*{SUFFIX}"):
        stale.unlink()
    tree = travelling_tree_bytes()
    budget = LIMIT - args.margin_mib * 2**20 - tree
    sources = {name: load_source(Path(args.data_dir) / f"{name}.npz") for name in args.datasets}
    cost = {name: bytes_per_image(arrays) for name, arrays in sources.items()}
    available = {name: len(arrays["y_train"]) for name, arrays in sources.items()}
    room = budget - folder_bytes(out)
    counts, dropped = plan_images(room, cost, available, args.test_images)
    for name in dropped:
        print(f"{name}: left out: its {args.test_images} test and {MIN_TRAIN_IMAGES} training images "
              f"(~{cost[name]:.0f} B each) do not fit beside the datasets before it in the "
              f"{max(room, 0) / 2**20:.1f} MiB the working tree ({tree / 2**20:.1f} MiB) leaves", file=sys.stderr)
    if not counts:
        raise SystemExit(f"no dataset fits: the working tree is {tree / 2**20:.1f} MiB of the device tool's 64 MiB")
    entries = pack_datasets(Path(args.data_dir), out, counts, args.test_images)
    while folder_bytes(out) > budget:  # the estimate per image was low: shrink the largest by the excess
        name = max(entries, key=lambda n: entries[n]["bytes"])
        excess = folder_bytes(out) - budget
        counts[name] = int((entries[name]["bytes"] - excess * 1.05) / entries[name]["bytes"] * counts[name])
        if counts[name] < MIN_TRAIN_IMAGES:
            raise SystemExit(f"{name} does not fit after all; pass fewer --datasets")
        entries.update(pack_datasets(Path(args.data_dir), out, {name: counts[name]}, args.test_images))
    write_manifest(out, entries, tree_bytes=tree, site_bytes=(out / "site.tar.xz").stat().st_size,
                   left_out=dropped)
    total = folder_bytes(out) + tree
    for name, e in entries.items():
        cut = " (ALL)" if e["train_images"] == e["source_train_images"] else " (what fits)"
        print(f"{name}: {e['train_images']} of {e['source_train_images']} training images{cut}, "
              f"{e['test_images']} test images, {e['bytes'] / 2**20:.1f} MiB")
    print(f"wrote {out}: {folder_bytes(out) / 2**20:.1f} MiB; with the working tree ({tree / 2**20:.1f} MiB) "
          f"{total / 2**20:.1f} MiB of the 64 MiB the device tool carries")


if __name__ == "__main__":
    main()
