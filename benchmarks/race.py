"""The 10-minute race: train configs for the same wall-clock budget, then score them alike.

    python -m benchmarks.race --config configs/mnist/m1_v2.toml --config configs/mnist/fast_v1.toml

Each config trains in its own process (`cgan train --time-budget`, full MNIST,
per-epoch work included in the budget), one after another, so they get the
same machine. Each run is then scored by `cgan evaluate` (N per class against
the real test set). One row per config goes to benchmarks/results/<name>.csv
and to the "race" table of benchmarks/README.md. Run folders go to --runs
(git-ignored scratch by default).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from benchmarks import report
from cgan.data import data_label
from cgan.plots import training_minutes
from cgan.runs import RunFolder
from tools.children import run_child

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ["config", "cpu", "dataset", "train_images", "backend", "threads", "budget_s", "train_wall_s", "images_seen", "img_per_s", "epochs",
           "label_accuracy", "fd", "fd_floor", "kid", "precision", "recall", "density", "coverage", "per_class",
           "quality_every", "target", "target_epoch", "target_s", "measured_utc"]


def _cgan(args: list[str], env: dict, log) -> None:
    command = [sys.executable, "-m", "cgan", *args]
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    code, _ = run_child(command, env=env, stdout=log)  # stopping the race stops the racer, checkpoint kept
    if code:
        raise subprocess.CalledProcessError(code, command)


def parse_target(text: str) -> tuple[float, float]:
    """'0.97:5' → (label accuracy to reach, FD ratio to its floor to get under)."""
    try:
        accuracy, ratio = (float(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--target wants LABEL_ACC:FD_RATIO such as 0.97:5, got {text!r}") from None
    return accuracy, ratio


def time_to_target(history: pd.DataFrame, accuracy: float, ratio: float) -> tuple[int, float] | None:
    """(epoch, training seconds) of the first scored epoch with label accuracy ≥ `accuracy` and FD ≤ `ratio` ×
    its floor, from the `quality_*` columns (same N on both sides); None if no scored epoch got there."""
    if "quality_fd" not in history:
        return None
    seconds = training_minutes(history) * 60.0
    hit = (history["quality_label_accuracy"] >= accuracy) & (history["quality_fd"] <= ratio * history["quality_fd_floor"])
    if not hit.any():
        return None
    first = hit.idxmax()
    return int(history.loc[first, "epoch"]), float(seconds[first])


def race_one(config: str, args, env: dict, log) -> dict:
    run = Path(args.runs) / Path(config).parent.name / Path(config).stem
    if not args.rescore:
        quality = [] if args.quality_every is None else ["--quality-every", str(args.quality_every)]
        _cgan(["train", "--config", config, "--out", str(run), "--overwrite", "--time-budget", str(args.budget),
               "--print-every", "0", *quality], env, log)
    _cgan(["evaluate", "--run", str(run), "--per-class", str(args.per_class), "--no-inception"], env, log)
    folder = RunFolder(run)
    summary, metrics = folder.read_summary(), json.loads(folder.metrics.read_text())
    scores, prdc = metrics["generated"], metrics["generated"]["prdc"]
    train_wall = float(summary["wall_seconds"])
    images = int(summary["images_seen"])
    target = {}
    if args.target:
        reached = time_to_target(pd.read_csv(run / "history.csv"), *args.target)
        target = {"target": "{}:{}".format(*args.target), "target_epoch": reached[0] if reached else "",
                  "target_s": round(reached[1]) if reached else "never"}
    # Legs of one race may run on different days and machines: each row names its CPU.
    return {"config": config, "cpu": report.describe_machine()["cpu"], "dataset": summary["dataset"], "train_images": summary["data"]["train_images"],
            "backend": summary["environment"]["backend"],
            "threads": env.get("OMP_NUM_THREADS", ""), "budget_s": args.budget, "train_wall_s": round(train_wall),
            "images_seen": images, "img_per_s": round(images / train_wall, 1),
            "epochs": round(images / summary["data"]["train_images"], 2),
            "label_accuracy": round(scores["label_accuracy"], 4), "fd": round(scores["fd"], 2),
            "fd_floor": round(metrics["real_floor"]["fd"], 2), "kid": round(scores["kid"]["mean"], 2),
            **{k: round(prdc[k], 3) for k in ("precision", "recall", "density", "coverage")},
            "per_class": args.per_class, "quality_every": "" if args.quality_every is None else args.quality_every, **target,
            "measured_utc": datetime.now(timezone.utc).isoformat(timespec="minutes")}


def _earlier_table(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, comment="#")
    return table.astype(object).where(table.notna(), "")


def _same_race(table: pd.DataFrame, args) -> pd.Series:
    return ((table["budget_s"].astype(float) == args.budget) & (table["per_class"].astype(int) == args.per_class)
            & (table["backend"] == (args.backend or table["backend"])))


def finished_rows(path: Path, args) -> dict:
    """config → its row in an earlier <name>.csv, for the rows raced with this budget, N and backend and not
    named by --rerace."""
    if not path.is_file():
        return {}
    table = _earlier_table(path)
    return {row["config"]: row for row in table[_same_race(table, args)].to_dict("records")
            if row["config"] not in args.rerace}


def earlier_rows_to_keep(path: Path, args) -> list[dict]:
    """The rows of an earlier <name>.csv that this race does not race again, kept after its own rows so that a
    resumed race with fewer configs loses none (--rescore replaces the rows of the configs it names). A file raced
    under another budget, N or backend is refused rather than mixed into one table or dropped."""
    if not path.is_file():
        return []
    if not (args.resume or args.rescore):
        raise ValueError(f"{path} holds an earlier race: --resume keeps its rows, or move it away to start over")
    table = _earlier_table(path)
    if not _same_race(table, args).all():
        raise ValueError(f"{path} holds legs raced with another budget, N per class or backend: "
                         "race under another --name")
    return [row for row in table.to_dict("records") if row["config"] not in args.config]


def training_data(rows) -> str:
    """What the legs trained on, e.g. "cifar10's training images, 49,059 (full recovered set)"."""
    return ", ".join(sorted({f"{r['dataset']}'s training images, "
                             f"{data_label({'train_images': int(r['train_images'])}, r['dataset'])}" for r in rows}))


def markdown(rows, machine: dict, args) -> str:
    header = ["config", "CPU", "backend", "img/s", "epochs", "label acc.", "FD (floor)", "KID", "P / R", "D / C"]
    lines = [[r["config"], r.get("cpu") or "?", f"{r['backend']} ({r['threads']} threads)", f"{r['img_per_s']:.0f}", f"{r['epochs']:.2f}",
              f"{r['label_accuracy']:.3f}", f"{r['fd']:.2f} ({r['fd_floor']:.2f})", f"{r['kid']:.2f}",
              f"{r['precision']:.2f} / {r['recall']:.2f}", f"{r['density']:.2f} / {r['coverage']:.2f}"]
             for r in rows]
    if args.target:
        header.append(f"first epoch at label acc. ≥ {args.target[0]:g} and FD ≤ {args.target[1]:g}× floor")
        for line, r in zip(lines, rows):
            line.append(f"epoch {r['target_epoch']}, {r['target_s']} s" if r["target_epoch"] != "" else "not reached")
    dates = sorted({str(r.get("measured_utc") or machine["date_utc"])[:10] for r in rows})
    header.append("measured (UTC)")  # --resume may join legs raced on different days
    for line, r in zip(lines, rows):
        line.append(str(r.get("measured_utc") or "").replace("T", " ").split("+")[0])
    return (f"Measured {' and '.join(dates)} ({machine['cores']} cores, no GPU), one config "
            f"after the other. Budget: {args.budget:g} s of training wall clock each on {training_data(rows)}, "
            f"per-epoch evaluation and saving included; then `cgan evaluate` with {args.per_class} images per "
            f"class (FD/KID in the dataset classifier's feature space; floor = real images).\n\n"
            + report._table(header, lines))


def front_page(rows, machine, args) -> str:
    """The short form of a race for a front page: speed, label accuracy and FD, the best of each in bold, and a
    link to the full table."""
    best_accuracy = max(r["label_accuracy"] for r in rows)
    best_fd = min(r["fd"] for r in rows)

    def bold(text: str, is_best: bool) -> str:
        return f"**{text}**" if is_best else text

    lines = [[Path(r["config"]).stem, f"{r['img_per_s']:.0f}", f"{r['epochs']:.2f}",
              bold(f"{r['label_accuracy']:.3f}", r["label_accuracy"] == best_accuracy),
              bold(f"{r['fd']:.2f}", r["fd"] == best_fd)] for r in rows]
    full = os.path.relpath(args.readme, Path(args.front_page).resolve().parent)
    return (f"{args.budget / 60:g} minutes of training wall clock each on {training_data(rows)}, one after the "
            f"other on a {machine['cores']}-core CPU, then `cgan evaluate` at {args.per_class} images per class; "
            f"the best in bold. Full table and machine: [{full}]({full}).\n\n"
            + report._table(["model", "img/s", "epochs", "label acc.", "FD"], lines))


def write_tables(rows, args) -> None:
    machine = report.describe_machine()
    report.update_readme(Path(args.readme), args.name, markdown(rows, machine, args))
    if args.front_page:
        report.update_readme(Path(args.front_page), args.name, front_page(rows, machine, args))


def write_table_only(parser, args) -> int:
    """The README block of an earlier race, from its csv alone (a race driven in parts with --no-readme)."""
    path = Path(args.results) / f"{args.name}.csv"
    if not path.is_file():
        parser.error(f"no earlier race to tabulate: {path} not found")
    table = _earlier_table(path)
    for column, key in (("budget_s", "budget"), ("per_class", "per_class")):
        values = set(table[column].astype(float))
        if len(values) != 1:
            parser.error(f"{path} mixes {column} values {sorted(values)}: one table needs one")
        setattr(args, key, type(getattr(args, key))(values.pop()))
    args.target = None
    write_tables(table.to_dict("records"), args)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", default=[], help="a run config (repeat to race several)")
    parser.add_argument("--budget", type=float, default=600.0, help="training seconds per config")
    parser.add_argument("--per-class", type=int, default=1000, help="generated images per class for scoring")
    parser.add_argument("--backend", choices=("tensorflow", "torch", "jax"),
                        help="Keras backend for every run (default: cgan's per-model choice)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch/OpenMP threads per run")
    parser.add_argument("--runs", default=str(REPO / "benchmarks" / "results" / "race_runs"))
    parser.add_argument("--name", default="race", help="results/<name>.csv and the README block name")
    parser.add_argument("--results", default=str(REPO / "benchmarks" / "results"), help="folder for <name>.csv")
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--readme", default=str(REPO / "benchmarks" / "README.md"), help="the Markdown file of the table")
    parser.add_argument("--front-page", metavar="MARKDOWN",
                        help="also write the race's short table (speed, label accuracy, FD) into this file, "
                             "e.g. README.md, in a block of the same name")
    parser.add_argument("--quality-every", type=int,
                        help="score quality every K epochs while training (history.csv), e.g. for --target; "
                             "0: off for every config, so none spends its budget on scoring (default: each config's own)")
    parser.add_argument("--target", type=parse_target,
                        help="LABEL_ACC:FD_RATIO: report the first scored epoch (and training seconds) that reaches both")
    parser.add_argument("--rescore", action="store_true",
                        help="skip training: score the runs already in --runs again (e.g. after a classifier retrain)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the rows of <name>.csv already raced with this budget, N and backend; race the rest")
    parser.add_argument("--rerace", action="append", default=[], metavar="CONFIG",
                        help="with --resume: race this config again, replacing its row (e.g. after a fix to it)")
    parser.add_argument("--table-only", action="store_true",
                        help="race nothing: rewrite the README block from <name>.csv (its budget and N)")
    args = parser.parse_args(argv)
    if args.table_only:
        return write_table_only(parser, args)
    if not args.config:
        parser.error("--config is required (or --table-only)")
    for config in args.config:
        if not Path(config).is_file():
            parser.error(f"config not found: {config}")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), PYTHONPATH=str(REPO))
    if args.backend:
        env["KERAS_BACKEND"] = args.backend
    machine, started = report.describe_machine(), time.perf_counter()
    rows = []
    out = Path(args.results) / f"{args.name}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        kept_after = earlier_rows_to_keep(out, args)
    except ValueError as error:
        parser.error(str(error))
    done = finished_rows(out, args) if args.resume else {}
    with open(out.with_suffix(".log"), "a" if args.resume else "w") as log:
        for config in args.config:
            if config in done:
                rows.append(done[config])
                print(f"{config}: kept its row of {done[config]['measured_utc'] or 'an earlier race'}", flush=True)
            else:
                rows.append(race_one(config, args, env, log))
                print(json.dumps(rows[-1]), flush=True)
            # after every leg, kept ones too: a kept row after the last raced one must not drop out of the file
            report.write_csv(rows + kept_after, out, machine, time.perf_counter() - started, columns=COLUMNS)
    if not args.no_readme:
        write_tables(rows + kept_after, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
