"""resultados/README.md: an index of every run folder, generated from the folders themselves.

    python -m cgan.reports.index            # rewrite resultados/README.md (or $CGAN_RESULTS_DIR/README.md)
    python -m cgan.reports.index --stdout   # print it instead (the figures are not written then)

Everything in the index is read from each run's summary.json, history.csv, its files and, when the run was
evaluated, its metrics.json; nothing is typed by hand. It opens with one comparison table per dataset, each
followed by a figure of label accuracy per epoch (resultados/<dataset>_label_accuracy.png; cgan.reports.tables)
when a run of that dataset was monitored during training; the sections of every run follow.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from cgan.data import data_label
from cgan.errors import RunError
from cgan.io import write_text
from cgan.reports.tables import (by_dataset, comparison, dig, duration, epochs_trained, label_accuracy_curve, number,
                                 real_column, write_figures)
from cgan.runs import RunFolder, results_root

# (column title, path into metrics.json's "generated" / "real_floor" sections) — see cgan/evaluation/evaluate.py
QUALITY = (("label accuracy ↑", ("label_accuracy",)), ("FD ↓", ("fd",)), ("KID ↓", ("kid", "mean")),
           ("precision ↑", ("prdc", "precision")), ("recall ↑", ("prdc", "recall")),
           ("density ↑", ("prdc", "density")), ("coverage ↑", ("prdc", "coverage")),
           ("intra-class FD ↓", ("intra_class_fd", "mean")))


def collect(root=None) -> list[dict]:
    """One record per run folder (a folder two levels down holding summary.json), sorted by path."""
    root = Path(root) if root else results_root()
    records = []
    for path in sorted(root.glob("*/*/summary.json")):
        run = RunFolder(path.parent)
        try:
            summary = run.read_summary()
        except RunError as exc:
            records.append({"path": run.path.relative_to(root), "error": str(exc)})
            continue
        records.append({"path": run.path.relative_to(root), "summary": summary, "metrics": _metrics(run),
                        "files": _files(run, root), "label_accuracy": label_accuracy_curve(run.history)})
    return records


def _metrics(run: RunFolder) -> dict | None:
    path = run.metrics
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return {"error": "metrics.json is not valid JSON"}


def _files(run: RunFolder, root: Path) -> dict[str, list[Path]]:
    rel = lambda paths: [p.relative_to(root) for p in paths]
    grids = sorted(run.evolution.glob("epoch_*.png"))
    return {"plots": rel(sorted(run.plots.glob("*.png"))), "last_grid": rel(grids[-1:]),
            "gif": rel([run.gif] if run.gif.is_file() else []),
            "generator": rel([run.generator_keras] if run.generator_keras.is_file() else []),
            "onnx": rel([run.generator_onnx] if run.generator_onnx.is_file() else [])}


def _machine(env: dict, keras_version: bool = False) -> str:
    extension = f" ({env['vector_extension']})" if env.get("vector_extension") else ""  # runs before it was recorded
    cpu = f"{env.get('processor', '?')}{extension}, {env.get('cpu_count', '?')} cores"
    accelerator = env.get("accelerator") or ""
    if accelerator and not accelerator.startswith("none"):
        cpu += f", {accelerator}"
    return f"{cpu}; Keras {env.get('keras', '?')} on {env.get('backend', '?')}" if keras_version else \
        f"{cpu}, {env.get('backend', '?')}"


def _hardware(summary: dict) -> str:
    """The machine of a run; for a run resumed on other machines, which epochs and wall time each one trained."""
    env, sessions = summary.get("environment", {}), summary.get("sessions", [])
    if len({_machine(s) for s in sessions}) <= 1:
        return _machine(env, keras_version=True)
    parts, merged = [], []
    for session in sessions:  # consecutive sessions on one machine read as one
        if merged and _machine(merged[-1]) == _machine(session):
            merged[-1] = dict(merged[-1], last_epoch=session["last_epoch"],
                              wall_seconds=(merged[-1]["wall_seconds"] or 0) + (session["wall_seconds"] or 0))
        else:
            merged.append(dict(session))
    for s in merged:
        epochs = (f"epochs {s['first_epoch']}–{s['last_epoch']}" if s["last_epoch"] >= s["first_epoch"]
                  else "no epoch")
        parts.append(f"{_machine(s)} ({epochs}, {duration(s['wall_seconds'])})")
    return "; ".join(parts) + f"; Keras {env.get('keras', '?')}"


def _links(paths, label=None) -> str:
    return ", ".join(f"[{label or p.stem.replace('_', ' ')}]({p.as_posix()})" for p in paths) or "–"


def _kept_out_of_git(path: Path) -> bool:
    """Whether .gitignore keeps `path` out of git, so the committed index must not link it (outside git: never)."""
    try:
        answer = subprocess.run(["git", "-C", str(path.parent), "check-ignore", "-q", path.name],
                                capture_output=True)
    except OSError:  # no git on this machine
        return False
    return answer.returncode == 0  # 1: not ignored (or tracked), 128: not a git checkout


def _generator_link(files: dict, root: Path, run: Path) -> str:
    """The generator's link. A generator.keras that .gitignore keeps out (the zoo's m3, m4 and m5) is named whether
    or not this checkout has it, so the index reads the same from every checkout; its committed generator.onnx,
    with compact weights, is linked with the record of what its weight format changes."""
    expected = run / "generator.keras"
    if not _kept_out_of_git(root / expected):
        return _links(files["generator"], "generator.keras") if files["generator"] else "none yet"
    kept_out = f"`{expected.as_posix()}` kept out of git (over the repository's size budget)"
    record = _onnx_record(root / run)
    if not files["onnx"] or not record or not record.get("chosen"):
        return f"{kept_out}; retrain to get it"
    chosen = record["tried"][record["chosen"]]
    in_files = f" in {chosen['files']} files" if chosen.get("files", 1) > 1 else ""
    return (f"{_links(files['onnx'], 'generator.onnx')}, {record['chosen']} weights, {chosen['bytes'] / 1e6:.1f} MB"
            f"{in_files} "
            f"({kept_out}, {record['keras_bytes'] / 1e6:.1f} MB): {_format_change(record, chosen)}")


def _json_or_none(path: Path) -> dict | None:
    """A side file that the index shows when it can: absent or unreadable, it is left out."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _onnx_record(run: Path) -> dict | None:
    return _json_or_none(RunFolder(run).onnx_record)


