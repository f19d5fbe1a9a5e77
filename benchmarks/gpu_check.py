"""Training speed and an SNGAN quality run on a GPU machine without TensorFlow or internet (an NVIDIA H200 here).

    bash benchmarks/gpu_check.sh            # on the GPU machine, with .gpu_bundle/ carried along
    bash benchmarks/gpu_check.sh --stages sngan   # the quality run alone, with nearly all of --budget-s
    python benchmarks/gpu_check.py --dry-run --out /tmp/x   # CPU, tiny sizes (tests/test_gpu_check.py)

For each installed backend among JAX and PyTorch, in one process each: the
matmul peak (float32 and bfloat16), then m1 on full MNIST and m5 on the
CIFAR-10 images of the bundle, each for 1 + 2 epochs with mixed precision
off (fp32) and on (bf16), and m1 once more reading the losses on the host
after every step (what the per-iteration CSV does). The first epoch carries
compilation and is reported apart.

Then the SNGAN quality run: configs/cifar10/sngan_v1.toml (the GPU recipe)
trained through `cgan.train.train` on the bundle's CIFAR-10 training images
for a wall-clock budget (at least --sngan-s seconds, more when the speed jobs
left time), scoring the EMA generator after every epoch (label accuracy of
cgan's CIFAR-10 classifier, FD and KID on its features: QualityMonitor).
The speed jobs start no new job after --budget-s minus the SNGAN share, and
the SNGAN run ends near --budget-s, so the whole check stays within ~8 minutes.
Writes gpu.csv, gpu.md, sngan.csv (the scores per epoch), sngan_summary.json
and sngan_samples.png to --out ($OUT on the device tool); gpu.csv and gpu.md
are written once after the speed jobs too, in case the SNGAN run is cut off.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script (gpu_check.sh, the tests): make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.gpu_bundle import unpack_data  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
M1 = ("configs/mnist/m1_v2.toml", "mnist", (28, 28, 1), 10)
M5 = ("configs/cifar10/m5_v1.toml", "cifar10", (32, 32, 3), 10)
SNGAN = "configs/cifar10/sngan_v1.toml"
# Dry runs keep each model's layer structure with a handful of filters (benchmarks/gpu_zoo.py's too).
TINY = {"m1": {"g_filters": [8, 8, 4], "d_filters": [4, 8]},
        "m3": {"g_filters": [8, 8, 8, 4], "d_filters": [4, 8, 8]},
        "m4": {"g_filters": [8, 8, 8, 4], "d_filters": [4, 8, 8]},
        "m5": {"g_filters": [8, 8, 8, 8], "d_filters": [4, 4, 8, 8, 8]},
        "sngan": {"g_filters": [8], "d_filters": [8]}}
# Seconds the SNGAN run needs beyond its training budget: process start, data, the classifier's reference
# features, the last epoch's evaluation, the final save.
SNGAN_TAIL_S = 45
# history.csv columns copied to sngan.csv.
SNGAN_COLUMNS = ["epoch", "train_seconds", "d_loss", "g_loss", "quality_label_accuracy", "quality_fd",
                 "quality_fd_floor", "quality_kid", "quality_precision", "quality_recall", "quality_seconds"]


def tiny(config: str) -> dict:
    """The dry runs' model options for a config: its model's layers with a handful of filters."""
    return TINY[Path(config).stem.split("_")[0]]


def jobs(args) -> list[dict]:
    found = []
    for (config, dataset, shape, classes), precision, log_steps in [
            (M1, "fp32", False), (M1, "bf16", False), (M5, "fp32", False), (M5, "bf16", False),
            (M1, "fp32", True)]:
        job = {"task": "train", "config": config, "dataset": dataset, "precision": precision,
               "log_steps": log_steps, "repeats": 1 if log_steps else 2}
        if args.dry_run:  # synthetic data of the same shape, a few tiny steps
            job.update(shape=shape, classes=classes, steps=2, batch=8, repeats=1, model_options=tiny(config))
        else:
            job["dataset_dir"] = args.data_dir
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


def sngan_task(args, budget_s: float) -> dict:
    """What the SNGAN quality run trains: the recipe as it is, scored every epoch; tiny sizes in dry runs."""
    changes = {"epochs": 1000, "quality_every": 1, "quality_per_class": 50, "eval_samples": 500}
    if args.dry_run:
        changes.update(epochs=2, batch_size=8, eval_samples=10, quality_per_class=2, model_options=tiny(SNGAN))
    return {"config": SNGAN, "changes": changes, "time_budget": budget_s, "data_dir": args.data_dir}


def quality_run(task: dict) -> dict:
    """Train the SNGAN recipe for a wall-clock budget in this process; the per-epoch scores and the summary.

    Runs in a fresh process per backend (Keras fixes its backend at import), started by run_sngan.
    """
    import numpy as np

    from cgan.config import load_config
    from cgan.train import train

    cfg = load_config(REPO / task["config"])
    changes = dict(task["changes"])
    if "model_options" in changes:
        changes["model_options"] = {**cfg.model_options.model_dump(exclude_none=True), **changes["model_options"]}
    cfg = cfg.with_overrides(**changes)
    scratch = Path(tempfile.mkdtemp(prefix="gpu_check_sngan_"))
    data_dir = task["data_dir"]
    if data_dir is None:  # dry run: synthetic CIFAR-shaped data, so no dataset is needed
        rng = np.random.default_rng(0)
        data_dir = scratch / "data"
        data_dir.mkdir()
        np.savez(data_dir / "cifar10.npz", x_train=rng.integers(0, 256, (80, 32, 32, 3), dtype="uint8"),
                 y_train=np.arange(80) % 10, x_test=rng.integers(0, 256, (40, 32, 32, 3), dtype="uint8"),
                 y_test=np.arange(40) % 10, label_names=np.array([f"class{i}" for i in range(10)]))
    run = train(cfg, out=scratch / "run", data_dir=data_dir, verbose=0, time_budget=task["time_budget"])
    frames = sorted(run.evolution.glob("epoch_*.png"))
    return {"summary": json.loads(run.summary.read_text()), "history": _history_rows(run.history),
            "per_class": cfg.quality_per_class,
            "samples": str(frames[-1]) if frames else None, "scratch": str(scratch)}


def _history_rows(path: Path) -> list[dict]:
    with open(path) as f:
        return [{k: row.get(k, "") for k in SNGAN_COLUMNS} for row in csv.DictReader(f)]


def run_sngan(backend: str, args, budget_s: float, out: Path) -> dict:
    """The SNGAN quality run in a fresh process; copies its scores, summary and last sample grid to `out`."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    code = ("import json, sys; from benchmarks.gpu_check import quality_run; "
            "print('RESULT ' + json.dumps(quality_run(json.loads(sys.argv[1]))), flush=True)")
    try:
        done = subprocess.run([sys.executable, "-c", code, json.dumps(sngan_task(args, budget_s))], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=budget_s + SNGAN_TAIL_S + 120)
    except subprocess.TimeoutExpired:
        return {"backend": backend, "error": f"no result within {budget_s + SNGAN_TAIL_S + 120:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        return {"backend": backend,
                "error": done.stderr.strip().splitlines()[-1][:300] if done.stderr.strip() else "no result"}
    result = {"backend": backend, **json.loads(lines[-1][len("RESULT "):])}
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "sngan.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["backend", *SNGAN_COLUMNS])
        writer.writeheader()
        writer.writerows({"backend": backend, **row} for row in result["history"])
    (out / "sngan_summary.json").write_text(json.dumps(result["summary"], indent=2) + "\n")
    if result["samples"]:
        shutil.copyfile(result["samples"], out / "sngan_samples.png")
    shutil.rmtree(result.pop("scratch"), ignore_errors=True)  # checkpoints of a 5M-parameter GAN: not kept
    return result


