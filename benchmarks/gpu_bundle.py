"""Pack what benchmarks/gpu_check.sh needs on an offline GPU machine: `python -m benchmarks.gpu_bundle`.

Writes .gpu_bundle/ (git-ignored, < 64 MiB): wheels of the packages the H200
image lacks (Keras and the few it and cgan need; that image already has
PyTorch, JAX, numpy, scipy, pandas, scikit-learn, matplotlib, h5py, rich,
absl-py, ml-dtypes) for its Python 3.12, and MNIST (full train split) plus
as much of the CIFAR-10 training subset as fits, in cgan's npz layout, with
1000 test images each. The device tool carries at most 64 MiB together with
the working tree that git would commit (shipped run folders included), so the
CIFAR-10 share is what is left of a 62 MiB budget.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# Pinned to what this project runs with (constraints-cpu.txt) and their own pins here.
WHEELS = ["keras==3.15.1", "namex==0.1.0", "optree==0.20.0", "pydantic==2.14.4", "pydantic-core==2.50.5",
          "annotated-types==0.7.0", "typing-inspection==0.4.5"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
TEST_IMAGES = 1000
BUDGET = 62 * 2**20  # of the device tool's 64 MiB, with a margin
MIN_CIFAR_IMAGES = 2000


def download_wheels(folder: Path, python_version: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    platform_args = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", python_version, "--implementation", "cp", *platform_args,
                    "-d", str(folder), *WHEELS], check=True)


def pack_dataset(source: Path, target: Path, train_images: int | None) -> None:
    with np.load(source, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    rng = np.random.default_rng(0)
    keep = rng.choice(len(arrays["y_test"]), TEST_IMAGES, replace=False)
    arrays["x_test"], arrays["y_test"] = arrays["x_test"][keep], arrays["y_test"][keep]
    if train_images:
        keep = np.sort(rng.choice(len(arrays["y_train"]), train_images, replace=False))
        for key in ("x_train", "y_train", "train_index"):
            if key in arrays:
                arrays[key] = arrays[key][keep]
        arrays.setdefault("train_index", keep.astype("int32"))  # marks the split as a subset for cgan.data
    np.savez_compressed(target, **arrays)


def travelling_tree_bytes() -> int:
    """Bytes of the files the device tool sends: tracked plus untracked, not ignored."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    return sum((REPO / name).stat().st_size for name in listed if name and (REPO / name).is_file())


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / ".gpu_bundle"))
    parser.add_argument("--data-dir",
                        default=os.environ.get("CGAN_DATA_DIR") or str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--python-version", default="3.12", help="the GPU machine's Python")
    args = parser.parse_args(argv)
    out = Path(args.out)
    download_wheels(out / "wheels", args.python_version)
    (out / "data").mkdir(parents=True, exist_ok=True)
    pack_dataset(Path(args.data_dir) / "mnist.npz", out / "data" / "mnist.npz", None)
    cifar, source = out / "data" / "cifar10.npz", Path(args.data_dir) / "cifar10.npz"
    with np.load(source) as data:
        images = len(data["y_train"])
    pack_dataset(source, cifar, None)
    while folder_bytes(out) + travelling_tree_bytes() > BUDGET:  # compressed size ~ proportional to images
        excess = folder_bytes(out) + travelling_tree_bytes() - BUDGET
        images = int(images * (1 - excess / cifar.stat().st_size) * 0.98)
        if images < MIN_CIFAR_IMAGES:
            raise SystemExit("the working tree leaves too little room for CIFAR-10 in the device tool's 64 MiB")
        pack_dataset(source, cifar, images)
    total = folder_bytes(out) + travelling_tree_bytes()
    print(f"wrote {out}: {folder_bytes(out) / 2**20:.1f} MiB ({images} CIFAR-10 training images); "
          f"with the working tree {total / 2**20:.1f} MiB of the 64 MiB the device tool carries")


if __name__ == "__main__":
    main()
