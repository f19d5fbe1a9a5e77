"""Training speed on a GPU machine without TensorFlow or internet (an NVIDIA H200 here).

    bash benchmarks/gpu_check.sh            # on the GPU machine, with .gpu_bundle/ carried along
    python benchmarks/gpu_check.py --dry-run --out /tmp/x   # CPU, tiny sizes (tests/test_gpu_check.py)

For each installed backend among JAX and PyTorch, in one process each: the
matmul peak (float32 and bfloat16), then m1 on full MNIST and m5 on the
CIFAR-10 images of the bundle, each for 1 + 2 epochs with mixed precision
off (fp32) and on (bf16), and m1 once more reading the losses on the host
after every step (what the per-iteration CSV does). The first epoch carries
compilation and is reported apart. Everything stops starting new jobs after
--budget-s seconds, so the run stays within ~8 minutes. Writes gpu.csv and
gpu.md to --out ($OUT on the device tool).
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
M1 = ("configs/mnist/m1_v2.toml", "mnist", (28, 28, 1), 10)
M5 = ("configs/cifar10/m5_v1.toml", "cifar10", (32, 32, 3), 10)
# Dry runs keep each model's layer structure with a handful of filters.
TINY = {M1[0]: {"g_filters": [8, 8, 4], "d_filters": [4, 8]},
        M5[0]: {"g_filters": [8, 8, 8, 8], "d_filters": [4, 4, 8, 8, 8]}}


def jobs(args) -> list[dict]:
    found = []
    for (config, dataset, shape, classes), precision, log_steps in [
            (M1, "fp32", False), (M1, "bf16", False), (M5, "fp32", False), (M5, "bf16", False),
            (M1, "fp32", True)]:
        job = {"task": "train", "config": config, "dataset": dataset, "precision": precision,
               "log_steps": log_steps, "repeats": 1 if log_steps else 2}
        if args.dry_run:  # synthetic data of the same shape, a few tiny steps
            job.update(shape=shape, classes=classes, steps=2, batch=8, repeats=1, model_options=TINY[config])
        else:
            job["dataset_dir"] = str(Path(args.bundle) / "data")
        found.append(job)
    return found


def run_backend(backend: str, args, deadline: float) -> tuple[list[dict], list[dict]]:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")

    def worker(task):
        done = subprocess.run([sys.executable, "-m", "benchmarks.worker", json.dumps(task)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=max(60, deadline - time.time() + 120))
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode or not lines:
            return {"error": done.stderr.strip().splitlines()[-1][:300] if done.stderr.strip() else "no result"}
        return json.loads(lines[-1][len("RESULT "):])

    out = worker({"task": "train_many", "jobs": jobs(args), "deadline": deadline,
                  "peak_dtypes": ["float32", "bfloat16"], "peak_size": 256 if args.dry_run else 8192})
    if "error" in out:  # the worker itself failed: report it in both tables
        return [{"backend": backend, **out}], [{"backend": backend, **out}]
    return [{"backend": backend, **p} for p in out["peaks"]], [{"backend": backend, **r} for r in out["results"]]


def markdown(peaks, runs, wall_s: float, dry_run: bool) -> str:
    device = next((r.get("device") for r in runs + peaks if r.get("device")), "?")
    lines = [f"GPU check on {device}{' (DRY RUN on CPU, tiny sizes: numbers mean nothing)' if dry_run else ''}, "
             f"{wall_s:.0f} s in all.", "",
             "| backend | matmul dtype | TFLOP/s |", "|---|---|---|"]
    lines += [f"| {p['backend']} | {p.get('dtype')} | "
              f"{p['flop_per_s'] / 1e12:.1f} |" if "flop_per_s" in p else f"| {p['backend']} | ? | {p['error']} |"
              for p in peaks]
    lines += ["", "| backend | model | dataset | precision | host sync per step | batch | img/s | epoch s (median) "
              "| first epoch s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        model = Path(r.get("config", "?")).stem.split("_")[0]
        head = f"| {r['backend']} | {model} | {r.get('dataset')} | {r.get('precision')} | {r.get('log_steps')} "
        if "error" in r:
            lines.append(head + f"| | {r['error']} | | |")
        else:
            lines.append(head + f"| {r['batch']} | {r['img_per_s']:.0f} | {r['median_epoch_s']:.2f} | "
                         f"{r['first_epoch_s']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default=str(REPO / ".gpu_bundle"), help="from python -m benchmarks.gpu_bundle")
    parser.add_argument("--out", default=os.environ.get("OUT") or str(REPO / "benchmarks" / "results" / "gpu"))
    parser.add_argument("--dry-run", action="store_true", help="tiny synthetic sizes, e.g. on a CPU")
    parser.add_argument("--budget-s", type=float, default=420, help="start no job after this many seconds")
    parser.add_argument("--backends", nargs="+", default=[b for b in ("jax", "torch") if importlib.util.find_spec(b)])
    args = parser.parse_args(argv)
    if not args.dry_run and not (Path(args.bundle) / "data" / "mnist.npz").is_file():
        raise SystemExit(f"no data bundle at {args.bundle}: run `python -m benchmarks.gpu_bundle` where the data is")
    started = time.time()
    peaks, runs = [], []
    for backend in args.backends:
        p, r = run_backend(backend, args, started + args.budget_s)
        peaks += p
        runs += r
        print(markdown(p, r, time.time() - started, args.dry_run), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    columns = ["backend", "config", "dataset", "precision", "log_steps", "batch", "img_per_s", "median_epoch_s",
               "first_epoch_s", "epoch_s", "images_per_epoch", "device", "error"]
    with open(out / "gpu.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(runs)
    (out / "gpu.md").write_text(markdown(peaks, runs, time.time() - started, args.dry_run))
    print(f"wrote {out / 'gpu.csv'} and {out / 'gpu.md'} in {time.time() - started:.0f} s")
    return 1 if any("error" in r for r in runs + peaks) else 0


if __name__ == "__main__":
    sys.exit(main())
