"""The original project's findings, checked on our run folders: numbers and a verdict per run.

Each training notebook with findings ends with `report((dataset, model))`, a Markdown table
finding | run(s) | what we measured | verdict. A run that is missing or too short is reported as "not yet
measured", never given a verdict. Reads history.csv, summary.json, config.toml and metrics.json only (no Keras).
"""
from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cgan.config import RunConfig
from cgan.reports.tables import dig
from cgan.runs import REPO_ROOT, RunFolder, results_root

# D's accuracy on each split is measured on eval_samples real + eval_samples generated images (2000 + 2000 in
# the zoo's configs; 1000 + 1000 in some runs), so its standard error is at most sqrt(0.25 / 4000) ≈ 0.008, and
# that of the train − test gap, two independent draws, ≈ 0.011 (0.016 at 1000 + 1000). A gap above 0.05 is over
# 4.5 (3) standard errors: not noise. The generated half is drawn the same way on both splits, so a lasting gap
# measures real training images that D has memorised.
GAP_THRESHOLD = 0.05
# Fewer epochs cannot show a gap that "stays"; the table always gives the epochs seen, so a verdict on a short
# run reads as one.
MIN_EPOCHS = 4
# "Similar" D metrics: test D accuracy and F1 within 0.03 of each other, about 3 standard errors of the noise.
SIMILAR_D = 0.03
FD_TIE = 0.05  # FD has no simple standard error: a relative difference under 5 % counts as a tie


@dataclass(frozen=True)
class Overfitting:
    epochs: int              # epochs with D metrics on both splits
    onset: int | None        # first epoch from which the gap stays above the threshold to the last epoch
    last_gap: float
    max_gap: float
    max_gap_epoch: int
    threshold: float = GAP_THRESHOLD


def d_overfitting(history: pd.DataFrame, threshold: float = GAP_THRESHOLD) -> Overfitting:
    """Where train_d_accuracy − test_d_accuracy crosses `threshold` for good (a spike that falls back is not)."""
    frame = history.dropna(subset=["train_d_accuracy", "test_d_accuracy"])
    # Rounded: accuracies are multiples of 1/(2·eval_samples), so 0.75 − 0.70 must not read as 0.0500000001.
    gap = (frame["train_d_accuracy"] - frame["test_d_accuracy"]).round(9).to_numpy()
    epochs = [int(e) for e in frame["epoch"]] if "epoch" in frame else list(range(1, len(frame) + 1))
    if not len(gap):
        return Overfitting(0, None, math.nan, math.nan, 0, threshold)
    onset = None
    for i in range(len(gap) - 1, -1, -1):  # walk back from the last epoch while the gap stays above
        if gap[i] <= threshold:
            break
        onset = epochs[i]
    top = int(gap.argmax())
    return Overfitting(len(gap), onset, float(gap[-1]), float(gap[top]), epochs[top], threshold)


class NotMeasured(Exception):
    """A run that is missing or too short; the message is the table's verdict."""


def _name(run: RunFolder) -> str:
    return f"{run.path.parent.name}/{run.path.name}"


def trained_history(run: RunFolder, why_missing: str = "") -> pd.DataFrame:
    """history.csv of a run with at least MIN_EPOCHS epochs, else NotMeasured saying which it is."""
    if not run.history.is_file():
        raise NotMeasured(f"not yet measured: {_name(run)} has not been trained{why_missing}")
    frame = pd.read_csv(run.history)
    if len(frame) < MIN_EPOCHS:
        raise NotMeasured(f"not yet measured: {_name(run)} has only {len(frame)} epoch"
                          f"{'' if len(frame) == 1 else 's'} (needs {MIN_EPOCHS})")
    return frame


def overfitting_row(run: RunFolder, window: tuple[int, int], later: str, why_missing: str = "") -> tuple[str, str]:
    """(what we measured, verdict) for "D overfits from an epoch within `window`"."""
    try:
        found = d_overfitting(trained_history(run, why_missing))
    except NotMeasured as missing:
        return "–", str(missing)
    low, high = window
    measured = (f"{found.epochs} epochs; gap train − test D accuracy at the last epoch {found.last_gap:+.3f}, "
                f"largest {found.max_gap:+.3f} (epoch {found.max_gap_epoch}); "
                + (f"above {found.threshold} from epoch {found.onset} on" if found.onset is not None
                   else f"never above {found.threshold} to the end"))
    if found.onset is None or found.onset == found.epochs:  # one epoch above, at the end, is not "stays"
        return measured, f"not seen in {found.epochs} epochs"
    if found.onset < low:
        return measured, f"not confirmed: earlier, from epoch {found.onset}"
    if found.onset <= high:
        return measured, f"confirmed: from epoch {found.onset}"
    return measured, f"{later}: from epoch {found.onset} (not within {high})"


