"""The opening of resultados/README.md: one comparison table per dataset and its label-accuracy figure.

Each table row is one run: its training facts (summary.json) and, when it was evaluated, the `cgan evaluate`
scores (metrics.json) at the N they were scored at; a note says when the runs of one dataset differ in N. The
figure resultados/<dataset>_label_accuracy.png draws history.csv's `quality_label_accuracy` column, which
cgan.training.quality.QualityMonitor writes on the epochs it scored (config `quality_every`; the other epochs
leave it empty). cgan.reports.index puts these parts together with the per-run sections.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from cgan.data import data_label
from cgan.io import atomic_write
from cgan.plots import agg_pyplot

DATASET_ORDER = ("mnist", "cifar10", "cifar100")  # then any other dataset, alphabetically
COLUMNS = ("model", "version", "epochs", "train images", "wall time", "hardware", "test D acc", "test D F1",
           "eval N, generator epoch, scored by", "label accuracy ↑", "FD ↓", "coverage ↑")
HISTORY_COLUMN = "quality_label_accuracy"  # written by cgan.training.quality.QualityMonitor


def dig(data, keys):
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def number(value, digits: int = 4) -> str:
    return "–" if not isinstance(value, (int, float)) else f"{value:.{digits}f}"


def duration(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "–"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{seconds / 60:.1f} min"


def epochs_trained(summary: dict) -> str:
    """The epochs a run trained, as a fraction where a budget cut its last epoch short enough to matter: an m5
    run that a 2-hour budget stops a quarter of the way through its first epoch trained 0.25 epochs, not 1."""
    done, seen = summary.get("epochs_done", "?"), summary.get("images_seen")
    train = summary.get("data", {}).get("train_images")
    if isinstance(done, int) and isinstance(seen, int) and isinstance(train, int) and train > 0:
        fraction = seen / train
        if done - fraction >= 0.01:
            return f"{fraction:.2f}"
    return str(done)


def _short_hardware(env: dict) -> str:
    """'NVIDIA H200, torch' or '2-core CPU, tensorflow': what a reader needs to compare wall times."""
    accelerator = str(env.get("accelerator", ""))
    if accelerator and not accelerator.startswith(("none", "unknown")):
        where = accelerator
    else:
        where = f"{env.get('cpu_count', '?')}-core CPU" + (" (accelerator unknown)" if accelerator.startswith("unknown")
                                                           else "")
    return f"{where}, {env.get('backend', '?')}"


def _short(value) -> str:
    """FD-like numbers: 3 significant digits below 100 (7.25, 0.0822), whole numbers above."""
    if not isinstance(value, (int, float)):
        return "–"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _eval_n(metrics) -> int | str | None:
    """Generated images metrics.json was scored on (None: not evaluated; '?': evaluated, count not recorded)."""
    if not isinstance(metrics, dict) or "generated" not in metrics:
        return None
    return metrics.get("samples", {}).get("generated", "?")


def _with_real(metrics: dict, keys, word: str, fmt) -> str:
    generated, real = dig(metrics, ("generated", *keys)), dig(metrics, ("real_floor", *keys))
    if generated is None:
        return "–"
    if real is None:
        return fmt(generated)
    held_out = real_column(metrics.get("samples", {}))[0] == "real held-out"
    return f"{fmt(generated)} ({word} {fmt(real)}{'' if held_out else ' †'})"


def _quality_cells(metrics) -> list[str]:
    n = _eval_n(metrics)
    if n is None:
        return ["–"] * 4
    per_class = metrics.get("samples", {}).get("per_class")
    epoch = metrics.get("generator", {}).get("epochs_done", "?")
    # Rows of a dataset compare only when one classifier scored them all; its test accuracy tells them apart.
    accuracy = metrics.get("feature_space", {}).get("classifier_test_accuracy")
    scorer = f", classifier {accuracy:.3f}" if isinstance(accuracy, (int, float)) else ""
    return [f"{n}{f' ({per_class}/class)' if per_class else ''}, epoch {epoch}{scorer}",
            _with_real(metrics, ("label_accuracy",), "ceiling", lambda v: f"{v:.3f}"),
            _with_real(metrics, ("fd",), "floor", _short),
            _with_real(metrics, ("prdc", "coverage"), "real", lambda v: f"{v:.3f}")]


def _table_row(record: dict) -> str:
    s, path = record["summary"], record["path"].as_posix()
    data, final = s.get("data", {}), s.get("final_metrics", {})
    model = f"[{s.get('model', '?')}]({path}/)" + (" (coarse labels)" if s.get("label_mode") == "coarse" else "")
    epochs = f"{epochs_trained(s)}/{s.get('epochs_planned', '?')}"
    if s.get("status") != "finished":
        epochs += f" ({s.get('status', '?')})"
    images = data_label(data, s.get("dataset"))
    cells = [model, s.get("version", "?"), epochs, images, duration(s.get("wall_seconds")),
             _short_hardware(s.get("environment", {})), number(final.get("test_d_accuracy")),
             number(final.get("test_d_f1")), *_quality_cells(record["metrics"])]
    return "| " + " | ".join(map(str, cells)) + " |"


def real_column(samples: dict) -> tuple[str, str]:
    """(title, explanation) of metrics.json's real column: held-out test images, or training images in
    files written before cgan evaluate switched (its ceiling was inflated: the classifier had seen them)."""
    if str(samples.get("real_floor_source", "")).startswith("real held-out"):
        return "real held-out", "real held-out is real test images neither the classifier nor the reference saw"
    return "real train", "real train is real training images, which the classifier saw: an inflated ceiling"


def by_dataset(records: list[dict]) -> dict[str, list[dict]]:
    """Readable runs grouped by their dataset folder: mnist, cifar10, cifar100, then the others A→Z."""
    names = sorted({r["path"].parts[0] for r in records}, key=lambda d: (
        DATASET_ORDER.index(d) if d in DATASET_ORDER else len(DATASET_ORDER), d))
    return {d: [r for r in records if r["path"].parts[0] == d] for d in names}


def _numeric_first(item):
    return (0, int(item[0]), "") if item[0].isdigit() else (1, 0, item[0])


def _n_note(dataset: str, runs: list[dict]) -> str:
    """Which N the quality columns were scored at; loud when the runs of one dataset differ."""
    groups: dict[str, list[str]] = {}
    for r in runs:
        if (n := _eval_n(r["metrics"])) is not None:
            groups.setdefault(str(n), []).append(r["path"].name)
    if not groups:
        return "No run of this dataset has been evaluated yet (`cgan evaluate`): the quality columns are empty."
    if len(groups) == 1:
        return (f"Quality columns: `cgan evaluate` on one common N = {next(iter(groups))} generated images for every "
                f"evaluated run, next to real held-out test images scored the same way (ceiling / floor).")
    listed = "; ".join(f"N = {n}: {', '.join(names)}" for n, names in sorted(groups.items(), key=_numeric_first))
    return (f"**Warning: the {dataset} runs were evaluated at different N** ({listed}). FD, KID and coverage depend on "
            f"N (FD is biased upward at small N), so compare quality only between rows of the same N, or evaluate "
            f"them again with one `cgan evaluate --per-class`.")


def _curves(runs: list[dict]) -> dict:
    """Run name → label accuracy per epoch, of the runs monitored during training that scored an epoch."""
    return {r["path"].name: r["label_accuracy"] for r in runs
            if r["label_accuracy"] is not None and len(r["label_accuracy"])}


def _ceiling(runs: list[dict]) -> tuple[float, str] | None:
    """Label accuracy of real held-out images in the evaluation with the most images (first by path on a tie)."""
    rated = [r for r in runs if isinstance(_eval_n(r["metrics"]), int)
             and real_column(r["metrics"].get("samples", {}))[0] == "real held-out"
             and isinstance(dig(r["metrics"], ("real_floor", "label_accuracy")), (int, float))]
    if not rated:
        return None
    best = max(rated, key=lambda r: _eval_n(r["metrics"]))
    return (best["metrics"]["real_floor"]["label_accuracy"],
            f"real held-out ceiling ({best['path'].name} eval, N = {_eval_n(best['metrics'])})")


def comparison(dataset: str, runs: list[dict]) -> list[str]:
    lines = [f"### {dataset}", "", _n_note(dataset, runs), "", "| " + " | ".join(COLUMNS) + " |",
             "|" + " --- |" * len(COLUMNS), *(_table_row(r) for r in runs)]
    if any("†" in line for line in lines[-len(runs):]):
        lines.append("\n† real column scored on training images (older metrics.json): an inflated ceiling.")
    curves = _curves(runs)
    unmonitored = [r["path"].name for r in runs if r["path"].name not in curves]
    return lines + [""] + figure_lines(dataset, list(curves), unmonitored, _ceiling(runs))


def write_figures(records: list[dict], root: Path) -> list[Path]:
    """resultados/<dataset>_label_accuracy.png for every dataset with a monitored run (the README links them)."""
    written = []
    for dataset, runs in by_dataset([r for r in records if "summary" in r]).items():
        if curves := _curves(runs):
            write_label_accuracy_figure(root / figure_name(dataset), dataset, curves, _ceiling(runs))
            written.append(root / figure_name(dataset))
    return written


def label_accuracy_curve(history_csv: Path) -> pd.Series | None:
    """Label accuracy per scored epoch (index: epoch), or None when the run was not monitored (no such column,
    or no history yet). An empty series: monitored, but no epoch scored yet."""
    if not history_csv.is_file():
        return None
    try:
        history = pd.read_csv(history_csv)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        return None
    if HISTORY_COLUMN not in history or "epoch" not in history:
        return None
    scores = pd.to_numeric(history[HISTORY_COLUMN], errors="coerce")
    return scores.set_axis(history["epoch"]).dropna()


def figure_name(dataset: str) -> str:
    return f"{dataset}_label_accuracy.png"


def figure_lines(dataset: str, monitored: list[str], unmonitored: list[str], ceiling) -> list[str]:
    """README lines under a dataset's table: the figure and its caption, or why there is none."""
    not_monitored = f"Not monitored: {', '.join(unmonitored) or 'none'}."
    if not monitored:
        return [f"No label-accuracy figure: no {dataset} run was monitored during training (config "
                f"`quality_every`). {not_monitored}", ""]
    caption = (f"Label accuracy of generated {dataset} images per epoch, scored during training (config "
               f"`quality_every`) on a smaller sample than `cgan evaluate`, so noisier than the table. ")
    if ceiling:
        caption += f"Dashed: {ceiling[1]}. "
    return [f"![label accuracy per epoch, {dataset}]({figure_name(dataset)})", "",
            f"{caption}Monitored: {', '.join(monitored)}. {not_monitored}", ""]