def _format_change(record: dict, chosen: dict) -> str:
    grey = chosen["grey_levels"]
    levels = "grey level" if grey["max"] == 1 else "grey levels"
    change = f"pixels within {grey['max']} {levels} of the Keras generator's (mean {grey['mean']:.2f})"
    if "gap" in chosen:
        gap, noise = chosen["gap"], chosen["noise"]
        change += (f"; label accuracy and FD move by {gap['label_accuracy']:.4f} and {gap['fd']:.3f}, within "
                   f"the {noise['label_accuracy']:.4f} and {noise['fd']:.3f} between two evaluation seeds")
    return change


def _same_scale(a: dict, b: dict) -> bool:
    """Two metrics.json files that compare: the same N per class and the same classifier."""
    return all(dig(a, k) == dig(b, k) and dig(a, k) is not None
               for k in (("samples", "per_class"), ("feature_space", "classifier_test_accuracy")))


def _previous_line(run: Path) -> list[str]:
    """How this run compares with the run it replaced (previous/, written when a retrain moves in)."""
    folder = RunFolder(run).previous
    old = _json_or_none(folder / "summary.json")
    if old is None:
        return []
    old_metrics = _json_or_none(folder / "metrics.json") or {}
    new_metrics = _metrics(RunFolder(run)) or {}
    rescored = _json_or_none(RunFolder(run).rescored)
    where = ""
    comparable = _same_scale(old_metrics, new_metrics)
    if (not comparable and rescored and _same_scale(old_metrics, rescored)
            and dig(rescored, ("generator", "epochs_done")) == dig(new_metrics, ("generator", "epochs_done"))):
        new_metrics, comparable = rescored, True  # the new generator in the old run's feature space
        where = (f", both with the old run's classifier (test accuracy "
                 f"{dig(old_metrics, ('feature_space', 'classifier_test_accuracy'))}, previous/rescored.json)")
    scores = []
    for title, key, digits in (("label accuracy", "label_accuracy", 4), ("FD", "fd", 3)):
        before, after = dig(old_metrics, ("generated", key)), dig(new_metrics, ("generated", key))
        if before is not None and after is not None:
            scores.append(f"{title} {number(before, digits)} → {number(after, digits)}")
    comparison = (f"; old → new at {dig(old_metrics, ('samples', 'per_class'))} per class{where}: "
                  f"{', '.join(scores)}" if scores and comparable else
                  "; its metrics were scored at another N or with another classifier: not compared" if scores else "")
    return [(f"- **Replaced run** (previous/, its generator never committed): {old.get('status', '?')}, "
             f"{epochs_trained(old)} of {old.get('epochs_planned', '?')} epochs in "
             f"{duration(old.get('wall_seconds'))} on {data_label(old.get('data', {}), old.get('dataset'))}"
             + comparison)]


