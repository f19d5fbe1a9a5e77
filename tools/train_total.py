"""Train a config until its run has used a total training wall clock, across interruptions.

    python -m tools.train_total --config configs/cifar10/fast32_v1.toml --total 7200

`cgan train --time-budget` counts from its own start; a long run that a
stop cuts short must resume with only what is left
of its budget. This reads from the run's summary.json the wall clock that
produced its checkpoint (not the seconds of an epoch cut short, whose work
was discarded) and trains, resuming from the checkpoint, for the rest.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cgan.config import load_config
from cgan.runs import RunFolder, results_root
from tools.children import run_child


def spent_seconds(run: Path) -> float:
    """Training wall clock behind the run's checkpoint (summaries written before that was recorded: all of it)."""
    summary = RunFolder(run).summary_so_far()
    return float(summary.get("checkpoint_wall_seconds", summary.get("wall_seconds", 0.0)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--total", type=float, required=True, help="training wall-clock seconds for the whole run")
    parser.add_argument("--out", help="run folder (default: resultados/<dataset>/<model>_<version>)")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    run = Path(args.out) if args.out else results_root() / cfg.dataset / cfg.run_name
    left = args.total - spent_seconds(run)
    if left <= 0:
        print(f"{run}: its {args.total:.0f} s are spent", flush=True)
        return 0
    print(f"{run}: training for the {left:.0f} s left of {args.total:.0f} s", flush=True)
    command = [sys.executable, "-m", "cgan", "train", "--config", args.config, "--out", str(run),
               "--time-budget", f"{left:.0f}"]
    return run_child(command)[0]  # a SIGTERM to this process reaches cgan train, which keeps its checkpoint


if __name__ == "__main__":
    sys.exit(main())