# -- m3 vs m4: image quality at similar D metrics ---------------------------------------------------------
QUALITY = (("label accuracy", "label_accuracy", ("label_accuracy",), +1),
           ("FD", "fd", ("fd",), -1),
           ("coverage", "coverage", ("prdc", "coverage"), +1))


def quality_scores(runs: list[RunFolder], histories: list[pd.DataFrame]) -> tuple[list[dict], int, str]:
    """Each run's scores, their sample size N and where they come from: metrics.json at equal N, else history."""
    metrics = [json.loads(r.metrics.read_text()) if r.metrics.is_file() else None for r in runs]
    sizes = [dig(m, ("samples", "generated")) for m in metrics]
    if all(metrics) and len(set(sizes)) == 1 and isinstance(sizes[0], int):
        smallest = min([sizes[0]] + [dig(m, ("generated", "prdc", "n")) or sizes[0] for m in metrics])  # coverage's
        return ([{short: dig(m["generated"], keys) for _, short, keys, _ in QUALITY} for m in metrics], smallest,
                f"metrics.json, {sizes[0]} generated images each")
    scored = [h.dropna(subset=["quality_fd"]) if "quality_fd" in h else h.iloc[:0] for h in histories]
    if any(s.empty for s in scored):
        missing = next(_name(r) for r, s in zip(runs, scored) if s.empty)
        raise NotMeasured(f"not yet measured: {missing} has no quality scores (no metrics.json, no quality columns)")
    default = RunConfig.model_fields["quality_per_class"].default  # config.toml may predate the field
    per_class = [tomllib.loads(r.config.read_text()).get("quality_per_class", default) if r.config.is_file() else None
                 for r in runs]
    classes = [r.read_summary().get("num_classes") if r.summary.is_file() else None for r in runs]
    if None in per_class + classes:
        raise NotMeasured("not yet measured: the quality scores' sample size is unknown (no config.toml or "
                          "summary.json)")
    n = min(p * c for p, c in zip(per_class, classes))
    why = (f"metrics.json at different N ({sizes[0]} vs {sizes[1]}), so " if all(metrics) else
           "metrics.json for one run only, so " if any(metrics) else "")
    epochs = " and ".join(str(int(s.iloc[-1]["epoch"])) for s in scored)
    return ([{short: float(s.iloc[-1][f"quality_{short}"]) for _, short, _, _ in QUALITY} for s in scored], n,
            f"{why}history.csv, last scored epochs {epochs}, "
            f"{' vs '.join(dict.fromkeys(map(str, per_class)))} images per class")


def comparison_row(base: RunFolder, other: RunFolder) -> tuple[str, str]:
    """(what we measured, verdict) for "`other`'s images look better than `base`'s at similar D metrics"."""
    histories, missing = [], []
    for run in (base, other):
        try:
            histories.append(trained_history(run))
        except NotMeasured as why:
            missing.append(str(why).removeprefix("not yet measured: "))
    if missing:
        return "–", "not yet measured: " + "; ".join(missing)
    try:
        scores, n, source = quality_scores([base, other], histories)
    except NotMeasured as why:
        return "–", str(why)
    last = [h.dropna(subset=["test_d_accuracy"]).iloc[-1] for h in histories]
    deltas = [last[1][f"test_d_{m}"] - last[0][f"test_d_{m}"] for m in ("accuracy", "f1")]
    similar = all(abs(d) <= SIMILAR_D for d in deltas)
    noise = 2 * math.sqrt(0.5 / n)  # two standard errors of a difference between two proportions at p = 0.5
    better, worse = [], []
    parts = [f"{base.path.name} vs {other.path.name}: test D accuracy at the last epoch "
             f"{last[0]['test_d_accuracy']:.3f} vs {last[1]['test_d_accuracy']:.3f}, F1 {last[0]['test_d_f1']:.3f} "
             f"vs {last[1]['test_d_f1']:.3f} (Δ {deltas[0]:+.3f}, {deltas[1]:+.3f})"]
    for label, short, _, sign in QUALITY:
        a, b = scores[0][short], scores[1][short]
        tie = abs(b - a) <= (FD_TIE * abs(a) if short == "fd" else noise)
        (worse if tie or sign * (b - a) < 0 else better).append(label)
        parts.append(f"{label} {a:.3g} vs {b:.3g}")
    measured = "; ".join(parts) + f" ({source}; a difference within {noise:.3f}, FD within 5 %, is a tie)"
    who = other.path.name
    if not better:
        return measured, f"not confirmed: {who} is not better on any score"
    if worse:
        return measured, f"partly: {who} better on {', '.join(better)}, not on {', '.join(worse)}"
    if not similar:
        return measured, f"partly: {who} better on every score, but D's metrics differ by more than {SIMILAR_D}"
    return measured, f"confirmed: {who} better on every score at similar D metrics"


