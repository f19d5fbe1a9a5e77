"""The original zoo trained on an offline GPU machine in one call: `bash benchmarks/gpu_zoo.sh` (issue 12).

    bash benchmarks/gpu_zoo.sh                     # on the GPU machine, with .gpu_bundle/ carried along
    python -m benchmarks.gpu_zoo --dry-run --runs mnist/m1_v2 cifar10/m5_v3   # CPU, tiny (tests/test_gpu_zoo.py)
    python -m benchmarks.gpu_zoo --import DIR      # here: the returned run folders into resultados/, index rebuilt

Trains each config of ZOO, in that order (issue 12's order of value), to its full epochs with `cgan train`, one
process per run, on the bundle's data (benchmarks/gpu_bundle.py: what fits the device tool's 64 MiB), with
`--quality-every` and `--time-budget`. Each run gets a share of the time left, in proportion to its estimated
cost, so that the whole call ends within --budget-s; time a run leaves unused goes to the runs after it. A run cut
short says so in its summary.json (status "stopped" and the reason, from cgan; "gpu_zoo": its budget and data),
and calling the script again on the same machine while it is still warm resumes it from its checkpoint in --work.
Runs finished in resultados/ are skipped. Then `cgan evaluate` on the device while time is left, first for the runs
whose generator does not come back. Then $OUT gets, within what the device tool brings back (8 files, 16 MiB
each, 64 MiB in all): zoo.tar.NN (one tar in parts: each run folder without checkpoint/ and tensorboard/, in
order of value, then generator.keras where it is under 20 MiB, while room is left), zoo.json, zoo.md, zoo.log.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import gpu_bundle
from benchmarks.children import run_child, stop_requested
from benchmarks.gpu_check import TINY
from benchmarks.gpu_zoo_return import (PART_BYTES, RETURN_BYTES, RETURN_FILES, UsageError, import_results,
                                       plan_pack, write_parts)

REPO = Path(__file__).resolve().parents[1]
ZOO = ("mnist/m1_v2", "cifar100/m3_v1", "cifar100/m4_v1", "mnist/m3_v1", "cifar10/m5_v3",
       "mnist/m1_v1", "cifar10/m5_v4", "cifar10/m5_v2", "cifar10/m5_v1", "cifar100/m5_v1")
# Guesses (no GPU has run these yet), used only to split the time between runs and to reserve time for fixed
# work: the effective training speed; per epoch, D's metrics, quality scores, grids, plots and saves; per run,
# process start, data, models and the quality reference (plus the end of the epoch a budget cuts short); per
# evaluation; packing.
GUESS_GFLOP_PER_S, EPOCH_S, RUN_START_S, EVAL_START_S, EVAL_RUN_S, PACK_S = 30_000, 3, 25, 20, 10, 15
MIN_TRAIN_S = 15  # a run with less training time than this is not started
KILL_AFTER_S = 60  # past its share a run gets SIGTERM (cgan keeps its last checkpoint); 30 s later SIGKILL
LOG_BYTES = 2**19  # the end of zoo.log that comes back
DRY_CHANGES = {"epochs": 2, "batch_size": 50, "eval_samples": 32, "quality_per_class": 2}
DRY_IMAGES = {"mnist": 100, "cifar10": 100, "cifar100": 200}  # training and test images each
OUT_FILES = ("zoo.json", "zoo.md", "zoo.log")


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def gflop_per_image(model: str, dataset: str) -> float:
    """Counted FLOPs per training image (benchmarks/results/cpu.csv); the model's on another dataset if absent."""
    with open(REPO / "benchmarks" / "results" / "cpu.csv") as f:
        rows = [r for r in csv.DictReader(line for line in f if not line.startswith("#"))
                if r["kind"] == "flops_per_image" and r["model"] == model]
    exact = [r for r in rows if r["dataset"] == dataset]
    return float((exact or rows)[0]["value"]) if rows else 1.0