def epoch_scale(curves: dict[str, pd.Series]) -> str:
    """"log" when one run has 10× the epochs of another (fast32's 325 beside the zoo's 30 would squeeze the zoo
    into the first tenth of a linear axis), else "linear"."""
    lengths = [curve.index.max() for curve in curves.values() if len(curve)]
    return "log" if lengths and max(lengths) >= 10 * min(lengths) else "linear"


def write_label_accuracy_figure(path: Path, dataset: str, curves: dict[str, pd.Series],
                                ceiling: tuple[float, str] | None = None) -> None:
    """curves: legend label → label accuracy per epoch; ceiling: (value, legend label) of real held-out images."""
    plt = agg_pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, curve in curves.items():
        ax.plot(curve.index, curve.values, marker="o" if len(curve) < 30 else None, markersize=3, label=label)
    if ceiling is not None:
        ax.axhline(ceiling[0], linestyle="--", color="gray", label=ceiling[1])
    scale = epoch_scale(curves)
    ax.set(title=f"{dataset}: label accuracy of generated images (domain classifier)", xscale=scale,
           xlabel="epoch" + (" (log scale)" if scale == "log" else ""), ylabel="label accuracy (higher is better)",
           ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    # No "Software" stamp: the PNG then depends only on the data, so regenerating the index changes nothing.
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png", metadata={"Software": None}))
    plt.close(fig)