# -- m1 v1: D's performance after epoch 20 ----------------------------------------------------------------
# D's test accuracy and F1, mean over the 5 epochs up to FALL_AFTER against the mean over every later epoch. One
# epoch's accuracy has a standard error of about 0.008 (see GAP_THRESHOLD), a 5-epoch mean about 0.0036, so the
# difference of two such means about 0.005: a fall of more than FALL_THRESHOLD is 4 standard errors.
FALL_AFTER, FALL_WINDOW, FALL_THRESHOLD = 20, 5, 0.02


def d_falls_row(run: RunFolder, why_missing: str = "") -> tuple[str, str]:
    """(what we measured, verdict) for "after epoch 20 the discriminator's performance begins to fall"."""
    try:
        frame = trained_history(run, why_missing).dropna(subset=["test_d_accuracy", "test_d_f1"])
    except NotMeasured as missing:
        return "–", str(missing)
    epoch = frame["epoch"]
    before = frame[(epoch > FALL_AFTER - FALL_WINDOW) & (epoch <= FALL_AFTER)]
    after = frame[epoch > FALL_AFTER]
    last = int(epoch.max())
    if len(before) < FALL_WINDOW or len(after) < FALL_WINDOW:
        return "–", (f"not yet measured: {_name(run)} has {last} epochs (needs {FALL_AFTER + FALL_WINDOW}: "
                     f"{FALL_WINDOW} after epoch {FALL_AFTER} to compare with the {FALL_WINDOW} before)")
    changes, parts = {}, []
    for metric in ("accuracy", "f1"):
        a, b = before[f"test_d_{metric}"].mean(), after[f"test_d_{metric}"].mean()
        changes[metric] = b - a
        parts.append(f"test D {metric.replace('f1', 'F1')} mean {a:.3f} over epochs {FALL_AFTER - FALL_WINDOW + 1}–"
                     f"{FALL_AFTER}, {b:.3f} over {FALL_AFTER + 1}–{last} (Δ {b - a:+.3f})")
    peak = int(frame.loc[frame["test_d_accuracy"].idxmax(), "epoch"])
    measured = "; ".join(parts) + f"; highest test D accuracy at epoch {peak}"
    fell = [m.replace("f1", "F1") for m, change in changes.items() if change < -FALL_THRESHOLD]
    if len(fell) == 2:
        return measured, f"confirmed: both fall by more than {FALL_THRESHOLD}"
    if fell:
        return measured, f"partly: only {fell[0]} falls by more than {FALL_THRESHOLD}"
    return measured, f"not confirmed: neither falls by more than {FALL_THRESHOLD} after epoch {FALL_AFTER}"


# -- m5 on CIFAR-100: better images that represent nothing ---------------------------------------------------
CHANCE_MULTIPLE = 3  # label accuracy under 3x chance (0.03 of CIFAR-100's 100 classes): the class is not drawn