def _run_section(record: dict, root: Path) -> list[str]:
    s, files = record["summary"], record["files"]
    params = s.get("params", {})
    lines = [f"### {record['path'].as_posix()}", "",
             (f"- **Status:** {s.get('status', '?')}, {epochs_trained(s)} of {s.get('epochs_planned', '?')} "
             f"epochs, wall time {duration(s.get('wall_seconds'))} (mean epoch "
             f"{number(s.get('mean_epoch_seconds'), 1)} s), last update {s.get('updated_utc', '?')}"),
             (f"- **Data:** trained on {s.get('data', {}).get('train_note') or data_label(s.get('data', {}), s.get('dataset'))}"
             f", D metrics on "
             f"{s.get('eval_samples', '?')} real + {s.get('eval_samples', '?')} generated images per split"),
             f"- **Parameters:** G {params.get('generator', '?'):,} + D {params.get('discriminator', '?'):,} = "
             f"{params.get('total', '?'):,}" if params else "- **Parameters:** –",
             f"- **Hardware:** {_hardware(s)}",
             _d_metrics_line(s.get("final_metrics", {})),
             (f"- **Plots:** {_links(files['plots'])}; last grid: {_links(files['last_grid'])}; "
             f"evolution: {_links(files['gif'], 'GIF')}; "
             f"generator: {_generator_link(files, root, record['path'])}")]
    lines += _previous_line(root / record["path"])
    lines += _metrics_lines(record["metrics"])
    if files["gif"]:
        lines += ["", f"![evolution of {record['path'].as_posix()}]({files['gif'][0].as_posix()})"]
    return lines + [""]


def _d_metrics_line(final: dict) -> str:
    return (f"- **D after the last epoch:** test accuracy {number(final.get('test_d_accuracy'))}, F1 "
            f"{number(final.get('test_d_f1'))}; train accuracy {number(final.get('train_d_accuracy'))}, F1 "
            f"{number(final.get('train_d_f1'))}")


def _metrics_lines(metrics: dict | None) -> list[str]:
    if metrics is None:
        return ["- **Quality metrics:** not evaluated yet (`cgan evaluate`)"]
    if "generated" not in metrics:
        problem = metrics.get("error", "unknown format")
        return [f"- **Quality metrics:** metrics.json present but not readable here ({problem})"]
    samples = metrics.get("samples", {})
    generator = metrics.get("generator", {})
    title, meaning = real_column(samples)
    lines = [(f"- **Quality metrics** (metrics.json, {samples.get('generated', '?')} generated images, generator "
              f"after epoch {generator.get('epochs_done', '?')}; {meaning}, scored the same way):"),
             "", f"  | metric | generated | {title} |", "  | --- | --- | --- |"]
    for title, keys in QUALITY:
        generated, floor = dig(metrics, ("generated", *keys)), dig(metrics, ("real_floor", *keys))
        if generated is not None:
            lines.append(f"  | {title} | {number(generated)} | {number(floor)} |")
    fid = metrics.get("inception_fid", {})
    if isinstance(fid, dict) and "value" in fid:
        lines.append(f"  | Inception FID ↓ | {number(fid['value'], 3)} | – |")
    return lines


def render(records: list[dict], root: Path) -> str:
    header = ["# Run folders", "",
              ("Generated by `python -m cgan.reports.index` from each folder's summary.json, history.csv and "
               "metrics.json (when the run was evaluated); do not edit by hand."), "", "## Comparison", "",
              ("One table per dataset. D acc / F1: the discriminator after the last finished epoch, real images as the "
               "positive class. Label accuracy (the domain classifier's), FD in its features and coverage come from "
               "`cgan evaluate` (metrics.json) at the N and generator epoch given; the bracket is the same score of "
               "real held-out images. – : not evaluated."), ""]
    if not records:
        return "\n".join(header + ["No run folders yet.", ""])
    grouped = by_dataset([r for r in records if "summary" in r])
    good = [r for runs in grouped.values() for r in runs]  # the run sections follow the tables' order
    tables = [line for dataset, runs in grouped.items() for line in comparison(dataset, runs)]
    broken = [f"- {r['path'].as_posix()}: {r['error']}" for r in records if "error" in r]
    sections = [line for r in good for line in _run_section(r, root)]
    return "\n".join(header + tables + (["Unreadable folders:", *broken, ""] if broken else [])
                     + ["## Runs", ""] + sections)


def write_index(root=None) -> Path:
    root = Path(root) if root else results_root()
    path = root / "README.md"
    records = collect(root)
    write_figures(records, root)
    write_text(path, render(records, root))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cgan.reports.index", description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="results folder (default resultados/ or $CGAN_RESULTS_DIR)")
    parser.add_argument("--stdout", action="store_true", help="print the index instead of writing README.md")
    args = parser.parse_args(argv)
    root = Path(args.root) if args.root else results_root()
    if not root.is_dir():
        print(f"results_index: error: no results folder at {root}", file=sys.stderr)
        return 2
    if args.stdout:
        print(render(collect(root), root))
    else:
        print(f"wrote {write_index(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
