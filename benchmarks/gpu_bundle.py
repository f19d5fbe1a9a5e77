"""Pack what benchmarks/gpu_check.sh needs on an offline GPU machine: `python -m benchmarks.gpu_bundle`.

Writes .gpu_bundle/ (git-ignored, < 64 MiB): wheels of the packages the H200
image lacks (Keras and the few it and cgan need; that image already has
PyTorch, JAX, numpy, scipy, pandas, scikit-learn, matplotlib, h5py, rich,
absl-py, ml-dtypes) for its Python 3.12, and MNIST (full train split) plus
7000 images of the CIFAR-10 training subset in cgan's npz layout, with 1000
test images each. The device tool carries at most 64 MiB with the working
tree (~22 MiB with the shipped run folders), which is what limits CIFAR-10.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# Pinned to what this project runs with (requirements.txt) and their own pins here.
WHEELS = ["keras==3.15.1", "namex==0.1.0", "optree==0.20.0", "pydantic==2.14.4", "pydantic-core==2.50.5",
          "annotated-types==0.7.0", "typing-inspection==0.4.5"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
TEST_IMAGES = 1000
TRAIN_IMAGES = {"mnist": None, "cifar10": 7000}  # None: the whole split


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / ".gpu_bundle"))
    parser.add_argument("--data-dir", default=os.environ.get("CGAN_DATA_DIR") or str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--python-version", default="3.12", help="the GPU machine's Python")
    args = parser.parse_args(argv)
    out = Path(args.out)
    download_wheels(out / "wheels", args.python_version)
    (out / "data").mkdir(parents=True, exist_ok=True)
    for name in ("mnist", "cifar10"):
        pack_dataset(Path(args.data_dir) / f"{name}.npz", out / "data" / f"{name}.npz", TRAIN_IMAGES[name])
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out}: {size / 2**20:.1f} MiB")
    if size > 40 * 2**20:
        raise SystemExit("bundle over 40 MiB: with the working tree it would not fit the 64 MiB the device tool carries")


if __name__ == "__main__":
    main()