def sngan_markdown(result: dict, dry_run: bool) -> str:
    if "error" in result:
        return f"SNGAN quality run ({result['backend']}): {result['error']}\n"
    s = result["summary"]
    lines = [f"SNGAN quality run{' (DRY RUN: tiny widths, synthetic data)' if dry_run else ''}: `{SNGAN}` on "
             f"{result['backend']}, {s['data']['train_images']} CIFAR-10 training images, "
             f"G {s['params']['generator']:,} + D {s['params']['discriminator']:,} parameters; "
             f"{s['epochs_done']} epochs in {s['wall_seconds']:.0f} s, status {s['status']}"
             f"{' (' + s['stop_reason'] + ')' if s.get('stop_reason') else ''}. "
             f"Scores of the EMA generator on {result['per_class']} images per class (cgan's CIFAR-10 classifier; "
             "FD and KID on its features; the FD floor scores real training images against the same test "
             "reference).", "",
             "| epoch | epoch train s | d_loss | g_loss | label accuracy | FD | FD floor | KID |",
             "|---|---|---|---|---|---|---|---|"]
    for row in result["history"]:
        cells = [row["epoch"]] + [_cell(row[k]) for k in ("train_seconds", "d_loss", "g_loss",
                                                           "quality_label_accuracy", "quality_fd",
                                                           "quality_fd_floor", "quality_kid")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: str) -> str:
    try:
        return f"{float(value):.3g}"
    except ValueError:
        return ""


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
    parser.add_argument("--budget-s", type=float, default=420,
                        help="start no speed job after this many seconds less the SNGAN share; the SNGAN run ends "
                             "near it")
    parser.add_argument("--backends", nargs="+", default=[b for b in ("jax", "torch") if importlib.util.find_spec(b)])
    parser.add_argument("--stages", nargs="+", choices=("speed", "sngan"), default=["speed", "sngan"])
    parser.add_argument("--sngan-s", type=float, default=120,
                        help="least training seconds of the SNGAN quality run (it also takes what the speed jobs left)")
    parser.add_argument("--sngan-backend", default="torch" if importlib.util.find_spec("torch") else None,
                        help="backend of the SNGAN run (default torch, where its spectral norm is tested)")
    args = parser.parse_args(argv)
    args.data_dir = None if args.dry_run else str(unpack_data(Path(args.bundle), Path(tempfile.gettempdir())
                                                               / "gpu_check_data", need=("mnist", "cifar10")))
    started = time.time()
    out = Path(args.out)
    sngan_share = args.sngan_s + SNGAN_TAIL_S if "sngan" in args.stages else 0
    peaks, runs = [], []
    if "speed" in args.stages:
        for backend in args.backends:
            p, r = run_backend(backend, args, started + args.budget_s - sngan_share)
            peaks += p
            runs += r
            print(markdown(p, r, time.time() - started, args.dry_run), flush=True)
        write_speed(out, peaks, runs, markdown(peaks, runs, time.time() - started, args.dry_run))
    sngan = None
    if "sngan" in args.stages:
        budget = max(args.sngan_s, args.budget_s - (time.time() - started) - SNGAN_TAIL_S)
        sngan = run_sngan(args.sngan_backend or args.backends[0], args, budget, out)
        print(sngan_markdown(sngan, args.dry_run), flush=True)
    report = markdown(peaks, runs, time.time() - started, args.dry_run) if "speed" in args.stages else ""
    if sngan is not None:
        report += ("\n" if report else "") + sngan_markdown(sngan, args.dry_run)
    write_speed(out, peaks, runs, report)
    print(f"wrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out} in {time.time() - started:.0f} s")
    return 1 if any("error" in r for r in runs + peaks + ([sngan] if sngan else [])) else 0


def write_speed(out: Path, peaks, runs, report: str) -> None:
    """gpu.csv (the speed jobs) and gpu.md (the whole report so far)."""
    out.mkdir(parents=True, exist_ok=True)
    columns = ["backend", "config", "dataset", "precision", "log_steps", "batch", "img_per_s", "median_epoch_s",
               "first_epoch_s", "epoch_s", "images_per_epoch", "device", "error"]
    with open(out / "gpu.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(runs)
    (out / "gpu.md").write_text(report)


if __name__ == "__main__":
    sys.exit(main())
