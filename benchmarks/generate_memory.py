"""Peak memory and speed of large `cgan generate` requests: `python -m benchmarks.generate_memory`.

Cases (each in its own process, `cgan generate --label all --out <scratch>/x.npz`):
  * MNIST, 200,000 images, the shipped generator through ONNX Runtime (what `cgan generate` uses) and
    through Keras (the same run without its generator.onnx);
  * CIFAR, 100,000 images through Keras: the first trained CIFAR run in resultados/, else an untrained
    generator built from --cifar-config (the same network, so the same cost; only the pixels are noise).
Each case is also run for 100 images, so that the table shows what the large request adds.
Per row: images, peak RSS of the whole process (ru_maxrss: imports and model included), seconds of the
`cgan generate` call and images/s (model loading included, one process, one request). The numbers only
mean something on an otherwise idle machine. `--mnist-n 200 --cifar-n 100` checks the harness in seconds.
Writes benchmarks/results/<name>.csv (default generate_memory; quick_generate_memory for small counts).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import report

REPO = Path(__file__).resolve().parents[1]
BASELINE_IMAGES = 100


def child(run: str, per_label: int, out: str) -> dict:
    """Run one `cgan generate` in this process; its peak RSS, wall time and engine."""
    from cgan.cli import main

    start = time.perf_counter()
    code = main(["generate", "--run", run, "--label", "all", "--n", str(per_label), "--seed", "0", "--out", out])
    wall = time.perf_counter() - start
    if code:
        raise SystemExit(code)
    return {"wall_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "engine": "keras" if "keras" in sys.modules else "onnx"}


def build_untrained(config: str, folder: str) -> None:
    """A run folder with an untrained generator of `config`'s network: same cost per image as a trained one."""
    from cgan.runtime import ensure_backend

    ensure_backend()
    from cgan.config import load_config
    from cgan.data import IMAGE_SHAPES, label_names
    from cgan.models import build_models

    cfg = load_config(config)
    names = label_names(cfg.dataset, label_mode=cfg.label_mode)
    generator, _ = build_models(cfg.model, IMAGE_SHAPES[cfg.dataset], len(names), cfg.latent_dim, cfg.model_options)
    Path(folder).mkdir(parents=True)
    generator.save(Path(folder) / "generator.keras")
    summary = {"dataset": cfg.dataset, "label_names": list(names), "latent_dim": cfg.latent_dim,
               "image_shape": list(IMAGE_SHAPES[cfg.dataset])}
    (Path(folder) / "summary.json").write_text(json.dumps(summary))


def measure(run: Path, images: int, scratch: Path) -> dict:
    classes = len(json.loads((run / "summary.json").read_text())["label_names"])
    per_label = max(1, images // classes)
    out = scratch / "x.npz"
    done = subprocess.run([sys.executable, "-m", "benchmarks.generate_memory", "--child", str(run), str(per_label),
                           str(out)], cwd=REPO, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"generate on {run} failed:\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    out_mb = out.stat().st_size / 2**20
    out.unlink()
    return {**result, "images": per_label * classes, "npz_mb": round(out_mb, 1)}


def cifar_run(args, scratch: Path) -> tuple[Path, str]:
    trained = sorted(p.parent for p in (REPO / "resultados").glob("cifar*/*/generator.keras")
                     if (p.parent / "summary.json").is_file())
    if args.cifar_run or trained:
        run = Path(args.cifar_run) if args.cifar_run else trained[0]
        return run, f"trained run {run.relative_to(REPO) if run.is_relative_to(REPO) else run}"
    folder = scratch / "cifar_untrained"
    subprocess.run([sys.executable, "-m", "benchmarks.generate_memory", "--untrained", args.cifar_config, str(folder)],
                   cwd=REPO, check=True, capture_output=True)
    return folder, f"untrained {args.cifar_config}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-n", type=int, default=200_000, help="MNIST images (default 200,000)")
    parser.add_argument("--cifar-n", type=int, default=100_000, help="CIFAR images (default 100,000)")
    parser.add_argument("--mnist-run", default=str(REPO / "resultados/mnist/fast_v1"))
    parser.add_argument("--cifar-run", help="a trained CIFAR run folder (default: the first in resultados/)")
    parser.add_argument("--cifar-config", default="configs/cifar10/sngan_v1.toml",
                        help="network for an untrained CIFAR generator when no trained run exists")
    parser.add_argument("--name", help="CSV name under benchmarks/results/")
    parser.add_argument("--scratch", help="folder for the outputs (default: a temporary folder)")
    parser.add_argument("--child", nargs=3, metavar=("RUN", "PER_LABEL", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--untrained", nargs=2, metavar=("CONFIG", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(child(args.child[0], int(args.child[1]), args.child[2])), flush=True)
        return
    if args.untrained:
        build_untrained(*args.untrained)
        return
    quick = args.mnist_n < 10_000 or args.cifar_n < 10_000
    name = args.name or ("quick_generate_memory" if quick else "generate_memory")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.scratch) as tmp:
        scratch = Path(tmp)
        keras_only = scratch / "mnist_keras"
        keras_only.mkdir()
        for file in ("summary.json", "generator.keras"):
            shutil.copy(Path(args.mnist_run) / file, keras_only / file)
        cifar, cifar_source = cifar_run(args, scratch)
        cases = [("mnist", Path(args.mnist_run), args.mnist_n, f"shipped {Path(args.mnist_run).name}"),
                 ("mnist", keras_only, args.mnist_n, f"shipped {Path(args.mnist_run).name}, no ONNX file"),
                 ("cifar", cifar, args.cifar_n, cifar_source)]
        rows = []
        for dataset, run, images, source in cases:
            for count in (BASELINE_IMAGES, images):
                row = {"dataset": dataset, "generator": source, **measure(run, count, scratch)}
                row["images_per_s"] = round(row["images"] / row["wall_s"], 1)
                row["wall_s"], row["peak_rss_mb"] = round(row["wall_s"], 2), round(row["peak_rss_mb"], 1)
                rows.append(row)
                print(f"  {dataset} {row['engine']:<5} {row['images']:>9,} images: peak RSS "
                      f"{row['peak_rss_mb']:,.0f} MB, {row['wall_s']:.1f} s, {row['images_per_s']:,.0f} images/s "
                      f"({source})", flush=True)
    columns = ["dataset", "engine", "images", "peak_rss_mb", "wall_s", "images_per_s", "npz_mb", "generator"]
    machine = report.describe_machine()
    path = report.write_csv(rows, REPO / "benchmarks/results" / f"{name}.csv", machine, time.perf_counter() - started,
                            columns=columns)
    print(f"wrote {path}")
    print(report._table(["dataset", "engine", "images", "peak RSS (MB)", "s", "images/s", ".npz (MB)", "generator"],
                        [[r[c] for c in columns] for r in rows]))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
