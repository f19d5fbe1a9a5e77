"""Machine description, CSV output and the Markdown tables of benchmarks/README.md."""
from __future__ import annotations

import csv
import importlib.metadata
import os
import platform
import re
from datetime import datetime, timezone
from pathlib import Path

# Training images per epoch in the copies this project trains on: all of MNIST, CIFAR-10's full recovered set,
# CIFAR-100's stratified subset.
TRAIN_IMAGES = {"mnist": 60000, "cifar10": 49059, "cifar100": 12000}


def describe_machine() -> dict:
    from cgan.runtime import cpu_model, cpu_vector_extension, hardware

    memory = ""
    if os.path.exists("/proc/meminfo"):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 2**20:.0f} GiB"
    versions = {}
    for package in ("keras", "torch", "jax", "tensorflow-cpu", "tensorflow", "onnxruntime", "numpy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return {"cpu": f"{cpu_model()} ({cpu_vector_extension()})", "cores": os.cpu_count(), "memory": memory,
            "accelerator": hardware(), "python": platform.python_version(), "versions": versions,
            "date_utc": datetime.now(timezone.utc).isoformat(timespec="minutes")}


def write_csv(rows, path: Path, machine: dict, wall_s: float, columns=None) -> Path:
    """Rows under a one-line machine header; columns default to kind, value, unit and the rest sorted."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if columns is None:
        columns = ["kind", "value", "unit"] + sorted({k for row in rows for k in row} - {"kind", "value", "unit"})
    with open(path, "w", newline="") as f:
        f.write(f"# {machine['cpu']}, {machine['cores']} cores, {machine['memory']}, {machine['date_utc']}, "
                f"wall {wall_s:.0f} s\n")
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _pick(rows, kind, **match):
    return [r for r in rows if r["kind"] == kind and all(r.get(k) == v for k, v in match.items())]


def _table(header, lines) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in line) + " |" for line in lines]
    return "\n".join(out)


def tables(rows, machine: dict, wall_s: float) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    parts = [f"Measured {machine['date_utc']} on {machine['cpu']} ({machine['cores']} cores, {machine['memory']}, "
             f"accelerator: {machine['accelerator']}); Python {machine['python']}, {versions}. "
             f"Whole run: {wall_s / 60:.1f} min."]
    peaks = {r["backend"]: r["value"] for r in _pick(rows, "peak_matmul")}
    if peaks:
        parts.append("Peak (float32 matmul, median): " + ", ".join(f"{b} {v:.0f} GFLOP/s" for b, v in peaks.items())
                     + f"; % of peak below uses the highest, {max(peaks.values()):.0f} GFLOP/s.")
    flops = {(r["model"], r["dataset"]): r for r in _pick(rows, "flops_per_image")}
    lines = []
    for r in _pick(rows, "train", variant="default"):
        gflop = flops.get((r["model"], r["dataset"]), {}).get("value")
        same = [o["value"] for o in _pick(rows, "train", variant="default", model=r["model"], dataset=r["dataset"])]
        share = f"{100 * r['value'] * gflop / max(peaks.values()):.1f} %" if gflop and peaks else "n/a"
        lines.append([r["model"], r["dataset"], r["backend"], r["batch"], f"{r['value']:.1f}",
                      f"{r['value'] / max(same):.2f}", f"{gflop:.3f}" if gflop else "n/a", share,
                      f"{TRAIN_IMAGES[r['dataset']] / r['value']:.0f}", f"{r['first_epoch_s']:.1f}"])
    if lines:
        parts.append("### Training throughput\n\n" + _table(
            ["model", "dataset", "backend", "batch", "img/s", "vs fastest", "GFLOP/img", "% of peak",
             "epoch s (est.)", "first epoch s"], lines)
            + "\n\nimg/s: training images per second in `fit`, median of the timed epochs (the first epoch, "
              "with tracing/compilation, is dropped and shown as 'first epoch s' for its own image count). "
              "'epoch s (est.)' = training images of the dataset (MNIST 60,000, CIFAR-10 49,059, the full "
              "recovered set, CIFAR-100 subset 12,000) / img/s.")
    variant_lines = []
    for r in _pick(rows, "train"):
        if r["variant"] == "default":
            continue
        base = _pick(rows, "train", variant="default", model=r["model"], dataset=r["dataset"], backend=r["backend"])
        ratio = f"{r['value'] / base[0]['value']:.2f}" if base else "n/a"
        variant_lines.append([r["model"], r["backend"], r["variant"], r["batch"], f"{r['value']:.1f}", ratio])
    if variant_lines:
        parts.append("### Variants (m1, MNIST shape)\n\n" + _table(
            ["model", "backend", "variant", "batch", "img/s", "÷ default"], variant_lines))
    evaluation = {r["part"]: r for r in _pick(rows, "evaluation")}
    if evaluation:
        total = evaluation["eval_total_s"]
        train = _pick(rows, "train", variant="default", model="m1", dataset="mnist", backend=total["backend"])
        epoch = TRAIN_IMAGES["mnist"] / train[0]["value"] if train else None
        share = f"{100 * total['value'] / (total['value'] + epoch):.1f} %" if epoch else "n/a"
        parts.append("### Per-epoch evaluation (m1, MNIST, " + f"{total['backend']}, eval_samples "
                     f"{total['eval_samples']})\n\n" + _table(
                         ["D metrics (train+test)", "validation", "evolution grid", "total", "epoch training",
                          "evaluation share"],
                         [[f"{evaluation[p]['value']:.2f} s" for p in ("d_metrics_s", "validation_s",
                                                                      "evolution_grid_s", "eval_total_s")]
                          + [f"{epoch:.0f} s" if epoch else "n/a", share]]))
    cold = _pick(rows, "generate_cold")
    if cold:
        warm = {(r["engine"], r["per_call"]): r["value"] for r in _pick(rows, "generate_warm")}
        parts.append("### `cgan generate` latency (shipped m1 generator)\n\n" + _table(
            ["engine", "cold: process start → PNG (median)", "cold min", "warm, 1 image/call", "warm, 100/call"],
            [[r["engine"], f"{r['value']:.2f} s", f"{r['min_s']:.2f} s", f"{warm.get((r['engine'], '1'), 0):.2f} ms",
              f"{warm.get((r['engine'], '100'), 0):.3f} ms/image"] for r in cold]))
    return "\n\n".join(parts)


def update_readme(path: Path, name: str, markdown: str) -> None:
    """Replace the block between `<!-- results:NAME -->` markers (appended if absent)."""
    start, end = f"<!-- results:{name}:start -->", f"<!-- results:{name}:end -->"
    block = f"{start}\n{markdown}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.DOTALL)
    else:
        text = text.rstrip() + f"\n\n## Results: {name}\n\n{block}\n"
    path.write_text(text)