def prepare_data(args, work: Path) -> tuple[Path, dict]:
    """(folder of <dataset>.npz, the bundle's manifest); a dry run packs its own tiny bundle the same way."""
    bundle = Path(args.bundle)
    if not args.dry_run and not (bundle / "manifest.json").is_file():
        raise UsageError(f"no bundle at {bundle}: run `python -m benchmarks.gpu_bundle` where the data is")
    if args.dry_run:
        bundle = work / "bundle"
        entries = {}
        for name, images in DRY_IMAGES.items():
            entries.update(gpu_bundle.pack_datasets(Path(args.data_dir), bundle, {name: images}, images))
        gpu_bundle.write_manifest(bundle, entries)
    return gpu_bundle.unpack_data(bundle, work / "data"), gpu_bundle.read_manifest(bundle)


def config_path(run: str, args, work: Path) -> Path:
    """The config to train: the original; in dry runs a copy with tiny sizes and the model's tiny filters."""
    original = REPO / "configs" / f"{run}.toml"
    if not args.dry_run:
        return original
    from cgan.config import dump_config, load_config

    cfg = load_config(original)
    options = {**cfg.model_options.model_dump(exclude_none=True), **TINY[cfg.model]}
    path = work / "configs" / f"{run}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_config(cfg.with_overrides(**DRY_CHANGES, model_options=options)))
    return path


def read_summary(folder: Path) -> dict:
    from cgan.runs import RunFolder

    return RunFolder(folder).summary_so_far()


def finished(summary: dict) -> bool:
    return summary.get("status") == "finished" and summary.get("epochs_done", 0) >= summary.get("epochs_planned", 1)


def estimated_seconds(run: str, config: Path, folder: Path, manifest: dict) -> float:
    from cgan.config import load_config
    from cgan.runs import RunFolder

    cfg = load_config(config)
    epochs = max(cfg.epochs - RunFolder(folder).checkpoint_epoch(), 1)
    images = manifest["datasets"][cfg.dataset]["train_images"]
    return epochs * (images * gflop_per_image(cfg.model, cfg.dataset) / GUESS_GFLOP_PER_S + EPOCH_S)


def run_process(cmd: list[str], env: dict, log: Path, limit_s: float) -> tuple[int, bool]:
    """(exit code, stopped at the limit): output into the log; at the limit SIGTERM, 30 s later SIGKILL."""
    with open(log, "a") as out:
        out.write(f"\n===== {time.strftime('%H:%M:%S')} {shlex.join(cmd)}\n")
        out.flush()
        return run_child(cmd, env=env, stdout=out, limit_s=max(limit_s, 1))


