"""The original zoo's runs, one after another, resumable across interruptions.

    nohup nice python -m tools.zoo_queue > zoo_queue.log 2>&1 &     # train what is left, in order
    python -m tools.zoo_queue --dry-run                               # say what is left, train nothing

Each entry trains either to its config's epochs (`cgan train`, which resumes the run folder's checkpoint) or for a
total wall clock across interruptions (`tools.train_total`). A finished entry is skipped; an entry cut short by a
stop (SIGTERM, forwarded to the training process, which keeps its last checkpoint) stops the queue, and
the next call resumes it. A finished run is scored by `cgan evaluate` at its dataset's common N (the comparison
table in resultados/README.md compares runs at one N per dataset), unless metrics.json already scores its last
epoch, and the index is rebuilt.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from cgan.config import load_config
from cgan.runs import RunFolder, results_root
from tools.children import run_child
from tools.train_total import spent_seconds

REPO = Path(__file__).resolve().parents[1]
# One N per dataset, so that runs of a dataset are compared alike.
EVAL_PER_CLASS = {"mnist": 100, "cifar10": 1000, "cifar100": 100}
BUDGET_SLACK_S = 120  # a budget with less than this left is spent: starting a backend would take most of it


@dataclass(frozen=True)
class Entry:
    config: str
    total_s: float | None = None  # None: train to the config's epochs

    @property
    def run(self) -> Path:
        cfg = load_config(REPO / self.config)
        return results_root() / cfg.dataset / cfg.run_name


HOUR = 3600
# The runs first trained, in order of value per CPU-hour, then the configurations never trained before: m1 v1 to
# its 40 epochs or about 3 hours, and m5 for about 2 hours each, as the original's Colab limit cut its runs short.
QUEUE = (Entry("configs/mnist/m1_v2.toml"), Entry("configs/cifar100/m3_v1.toml"), Entry("configs/cifar100/m4_v1.toml"),
         Entry("configs/mnist/m3_v1.toml", total_s=2 * HOUR), Entry("configs/cifar10/m5_v3.toml", total_s=2 * HOUR),
         Entry("configs/mnist/m1_v1.toml", total_s=3 * HOUR), Entry("configs/cifar10/m5_v1.toml", total_s=2 * HOUR),
         Entry("configs/cifar10/m5_v2.toml", total_s=2 * HOUR), Entry("configs/cifar10/m5_v4.toml", total_s=2 * HOUR),
         Entry("configs/cifar100/m5_v1.toml", total_s=2 * HOUR))


def trained(entry: Entry) -> bool:
    summary = RunFolder(entry.run).summary_so_far()
    if summary.get("status") == "finished":
        return True
    return entry.total_s is not None and spent_seconds(entry.run) >= entry.total_s - BUDGET_SLACK_S


def plan(entry: Entry) -> str:
    summary = RunFolder(entry.run).summary_so_far()
    done = summary.get("epochs_done", 0)
    if not trained(entry):
        if entry.total_s is not None:
            return f"train for {entry.total_s - spent_seconds(entry.run):.0f} s more of {entry.total_s:.0f} s " \
                   f"(now {done} epochs)"
        return f"train to {load_config(REPO / entry.config).epochs} epochs (now {done})"
    if RunFolder(entry.run).metrics_are_current():
        return "done"
    return f"evaluate at {EVAL_PER_CLASS[summary['dataset']]} per class"


def _child(command: list[str]) -> int:
    """Run a step; SIGTERM/SIGINT to the queue reach it, so a training step ends with its checkpoint kept."""
    print("$", " ".join(command), flush=True)
    return run_child(command)[0]


def run_entry(entry: Entry) -> int:
    if not trained(entry):
        if entry.total_s is not None:
            command = ["-m", "tools.train_total", "--config", entry.config, "--total", f"{entry.total_s:.0f}"]
        else:
            command = ["-m", "cgan", "train", "--config", entry.config]
        code = _child([sys.executable, *command])
        if code or not trained(entry):
            return code or 1
    run = RunFolder(entry.run)
    if not run.metrics_are_current():
        per_class = EVAL_PER_CLASS[run.read_summary()["dataset"]]
        return _child([sys.executable, "-m", "cgan", "evaluate", "--run", str(entry.run),
                       "--per-class", str(per_class), "--no-inception"])
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print what each entry still needs, train nothing")
    args = parser.parse_args(argv)
    if args.dry_run:
        for entry in QUEUE:
            print(f"{entry.config}: {plan(entry)}")
        return 0
    code = 0
    for entry in QUEUE:
        code = run_entry(entry)
        if code:
            print(f"zoo_queue: {entry.config} stopped (exit {code}); run the queue again to resume it", flush=True)
            break
    _child([sys.executable, "-m", "cgan.reports.index"])
    return code


if __name__ == "__main__":
    sys.exit(main())
