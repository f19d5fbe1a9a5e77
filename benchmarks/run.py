"""Benchmark harness: `python -m benchmarks.run` (add `--quick` for a smoke run with tiny sizes).

Measures, on this machine and in one run (so ratios compare like with like):
  * the practical peak FLOP/s of each backend (a large float32 matmul);
  * FLOPs per training image of each original model (PyTorch's FlopCounterMode);
  * training throughput (img/s, median epoch of several) per model × dataset
    shape × installed backend, plus variants: XLA for TensorFlow, batch 256,
    host sync after every step, JAX without jit;
  * the per-epoch evaluation's share of an epoch at default settings;
  * `cgan generate` latency: cold (process start to PNG written) and warm
    (per image), through ONNX Runtime and through Keras.
Writes benchmarks/results/<name>.csv and the tables in benchmarks/README.md.
Every measurement runs in its own process (Keras fixes its backend at import).
The numbers are only meaningful on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import report

REPO = Path(__file__).resolve().parents[1]
BACKENDS = tuple(b for b in ("torch", "jax", "tensorflow") if importlib.util.find_spec(b))

# (config, image shape, classes, steps per timed epoch): the original models on
# the datasets the original project trained them on, and the fast model. Step counts keep each
# timed epoch at roughly 10-40 s on a 2-core CPU.
WORKLOADS = [
    ("configs/mnist/m1_v2.toml", (28, 28, 1), 10, 12),
    ("configs/mnist/m3_v1.toml", (28, 28, 1), 10, 6),
    ("configs/cifar100/m3_v1.toml", (32, 32, 3), 100, 4),
    ("configs/cifar100/m4_v1.toml", (32, 32, 3), 100, 4),
    ("configs/cifar10/m5_v1.toml", (32, 32, 3), 10, 1),
    ("configs/mnist/fast_v1.toml", (28, 28, 1), 10, 60),  # the fast models, for scale
    ("configs/cifar10/fast32_v1.toml", (32, 32, 3), 10, 100),
]
M1 = WORKLOADS[0]


def worker(backend: str, task: dict, timeout: int = 1800) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-m", "benchmarks.worker", json.dumps(task)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{backend} {task['task']} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def label(config: str) -> tuple[str, str]:
    dataset, name = Path(config).parent.name, Path(config).stem
    return dataset, name.split("_")[0]


class Results:
    """Rows of the CSV: what was measured, on what, its value and unit."""

    def __init__(self):
        self.rows = []

    def add(self, kind, value, unit, **fields):
        row = {"kind": kind, "value": round(float(value), 6), "unit": unit, **fields}
        self.rows.append(row)
        print(f"  {kind:<16} {json.dumps(fields)} = {value:.4g} {unit}", flush=True)


def measure_peak(results, args):
    for backend in args.backends:
        out = worker(backend, {"task": "peak", "size": 512 if args.quick else 2048, "repeats": args.repeats})
        results.add("peak_matmul", out["flop_per_s"] / 1e9, "GFLOP/s", backend=backend, dtype="float32")


def measure_flops(results, args, workloads):
    if "torch" not in BACKENDS:
        return
    for config, shape, classes, _ in workloads:
        out = worker("torch", {"task": "flops", "config": config, "shape": shape, "classes": classes})
        dataset, model = label(config)
        results.add("flops_per_image", out["flop_per_image"] / 1e9, "GFLOP", model=model, dataset=dataset,
                    params=out["params"])


def train_task(config, shape, classes, steps, args, **variant):
    task = {"task": "train", "config": config, "shape": shape, "classes": classes,
            "steps": 2 if args.quick else steps, "repeats": args.repeats}
    if args.quick:
        task["batch"] = 8
    task.update(variant)
    return task


def measure_training(results, args, workloads):
    for config, shape, classes, steps in workloads:
        dataset, model = label(config)
        for backend in args.backends:
            out = worker(backend, train_task(config, shape, classes, steps, args))
            results.add("train", out["img_per_s"], "img/s", model=model, dataset=dataset, backend=backend,
                        variant="default", batch=out["batch"], epoch_s=round(out["median_epoch_s"], 2),
                        images=out["images_per_epoch"], first_epoch_s=round(out["first_epoch_s"], 2))


def measure_variants(results, args):
    """Alternatives to the defaults, for m1, each next to its default from the same run."""
    config, shape, classes, steps = M1
    variants = [("tensorflow", "xla", {"jit_compile": True}),
                ("torch", "batch256", {"batch": 256, "steps": max(1, steps // 2)}),
                ("torch", "sync_every_step", {"log_steps": True}),
                ("jax", "sync_every_step", {"log_steps": True}),
                ("jax", "no_jit", {"jit_compile": False, "steps": max(1, steps // 4)})]
    for backend, name, change in variants:
        if backend not in args.backends or (args.quick and name == "no_jit"):  # no_jit compiles op by op: slow
            continue
        task = train_task(config, shape, classes, steps, args)
        task.update(change if not args.quick else {k: v for k, v in change.items() if k not in ("batch", "steps")})
        out = worker(backend, task)
        results.add("train", out["img_per_s"], "img/s", model="m1", dataset="mnist", backend=backend, variant=name,
                    batch=out["batch"], epoch_s=round(out["median_epoch_s"], 2), images=out["images_per_epoch"],
                    first_epoch_s=round(out["first_epoch_s"], 2))


def measure_evaluation(results, args, scratch):
    """Evaluation after each epoch vs the epoch's training, m1 on MNIST, default eval_samples."""
    backend = args.backends[0]
    task = {"task": "evaluation", "config": M1[0], "dataset": "mnist", "scratch": str(scratch / "eval"),
            "dataset_dir": args.data_dir,
            "repeats": 1 if args.quick else 3}
    if args.quick:
        task["eval_samples"] = 100
    out = worker(backend, task)
    for part in ("d_metrics_s", "validation_s", "evolution_grid_s", "eval_total_s"):
        results.add("evaluation", out[part], "s", model="m1", dataset="mnist", backend=backend, part=part,
                    eval_samples=out["eval_samples"])