def train_all(args, work: Path, data: Path, manifest: dict, deadline: float, env: dict) -> dict:
    records, pending, configs = {}, [], {}
    for run in args.runs:
        dataset = run.split("/")[0]
        if not args.redo_finished and finished(read_summary(Path(args.results) / run)):
            records[run] = {"status": "skipped", "note": f"finished in {args.results}"}
        elif dataset not in manifest["datasets"]:
            records[run] = {"status": "skipped", "note": f"no {dataset} data in the bundle"}
        elif finished(read_summary(work / "runs" / run)):
            records[run] = {"status": "finished", "note": "in an earlier call"}
        else:
            configs[run] = config_path(run, args, work)
            pending.append(run)
    cost = {run: estimated_seconds(run, configs[run], work / "runs" / run, manifest) for run in pending}
    evaluations = sum(r["status"] == "finished" for r in records.values()) + len(pending)
    for i, run in enumerate(pending):
        if stop_requested():  # the call itself was told to stop: what is trained so far still goes back
            records[run] = {"status": "not started", "note": "the call was stopped by a signal"}
            continue
        left = deadline - time.time() - PACK_S - (EVAL_START_S + EVAL_RUN_S * evaluations if args.evaluate else 0)
        share = left * cost[run] / sum(cost[r] for r in pending[i:])
        budget = share - RUN_START_S
        if budget < MIN_TRAIN_S:
            records[run] = {"status": "not started", "note": f"{max(left, 0):.0f} s left for {len(pending) - i} runs"}
            print(f"{run}: not started ({records[run]['note']})", flush=True)
            continue
        folder = work / "runs" / run
        cmd = [sys.executable, "-m", "cgan", "train", "--config", str(configs[run]), "--out", str(folder),
               "--data-dir", str(data), "--quality-every", str(args.quality_every), "--time-budget", f"{budget:.0f}",
               "--no-progress", "--no-tensorboard"]
        started = time.time()
        rc, killed = run_process(cmd, env, work / "zoo.log", share + KILL_AFTER_S)
        summary = read_summary(folder)
        status = ("finished" if finished(summary) else "cut short" if summary.get("status") == "stopped"
                  else "interrupted" if killed else "failed" if rc else summary.get("status", "failed"))
        note = summary.get("stop_reason", "") if status != "failed" else _last_line(work / "zoo.log")
        records[run] = {"status": status, "rc": rc, "share_s": round(share), "time_budget_s": round(budget),
                        "wall_s": round(time.time() - started), "note": note}
        if summary:
            _note_in_summary(folder, summary, records[run], manifest, args)
        print(f"{run}: {status}, {summary.get('epochs_done', 0)}/{summary.get('epochs_planned', '?')} epochs in "
              f"{records[run]['wall_s']} s (share {share:.0f} s)", flush=True)
    return records


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _note_in_summary(folder: Path, summary: dict, record: dict, manifest: dict, args) -> None:
    """summary.json says what this call gave the run: its budget, whether it was cut short, and its data."""
    from cgan.runs import write_json

    data = manifest["datasets"][summary["dataset"]]
    summary["gpu_zoo"] = {
        "time_budget_s": record["time_budget_s"], "cut_short": record["status"] != "finished",
        "backend": args.backend, "precision": args.precision, "dry_run": args.dry_run,
        "data": (f"{data['train_images']} of the {data['source_train_images']} training images and "
                 f"{data['test_images']} of the {data['source_test_images']} test images of {data['source']}, "
                 + ("stratified: a dry run's sample" if args.dry_run else
                    "stratified: what fits the device tool's 64 MiB (benchmarks/gpu_bundle.py)"))}
    write_json(folder / "summary.json", summary)


def evaluate_many(task: dict) -> None:
    """`cgan evaluate` for each run in one process (imports once), while the deadline allows."""
    from cgan.cli import main

    for run in task["runs"]:
        if time.time() + EVAL_RUN_S > task["deadline"]:
            print(f"gpu_zoo: no time left to evaluate {run}", flush=True)
            continue
        main(["evaluate", "--run", run, "--per-class", str(task["per_class"]), "--data-dir", task["data_dir"],
              "--no-inception"])


def evaluate_all(args, work: Path, data: Path, deadline: float, env: dict, returned: set) -> None:
    from cgan.runs import RunFolder

    if stop_requested():
        return
    runs = [run for run in args.runs if (work / "runs" / run / "generator.keras").is_file()
            and not RunFolder(work / "runs" / run).metrics_are_current()]
    runs.sort(key=lambda run: run in returned)  # those whose generator stays here first
    limit = deadline - time.time() - PACK_S
    if not runs or limit < EVAL_START_S + EVAL_RUN_S:
        return
    task = {"runs": [str(work / "runs" / run) for run in runs], "per_class": args.eval_per_class,
            "data_dir": str(data), "deadline": deadline - PACK_S}
    code = "import json, sys; from benchmarks.gpu_zoo import evaluate_many; evaluate_many(json.loads(sys.argv[1]))"
    run_process([sys.executable, "-c", code, json.dumps(task)], env, work / "zoo.log", limit)


def _last(history: Path, column: str) -> str:
    try:
        with open(history) as f:
            values = [row.get(column, "") for row in csv.DictReader(f)]
    except FileNotFoundError:
        return ""
    return next((f"{float(v):.3g}" for v in reversed(values) if v), "")


