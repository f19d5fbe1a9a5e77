"""Score a retrained run's generator as the run it replaced was scored, when the classifier has changed since.

    python -m tools.rescore_previous --run resultados/cifar10/m5_v3 --classifier-commit 8c81ec4^

A retrain's metrics.json uses today's classifier; its previous/metrics.json, the replaced run's, may come from
an older one, and FD or label accuracy measured in two feature spaces do not compare. This takes the classifier
weights and card of `--classifier-commit` from git, checks that they are the ones previous/metrics.json names (its
classifier's test accuracy), scores the new generator with them at the old run's N and seed, and writes
previous/rescored.json, which the index of resultados/ compares with the old run's figures.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from cgan.errors import CganError, RunError
from cgan.io import write_json
from cgan.runs import RunFolder
from tools.children import REPO


def classifier_at(commit: str, dataset: str, folder: Path) -> dict:
    """Write the classifier weights and card of `commit` into `folder`; returns the card."""
    for name in (f"{dataset}.weights.h5", f"{dataset}.json"):
        shown = subprocess.run(["git", "show", f"{commit}:cgan/evaluation/weights/{name}"], cwd=REPO,
                               capture_output=True)
        if shown.returncode != 0:
            raise CganError(f"git has no cgan/evaluation/weights/{name} at {commit}: "
                            f"{shown.stderr.decode().strip().splitlines()[-1]}")
        (folder / name).write_bytes(shown.stdout)
    return json.loads((folder / f"{dataset}.json").read_text())


def rescore(run_dir, commit: str) -> dict:
    from cgan.evaluation.evaluate import evaluate_run

    run = RunFolder(run_dir)
    old_metrics = run.previous / "metrics.json"
    if not old_metrics.is_file():
        raise RunError(f"{old_metrics} missing: nothing to compare with")
    if run.rescored.exists():
        raise RunError(f"{run.rescored} exists; delete it first to score again")
    old = json.loads(old_metrics.read_text())
    with tempfile.TemporaryDirectory() as folder:
        card = classifier_at(commit, old["dataset"], Path(folder))
        wanted = old["feature_space"]["classifier_test_accuracy"]
        if card["test_accuracy"] != wanted:
            raise RunError(f"the classifier at {commit} has test accuracy {card['test_accuracy']}, but "
                           f"{old_metrics} was scored with one of {wanted}: pick the commit of that classifier")
        metrics = evaluate_run(run.path, old["samples"]["per_class"], seed=old["samples"]["seed"],
                               inception=False, classifier_folder=Path(folder))
    metrics["feature_space"]["classifier"] = f"cgan/evaluation/weights/{old['dataset']}.weights.h5 at {commit}"
    write_json(run.rescored, metrics)
    return metrics


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run folder with previous/metrics.json")
    parser.add_argument("--classifier-commit", required=True,
                        help="git commit whose classifier scored previous/metrics.json")
    args = parser.parse_args(argv)
    try:
        metrics = rescore(args.run, args.classifier_commit)
    except CganError as exc:
        print(f"rescore_previous: {exc}", file=sys.stderr)
        return 2
    scores = metrics["generated"]
    print(f"wrote {RunFolder(args.run).rescored}: label accuracy {scores['label_accuracy']:.4f}, "
          f"FD {scores['fd']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