def represents_nothing_row(base: RunFolder, m5: RunFolder) -> tuple[str, str]:
    """(what we measured, verdict) for "m5 gives better images than `base` at similar metrics, but most of the
    time they represent nothing": the comparison of m3 vs m4, and m5's label accuracy against chance."""
    measured, verdict = comparison_row(base, m5)
    if measured == "–":
        return measured, verdict
    classes = m5.read_summary().get("num_classes") or 100
    accuracy = json.loads(m5.metrics.read_text())["generated"]["label_accuracy"] if m5.metrics.is_file() else None
    if accuracy is None:
        return measured, f"{verdict}; label accuracy against chance not yet measured (no metrics.json)"
    chance = 1 / classes
    nothing = accuracy < CHANCE_MULTIPLE * chance
    measured += f"; {m5.path.name}'s label accuracy {accuracy:.3f} against chance {chance:.3f}"
    return measured, (f"{verdict}; " + (f"and they represent nothing: label accuracy under {CHANCE_MULTIPLE}× chance"
                                         if nothing else f"but they do represent their class more often than "
                                                         f"{CHANCE_MULTIPLE}× chance"))


# -- the findings and the notebooks that show them ---------------------------------------------------------
FINDINGS = {
    "cifar100_d_overfits": "D overfits after a few epochs on CIFAR-100",
    "m4_looks_better": "m4's images look better than m3's at similar metrics",
    "m5_v3_v4_overfit": "m5 v3/v4 overfit from about epoch 5",
    "m1_d_falls_after_20": "after 20 epochs the discriminator's performance begins to fall (so v2 stops at 20)",
    "m5_represents_nothing": "m5 gives better images than m3/m4 at similar metrics, but most of the time they "
                             "represent nothing",
}
NOTEBOOK_FINDINGS = {
    ("mnist", "m1"): ("m1_d_falls_after_20",),
    ("cifar100", "m3"): ("cifar100_d_overfits", "m4_looks_better"),
    ("cifar100", "m4"): ("cifar100_d_overfits", "m4_looks_better"),
    ("cifar100", "m5"): ("cifar100_d_overfits", "m5_represents_nothing"),
    ("cifar10", "m5"): ("m5_v3_v4_overfit",),
}
QUEUED = " (its run is queued)"


def rows(key: str, root: Path) -> list[tuple[str, str, str, str]]:
    """(finding, run(s), what we measured, verdict) per run the finding is checked on."""
    run = lambda name: RunFolder(root / name)  # noqa: E731 - names below are <dataset>/<model>_<version>
    if key == "cifar100_d_overfits":
        checks = [(n, overfitting_row(run(n), (1, 5), "confirmed later", QUEUED if "/m5" in n else ""))
                  for n in ("cifar100/m3_v1", "cifar100/m4_v1", "cifar100/m5_v1")]
    elif key == "m4_looks_better":
        checks = [("cifar100/m3_v1 vs cifar100/m4_v1", comparison_row(run("cifar100/m3_v1"), run("cifar100/m4_v1")))]
    elif key == "m1_d_falls_after_20":
        checks = [("mnist/m1_v1", d_falls_row(run("mnist/m1_v1"), QUEUED))]
    elif key == "m5_represents_nothing":
        checks = [(f"{n} vs cifar100/m5_v1", represents_nothing_row(run(n), run("cifar100/m5_v1")))
                  for n in ("cifar100/m3_v1", "cifar100/m4_v1")]
    elif key == "m5_v3_v4_overfit":
        checks = [(n, overfitting_row(run(n), (3, 7), "not confirmed", "" if n.endswith("v3") else QUEUED))
                  for n in ("cifar10/m5_v3", "cifar10/m5_v4")]
    else:
        raise KeyError(f"unknown finding {key!r}; known: {', '.join(FINDINGS)}")
    return [(FINDINGS[key], name, measured, verdict) for name, (measured, verdict) in checks]


def report(what, root=None) -> str:
    """A Markdown table for a notebook key (dataset, model) or a list of finding keys."""
    keys = NOTEBOOK_FINDINGS.get(tuple(what), ()) if isinstance(what, tuple) else list(what)
    root = Path(root) if root is not None else results_root()
    cell = lambda text: str(text).replace("|", "\\|")  # noqa: E731
    lines = ["| finding | run(s) | what we measured | verdict |", "| --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for key in keys for row in rows(key, root)]
    shown = root.relative_to(REPO_ROOT) if root.is_relative_to(REPO_ROOT) else root
    note = (f"\n\nRuns read from `{shown}`. D overfitting: train − test D accuracy above {GAP_THRESHOLD} from an "
            f"epoch to the last (noise ≈ 0.011); a run needs {MIN_EPOCHS} epochs to be judged.")
    return "\n".join(lines) + note if keys else f"No findings of the original project to check for {what}."