def _row(run: str, record: dict, folder: Path, notes: dict) -> dict:
    """What zoo.json says of a run: this call's record, its summary's facts, the evaluation, what came back."""
    summary = read_summary(folder)
    metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").is_file() else {}
    generated = metrics.get("generated", {})
    return {"run": run, **record, "epochs_done": summary.get("epochs_done", 0),
            "epochs_planned": summary.get("epochs_planned"), "run_status": summary.get("status"),
            "train_images": summary.get("data", {}).get("train_images"),
            "run_wall_s": summary.get("wall_seconds"), "device": summary.get("environment", {}).get("accelerator"),
            "last_label_accuracy": _last(folder / "history.csv", "quality_label_accuracy"),
            "last_fd": _last(folder / "history.csv", "quality_fd"),
            "evaluated": {"label_accuracy": generated.get("label_accuracy"), "fd": generated.get("fd"),
                          "fd_floor": metrics.get("real_floor", {}).get("fd"),
                          "coverage": generated.get("prdc", {}).get("coverage")} if metrics else None,
            "returned": notes.get(run, {"folder": False, "generator": "none"})}


def report(args, records: dict, notes: dict, work: Path, manifest: dict, wall_s: float) -> tuple[dict, str]:
    """(zoo.json's facts, zoo.md's text)."""
    rows = [_row(run, records.get(run, {}), work / "runs" / run, notes) for run in args.runs]
    device = next((r["device"] for r in rows if r["device"]), "?")
    data = "; ".join(f"{n} {d['train_images']} of {d['source_train_images']} training, {d['test_images']} test"
                     for n, d in manifest["datasets"].items())
    lines = [f"GPU zoo on {device}{' (DRY RUN: tiny models and data, numbers mean nothing)' if args.dry_run else ''}"
             f": {args.backend}, {args.precision}, budget {args.budget_s:.0f} s, {wall_s:.0f} s in all. "
             f"Data: {data}.", "",
             "| run | status | epochs | train images | wall s (this call) | label acc (last epoch) | FD (last epoch) "
             "| evaluated here: label acc / FD / FD floor / coverage | folder back | generator | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        scores = " / ".join(f"{v:.3g}" for v in (r["evaluated"] or {}).values() if v is not None)
        cells = [r["run"], r.get("status", "?"), f"{r['epochs_done']}/{r['epochs_planned'] or '?'}",
                 r["train_images"] or "", r.get("wall_s", ""), r["last_label_accuracy"], r["last_fd"],
                 scores or "not evaluated", "yes" if r["returned"]["folder"] else "no", r["returned"]["generator"],
                 r.get("note", "")]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    facts = {"dry_run": args.dry_run, "backend": args.backend, "precision": args.precision, "budget_s": args.budget_s,
             "wall_s": round(wall_s), "device": device, "bundle": manifest, "runs": rows}
    return facts, "\n".join(lines) + "\n"


def parse_args(argv):
    parser = _OneLineParser(prog="python -m benchmarks.gpu_zoo", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", choices=ZOO, default=list(ZOO), metavar="DATASET/RUN",
                        help="in this order (default: all, issue 12's order of value)")
    parser.add_argument("--budget-s", type=float, help="the whole call ends within it (default 500; dry run 1200)")
    parser.add_argument("--backend", choices=("torch", "jax"), default="torch")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="CGAN_PRECISION")
    parser.add_argument("--quality-every", type=int, default=1, help="cgan train --quality-every")
    parser.add_argument("--eval-per-class", type=int, help="cgan evaluate --per-class (default 100; dry run 2)")
    parser.add_argument("--no-evaluate", dest="evaluate", action="store_false", help="leave cgan evaluate to the CPU")
    parser.add_argument("--redo-finished", action="store_true", help="also train runs finished in --results")
    parser.add_argument("--bundle", default=str(REPO / ".gpu_bundle"), help="from python -m benchmarks.gpu_bundle")
    parser.add_argument("--work", help="run folders and data; kept for a resuming call "
                                       "(default $TMPDIR/gpu_zoo; dry run: a new temporary folder)")
    parser.add_argument("--out", help="default $OUT, else benchmarks/results/gpu_zoo; dry run: <work>/out")
    parser.add_argument("--results", default=str(REPO / "resultados"), help="runs finished here are skipped; "
                                                                            "--import copies into it")
    parser.add_argument("--dry-run", action="store_true", help="tiny models and data (a few hundred real images)")
    parser.add_argument("--data-dir", default=os.environ.get("CGAN_DATA_DIR") or str(REPO.parent / "shared" /
                                                                                    "datasets"),
                        help="dry run: where <dataset>.npz are")
    parser.add_argument("--import", dest="import_from", metavar="DIR", help="copy the returned runs into --results")
    parser.add_argument("--replace", action="store_true", help="--import: move runs already there aside")
    args = parser.parse_args(argv)
    args.budget_s = args.budget_s or (1200 if args.dry_run else 500)
    args.eval_per_class = args.eval_per_class or (2 if args.dry_run else 100)
    args.work = Path(args.work or (tempfile.mkdtemp(prefix="gpu_zoo_dry_") if args.dry_run
                                   else Path(tempfile.gettempdir()) / "gpu_zoo"))
    args.out = args.out or os.environ.get("OUT") or str(args.work / "out" if args.dry_run
                                                       else REPO / "benchmarks" / "results" / "gpu_zoo")
    return args


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
        if args.import_from:
            import_results(Path(args.import_from), Path(args.results), args.replace, ZOO, REPO / "resultados")
            return 0
        return zoo(args)
    except UsageError as exc:
        print(f"gpu_zoo: error: {exc}", file=sys.stderr)
        return 2


