"""The original zoo's runs, one after another, resumable across interruptions.

    nohup nice python -m tools.zoo_queue > zoo_queue.log 2>&1 &     # train what is left, in order
    python -m tools.zoo_queue --dry-run                               # say what is left, train nothing
    python -m tools.zoo_queue --only configs/mnist/m1_v1.toml         # these entries alone, in queue order

Each entry trains either to its config's epochs (`cgan train`, which resumes the run folder's checkpoint) or for a
total wall clock across interruptions (`tools.train_total`). A finished entry is skipped; an entry cut short by a
stop (SIGTERM, forwarded to the training process, which keeps its last checkpoint) stops the queue, and
the next call resumes it. A finished run is scored by `cgan evaluate` at its dataset's common N (the comparison
table in resultados/README.md compares runs at one N per dataset), unless metrics.json already scores its last
epoch; a run whose generator.keras is too large for git gets its compact generator.onnx (tools.compact_generator);
and the index is rebuilt.

A retrain (an entry whose run folder exists but whose generator was never committed) never touches the old folder
while it trains: it trains, is scored and compacted in resultados/.staging/<dataset>/<run>, and only then takes the
old folder's place. The old run's summary.json, metrics.json and history.csv move into the new folder's previous/,
where the index compares them with the new figures.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from cgan.config import load_config
from cgan.io import file_sha256
from cgan.runs import PREVIOUS_FILES, RunFolder, results_root
from tools.children import run_child
from tools.train_total import spent_seconds

REPO = Path(__file__).resolve().parents[1]
# One N per dataset, so that runs of a dataset are compared alike.
EVAL_PER_CLASS = {"mnist": 100, "cifar10": 1000, "cifar100": 100}
BUDGET_SLACK_S = 120  # a budget with less than this left is spent: starting a backend would take most of it


STAGING = ".staging"
# Models whose generator.keras git does not carry (.gitignore): their generator.onnx is committed instead.
COMPACT_MODELS = ("m3", "m4", "m5")


@dataclass(frozen=True)
class Entry:
    config: str
    total_s: float | None = None  # None: train to the config's epochs
    retrain: bool = False  # the run folder holds an earlier run to replace once this one is complete

    @property
    def home(self) -> Path:
        """resultados/<dataset>/<run>: where the run lives once complete."""
        cfg = load_config(REPO / self.config)
        return results_root() / cfg.dataset / cfg.run_name

    @property
    def staging(self) -> Path:
        return results_root() / STAGING / self.home.parent.name / self.home.name

    @property
    def parked(self) -> Path:
        """Where the old run waits while a retrain moves in."""
        return self.staging.with_name(self.staging.name + ".old")

    @property
    def replaced(self) -> bool:
        """A retrain has taken its old run's place (the old records are in previous/)."""
        return RunFolder(self.home).previous.joinpath("summary.json").is_file()

    @property
    def run(self) -> Path:
        """Where the entry trains: a retrain trains beside the old run until it replaces it."""
        return self.staging if self.retrain and not self.replaced else self.home

    @property
    def compact(self) -> bool:
        return load_config(REPO / self.config).model in COMPACT_MODELS


HOUR = 3600
# First the configurations never trained: m1 v1 to its 40 epochs or about 3 hours, and m5 for about 2 hours
# each, as the original's Colab limit cut its runs short. Then the runs whose generators were never committed,
# again, with the budgets they had; m5 v3 now on the full CIFAR-10 set, like v1, v2 and v4.
QUEUE = (Entry("configs/mnist/m1_v1.toml", total_s=3 * HOUR), Entry("configs/cifar10/m5_v1.toml", total_s=2 * HOUR),
         Entry("configs/cifar10/m5_v2.toml", total_s=2 * HOUR), Entry("configs/cifar10/m5_v4.toml", total_s=2 * HOUR),
         Entry("configs/cifar100/m5_v1.toml", total_s=2 * HOUR),
         Entry("configs/mnist/m3_v1.toml", total_s=2 * HOUR, retrain=True),
         Entry("configs/cifar100/m3_v1.toml", retrain=True), Entry("configs/cifar100/m4_v1.toml", retrain=True),
         Entry("configs/cifar10/m5_v3.toml", total_s=2 * HOUR, retrain=True))


def trained(entry: Entry) -> bool:
    summary = RunFolder(entry.run).summary_so_far()
    if summary.get("status") == "finished":
        return True
    return entry.total_s is not None and spent_seconds(entry.run) >= entry.total_s - BUDGET_SLACK_S


