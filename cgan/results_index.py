"""resultados/README.md: an index of every run folder, generated from the folders themselves.

    python -m cgan.results_index            # rewrite resultados/README.md (or $CGAN_RESULTS_DIR/README.md)
    python -m cgan.results_index --stdout   # print it instead

Everything in the index is read from each run's summary.json, its files and, when the run was evaluated,
its metrics.json; nothing is typed by hand.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cgan.runs import RunError, RunFolder, results_root, write_text

COMMITTED_MB = 20
D_METRICS = ("test_d_accuracy", "test_d_f1", "train_d_accuracy", "train_d_f1")
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
                        "files": _files(run, root)})
    return records


def _metrics(run: RunFolder) -> dict | None:
    path = run.path / "metrics.json"
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
            "generator": rel([run.generator_keras] if run.generator_keras.is_file() else [])}


def _dig(data, keys):
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _number(value, digits: int = 4) -> str:
    return "–" if not isinstance(value, (int, float)) else f"{value:.{digits}f}"


def _duration(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "–"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{seconds / 60:.1f} min"


def _hardware(env: dict) -> str:
    cpu = f"{env.get('processor', '?')}, {env.get('cpu_count', '?')} cores"
    accelerator = env.get("accelerator", "")
    if accelerator and not accelerator.startswith("none"):
        cpu += f", {accelerator}"
    return f"{cpu}; Keras {env.get('keras', '?')} on {env.get('backend', '?')}"


def _links(paths, label=None) -> str:
    return ", ".join(f"[{label or p.stem.replace('_', ' ')}]({p.as_posix()})" for p in paths) or "–"


def _table_row(record: dict) -> str:
    s = record["summary"]
    data = s.get("data", {})
    images = f"{data.get('train_images', '?')}" + (" (subset)" if data.get("train_is_subset") else "")
    final = s.get("final_metrics", {})
    epochs = f"{s.get('epochs_done', '?')}/{s.get('epochs_planned', '?')}"
    cells = [f"[{record['path'].as_posix()}]({record['path'].as_posix()}/)", s.get("dataset", "?"),
             s.get("model", "?"), s.get("version", "?"), s.get("status", "?"), epochs, images,
             _duration(s.get("wall_seconds")), *(_number(final.get(k)) for k in D_METRICS)]
    return "| " + " | ".join(map(str, cells)) + " |"


def _generator_link(paths, root: Path) -> str:
    if not paths:
        return "none yet"
    megabytes = (root / paths[0]).stat().st_size / 2**20
    if megabytes > COMMITTED_MB:  # .gitignore keeps large generators (m5) out of git
        return f"`{paths[0].as_posix()}` ({megabytes:.0f} MB, kept out of git; retrain to get it)"
    return _links(paths, "generator.keras")


def _run_section(record: dict, root: Path) -> list[str]:
    s, files = record["summary"], record["files"]
    params = s.get("params", {})
    lines = [f"### {record['path'].as_posix()}", "",
             (f"- **Status:** {s.get('status', '?')}, {s.get('epochs_done', '?')} of {s.get('epochs_planned', '?')} "
             f"epochs, wall time {_duration(s.get('wall_seconds'))} (mean epoch "
             f"{_number(s.get('mean_epoch_seconds'), 1)} s), last update {s.get('updated_utc', '?')}"),
             (f"- **Data:** {s.get('data', {}).get('train_images', '?')} training images"
             f"{' (a subset)' if s.get('data', {}).get('train_is_subset') else ''}, D metrics on "
             f"{s.get('eval_samples', '?')} real + {s.get('eval_samples', '?')} generated images per split"),
             f"- **Parameters:** G {params.get('generator', '?'):,} + D {params.get('discriminator', '?'):,} = "
             f"{params.get('total', '?'):,}" if params else "- **Parameters:** –",
             f"- **Hardware:** {_hardware(s.get('environment', {}))}",
             (f"- **Plots:** {_links(files['plots'])}; last grid: {_links(files['last_grid'])}; "
             f"evolution: {_links(files['gif'], 'GIF')}; generator: {_generator_link(files['generator'], root)}")]
    lines += _metrics_lines(record["metrics"])
    if files["gif"]:
        lines += ["", f"![evolution of {record['path'].as_posix()}]({files['gif'][0].as_posix()})"]
    return lines + [""]


def _real_column(samples: dict) -> tuple[str, str]:
    """(title, explanation) of metrics.json's real column: held-out test images, or training images in
    files written before cgan evaluate switched (its ceiling was inflated: the classifier had seen them)."""
    if str(samples.get("real_floor_source", "")).startswith("real held-out"):
        return "real held-out", "real held-out is real test images neither the classifier nor the reference saw"
    return "real train", "real train is real training images, which the classifier saw: an inflated ceiling"


def _metrics_lines(metrics: dict | None) -> list[str]:
    if metrics is None:
        return ["- **Quality metrics:** not evaluated yet (`cgan evaluate`)"]
    if "generated" not in metrics:
        problem = metrics.get("error", "unknown format")
        return [f"- **Quality metrics:** metrics.json present but not readable here ({problem})"]
    samples = metrics.get("samples", {})
    generator = metrics.get("generator", {})
    title, meaning = _real_column(samples)
    lines = [(f"- **Quality metrics** (metrics.json, {samples.get('generated', '?')} generated images, generator "
              f"after epoch {generator.get('epochs_done', '?')}; {meaning}, scored the same way):"),
             "", f"  | metric | generated | {title} |", "  | --- | --- | --- |"]
    for title, keys in QUALITY:
        generated, floor = _dig(metrics, ("generated", *keys)), _dig(metrics, ("real_floor", *keys))
        if generated is not None:
            lines.append(f"  | {title} | {_number(generated)} | {_number(floor)} |")
    fid = metrics.get("inception_fid", {})
    if isinstance(fid, dict) and "value" in fid:
        lines.append(f"  | Inception FID ↓ | {_number(fid['value'], 3)} | – |")
    return lines


def render(records: list[dict], root: Path) -> str:
    header = ["# Run folders", "",
              ("Generated by `python -m cgan.results_index` from each folder's summary.json (and metrics.json when the "
              "run was evaluated); do not edit by hand. D metrics are the discriminator's accuracy and F1 after the "
              "last finished epoch, real images as the positive class."), ""]
    if not records:
        return "\n".join(header + ["No run folders yet.", ""])
    good = [r for r in records if "summary" in r]
    table = [("| run | dataset | model | version | status | epochs | train images | wall time | test D acc "
             "| test D F1 | train D acc | train D F1 |"), "|" + " --- |" * 12]
    table += [_table_row(r) for r in good]
    broken = [f"- {r['path'].as_posix()}: {r['error']}" for r in records if "error" in r]
    sections = [line for r in good for line in _run_section(r, root)]
    return "\n".join(header + table + [""] + (["Unreadable folders:", *broken, ""] if broken else [])
                     + ["## Runs", ""] + sections)


def write_index(root=None) -> Path:
    root = Path(root) if root else results_root()
    path = root / "README.md"
    write_text(path, render(collect(root), root))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cgan.results_index", description=__doc__.splitlines()[0])
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