def zoo(args) -> int:
    started = time.time()
    deadline = started + args.budget_s
    work = args.work
    data, manifest = prepare_data(args, work)
    (work / "runs").mkdir(parents=True, exist_ok=True)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for name, d in manifest["datasets"].items():
        cut = ("" if d["train_images"] == d["source_train_images"] else " (dry run)" if args.dry_run
               else " (what fits the device tool's 64 MiB with the working tree)")
        print(f"{name}: {d['train_images']} of {d['source_train_images']} training images{cut}, "
              f"{d['test_images']} test images", flush=True)
    env = dict(os.environ, KERAS_BACKEND=args.backend, CGAN_PRECISION=args.precision, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONUNBUFFERED="1")
    records = train_all(args, work, data, manifest, deadline, env)
    trained = [run for run in args.runs if (work / "runs" / run / "summary.json").is_file()]
    # Written before the evaluation too, so that the runs come back even if the call is cut off during it.
    notes = write_out(args, records, trained, manifest, started)
    if args.evaluate:
        returned = {run for run, note in notes.items() if note["generator"].startswith("back")}
        evaluate_all(args, work, data, deadline, env, returned)
        write_out(args, records, trained, manifest, started)
    return 1 if any(r["status"] == "failed" for r in records.values()) else 0


def write_out(args, records: dict, trained: list[str], manifest: dict, started: float) -> dict:
    """zoo.tar.NN, zoo.json, zoo.md and the end of zoo.log in --out; returns what came back of each run."""
    out, work = Path(args.out), args.work
    for stale in out.glob("zoo.tar.*"):
        stale.unlink()
    # 64 kB a run left for the metrics.json that an evaluation adds, so the plan made before it holds after it
    capacity = min(RETURN_BYTES, PART_BYTES * (RETURN_FILES - len(OUT_FILES))) - 2**16 * len(trained)
    files, notes = plan_pack(trained, work / "runs", capacity)
    parts = write_parts(files, out, work)
    facts, text = report(args, records, notes, work, manifest, time.time() - started)
    (out / "zoo.json").write_text(json.dumps({**facts, "parts": parts}, indent=2) + "\n")
    (out / "zoo.md").write_text(text)
    log = (work / "zoo.log").read_bytes() if (work / "zoo.log").is_file() else b""
    (out / "zoo.log").write_bytes(log[-LOG_BYTES:])
    print(text, flush=True)
    print(f"wrote {', '.join(parts + list(OUT_FILES))} to {out} in {time.time() - started:.0f} s", flush=True)
    return notes


if __name__ == "__main__":
    sys.exit(main())