def compacted(entry: Entry) -> bool:
    """The run's committed generator.onnx was made from its generator.keras (a clone without that file: trusted)."""
    run = RunFolder(entry.run)
    if not entry.compact:
        return True
    if not (run.onnx_record.is_file() and run.generator_onnx.is_file()):
        return False
    return not run.generator_keras.is_file() or \
        json.loads(run.onnx_record.read_text()).get("keras_sha256") == file_sha256(run.generator_keras)


def plan(entry: Entry) -> str:
    summary = RunFolder(entry.run).summary_so_far()
    done = summary.get("epochs_done", 0)
    where = f" in {entry.run.relative_to(results_root())}" if entry.run != entry.home else ""
    if not trained(entry):
        if entry.total_s is not None:
            return f"train for {entry.total_s - spent_seconds(entry.run):.0f} s more of {entry.total_s:.0f} s " \
                   f"(now {done} epochs){where}"
        return f"train to {load_config(REPO / entry.config).epochs} epochs (now {done}){where}"
    if not RunFolder(entry.run).metrics_are_current():
        return f"evaluate at {EVAL_PER_CLASS[summary['dataset']]} per class{where}"
    if not compacted(entry):
        return f"write its compact generator.onnx{where}"
    if entry.run != entry.home:
        return f"replace {entry.home.relative_to(results_root())} with {entry.run.relative_to(results_root())}"
    return "done"


def replace_old_run(entry: Entry) -> None:
    """Move the finished retrain into its home, the old run's records into its previous/, the old folder out.

    Each step is a rename, and a stop between steps leaves a state the next call finishes: the old folder waits in
    .staging/<dataset>/<run>.old until the new run is home."""
    new, old_home, parked = RunFolder(entry.staging), RunFolder(entry.home), entry.parked
    if old_home.path.is_dir() and not parked.exists():
        new.previous.mkdir(exist_ok=True)
        for name in PREVIOUS_FILES:
            if (old_home.path / name).is_file():
                shutil.copy2(old_home.path / name, new.previous / name)
        old_home.path.rename(parked)
    old_home.path.parent.mkdir(parents=True, exist_ok=True)
    new.path.rename(old_home.path)
    shutil.rmtree(parked)
    print(f"zoo_queue: {entry.home} replaced; the old run's records are in {old_home.previous}", flush=True)


def _child(command: list[str]) -> int:
    """Run a step; SIGTERM/SIGINT to the queue reach it, so a training step ends with its checkpoint kept."""
    print("$", " ".join(command), flush=True)
    return run_child(command)[0]


def run_entry(entry: Entry) -> int:
    if entry.retrain and entry.replaced and entry.parked.exists():  # a stop came before the old folder's removal
        shutil.rmtree(entry.parked)
    if not trained(entry):
        if entry.total_s is not None:
            command = ["-m", "tools.train_total", "--config", entry.config, "--total", f"{entry.total_s:.0f}"]
        else:
            command = ["-m", "cgan", "train", "--config", entry.config]
        command += ["--out", str(entry.run)]
        code = _child([sys.executable, *command])
        if code or not trained(entry):
            return code or 1
    run = RunFolder(entry.run)
    per_class = EVAL_PER_CLASS[run.read_summary()["dataset"]]
    if not run.metrics_are_current():
        code = _child([sys.executable, "-m", "cgan", "evaluate", "--run", str(entry.run),
                       "--per-class", str(per_class), "--no-inception"])
        if code:
            return code
    if not compacted(entry):
        code = _child([sys.executable, "-m", "tools.compact_generator", "--run", str(entry.run),
                       "--per-class", str(per_class)])
        if code:
            return code
    if entry.run != entry.home:
        replace_old_run(entry)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print what each entry still needs, train nothing")
    parser.add_argument("--only", action="append", metavar="CONFIG", default=[],
                        help="run only this queue entry (repeatable): a run too long for the time left is not started")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only) - {entry.config for entry in QUEUE})
    if unknown:
        parser.error(f"--only {unknown[0]} is not in the queue; it holds: {', '.join(e.config for e in QUEUE)}")
    entries = [entry for entry in QUEUE if not args.only or entry.config in args.only]
    if args.dry_run:
        for entry in entries:
            print(f"{entry.config}: {plan(entry)}")
        return 0
    code = 0
    for entry in entries:
        code = run_entry(entry)
        if code:
            print(f"zoo_queue: {entry.config} stopped (exit {code}); run the queue again to resume it", flush=True)
            break
    _child([sys.executable, "-m", "cgan.reports.index"])
    return code


if __name__ == "__main__":
    sys.exit(main())