def measure_generate(results, args, scratch):
    """Cold: a new `cgan generate` process per PNG. Warm: per image inside one process."""
    run = scratch / "run"
    run.mkdir()
    for name in ("summary.json", "generator.keras", "config.toml"):
        shutil.copy(Path(args.run) / name, run / name)
    subprocess.run([sys.executable, "-m", "cgan", "export", "--run", str(run)], check=True, capture_output=True,
                   cwd=REPO, env=dict(os.environ, KERAS_BACKEND="torch"))
    keras_only = scratch / "run_keras"
    shutil.copytree(run, keras_only)
    (keras_only / "generator.onnx").unlink()
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    for engine, folder in (("onnx", run), ("keras", keras_only)):
        times = []
        for i in range(2 if args.quick else args.cold_repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "cgan", "generate", "--run", str(folder), "--label", "7",
                            "--seed", str(i), "--out", str(scratch / "seven.png")], check=True, capture_output=True,
                           cwd=REPO, env=env)
            times.append(time.perf_counter() - start)
        results.add("generate_cold", statistics.median(times), "s", engine=engine, repeats=len(times),
                    min_s=round(min(times), 3))
        out = worker(BACKENDS[0], {"task": "generate_warm", "engine": engine, "run": str(folder),
                                   "repeats": 5 if args.quick else 20})
        for key, value in out.items():
            results.add("generate_warm", value * 1000, "ms/image", engine=engine, per_call=key.rsplit("batch", 1)[1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the harness, numbers mean nothing")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--models", nargs="+", help="only these models (m1 m3 m4 m5 fast fast32)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per training measurement")
    parser.add_argument("--cold-repeats", type=int, default=7)
    parser.add_argument("--run", default=str(REPO / "resultados" / "mnist" / "m1_v2"),
                        help="run folder whose generator the generate timings use (only read)")
    parser.add_argument("--data-dir", default=os.environ.get("CGAN_DATA_DIR") or str(REPO.parent / "shared" / "datasets"),
                        help="folder with mnist.npz (default $CGAN_DATA_DIR, then ../shared/datasets)")
    parser.add_argument("--name", default=None, help="results file name (default: quick or cpu)")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite benchmarks/README.md")
    parser.add_argument("--skip", nargs="*", default=[], choices=("peak", "flops", "train", "variants", "eval",
                                                                 "generate"))
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
    workloads = [w for w in WORKLOADS if not args.models or label(w[0])[1] in args.models]
    if args.quick:
        workloads = workloads[:1]
    results = Results()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cgan-bench-") as tmp:
        steps = [("peak", lambda: measure_peak(results, args)),
                 ("flops", lambda: measure_flops(results, args, workloads)),
                 ("train", lambda: measure_training(results, args, workloads)),
                 ("variants", lambda: measure_variants(results, args)),
                 ("eval", lambda: measure_evaluation(results, args, Path(tmp))),
                 ("generate", lambda: measure_generate(results, args, Path(tmp)))]
        for name, step in steps:
            if name not in args.skip:
                print(f"[{time.perf_counter() - started:6.0f} s] {name}", flush=True)
                step()
    name = args.name or ("quick" if args.quick else "cpu")
    machine = report.describe_machine()
    csv_path = report.write_csv(results.rows, REPO / "benchmarks" / "results" / f"{name}.csv", machine,
                                wall_s=time.perf_counter() - started)
    if not args.no_readme:
        report.update_readme(REPO / "benchmarks" / "README.md", name, report.tables(results.rows, machine,
                                                                                   time.perf_counter() - started))
    print(f"wrote {csv_path} ({len(results.rows)} rows) in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
