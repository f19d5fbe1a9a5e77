"""Write the generator.onnx that git carries for a run whose generator.keras is too large for it.

    python -m tools.compact_generator --run resultados/cifar10/m5_v1

The zoo's m3, m4 and m5 generators weigh 16-57 MB as float32; git takes files under 20 MB and the zoo as a whole
should stay near 120 MB. So each of them is committed as one ONNX file, in the first weight format that fits:
- float16, if the file is under the limit; `cgan export` already refuses a float16 file whose images move by more
  than two grey levels from the Keras generator's;
- else int8, if it keeps label accuracy and FD within the evaluation's own noise: the int8 file and generator.keras
  are scored on the same noise and the same real images (seed 0), and the gap between them must be no larger than
  the gap between generator.keras scored with seed 0 and with seed 1;
- else float16 in parts: generator.onnx holds the graph and its weights lie in part files under the limit beside
  it (ONNX external data), the same numbers as one float16 file at the same total size.
The choice, each format's size and the measured differences are written to generator.onnx.json beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")  # the ONNX export runs on the torch backend

from cgan.errors import CganError, RunError  # noqa: E402
from cgan.io import file_sha256, write_json  # noqa: E402
from cgan.runs import RunFolder  # noqa: E402

FILE_LIMIT_BYTES = 20 * 10**6
# (name, weights, stored in parts), in the order they are tried: smallest files first, as long as quality holds.
FORMATS = (("float16", "float16", False), ("int8", "int8", False), ("float16 in parts", "float16", True))
COMPARED = ("label_accuracy", "fd")  # keys of metrics.json's "generated" section


def _scores(metrics: dict) -> dict:
    return {name: metrics["generated"][name] for name in COMPARED}


def grey_level_difference(run: RunFolder) -> dict:
    """Max and mean |ONNX - Keras| in 8-bit grey levels over two images of every class."""
    import numpy as np

    from cgan.generate import Generator
    from cgan.onnx import OnnxGenerator

    keras_generator, onnx_generator = Generator.from_run(run.path), OnnxGenerator.from_run(run.path)
    classes = list(range(len(keras_generator.label_names)))
    a, _ = keras_generator.generate(classes, 2, seed=0)
    b, _ = onnx_generator.generate(classes, 2, seed=0)
    gap = np.abs(a.astype(int) - b.astype(int))
    return {"max": int(gap.max()), "mean": round(float(gap.mean()), 4)}


def compact(run_dir, per_class: int, limit_bytes: int = FILE_LIMIT_BYTES) -> dict:
    """Export the run's generator in the first format that fits and keeps its quality; returns the record."""
    from cgan.evaluation.evaluate import evaluate_run
    from cgan.onnx import OnnxGenerator, drop_unused_parts, export_onnx, onnx_files

    run = RunFolder(run_dir)
    if not run.metrics_are_current():
        raise CganError(f"{run.path}: score generator.keras first (`cgan evaluate --run {run.path}`)")
    keras_metrics = json.loads(run.metrics.read_text())
    if keras_metrics["samples"]["per_class"] != per_class or keras_metrics["samples"]["seed"] != 0:
        raise CganError(f"{run.path}: metrics.json is not at {per_class} per class, seed 0")
    record = {"keras_sha256": file_sha256(run.generator_keras), "keras_bytes": run.generator_keras.stat().st_size,
              "limit_bytes": limit_bytes, "per_class": per_class, "keras": _scores(keras_metrics), "tried": {}}
    for name, weights, in_parts in FORMATS:
        try:
            export_onnx(run.path, weights, part_bytes=limit_bytes if in_parts else None)
        except RunError as exc:  # e.g. float16 images beyond two grey levels: try the next format
            record["tried"][name] = {"refused": str(exc)}
            continue
        files = onnx_files(run.path)
        tried = record["tried"][name] = {"bytes": sum(f.stat().st_size for f in files), "files": len(files),
                                         "largest_file_bytes": max(f.stat().st_size for f in files),
                                         "grey_levels": grey_level_difference(run)}
        if tried["largest_file_bytes"] > limit_bytes:
            continue
        if weights == "float16":  # the export held it within two grey levels of Keras
            record["chosen"] = name
            break
        if "keras_seed1" not in record:
            record["keras_seed1"] = _scores(evaluate_run(run.path, per_class, seed=1, inception=False))
        onnx_scores = _scores(evaluate_run(run.path, per_class, seed=0, inception=False,
                                           generator=OnnxGenerator.from_run(run.path)))
        tried["scores"] = onnx_scores
        tried["gap"] = {k: round(abs(onnx_scores[k] - record["keras"][k]), 4) for k in onnx_scores}
        tried["noise"] = {k: round(abs(record["keras_seed1"][k] - record["keras"][k]), 4) for k in onnx_scores}
        if all(tried["gap"][k] <= tried["noise"][k] for k in onnx_scores):
            record["chosen"] = name
            break
    if "chosen" not in record:
        run.generator_onnx.unlink()  # no file is better than a file that draws worse than the run it names
        drop_unused_parts(run.path)
    write_json(run.onnx_record, record)
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="an evaluated run folder holding generator.keras")
    parser.add_argument("--per-class", type=int, required=True, help="the N of its metrics.json")
    parser.add_argument("--limit-bytes", type=int, default=FILE_LIMIT_BYTES, help="largest file git should carry")
    args = parser.parse_args(argv)
    try:
        record = compact(args.run, args.per_class, args.limit_bytes)
    except CganError as exc:
        print(f"compact_generator: error: {exc}", file=sys.stderr)
        return 2
    chosen = record.get("chosen")
    sizes = ", ".join(f"{w} {t['bytes'] / 1e6:.1f} MB in {t['files']} file(s)" if "bytes" in t
                      else f"{w} refused: {t['refused']}" for w, t in record["tried"].items())
    print(f"{args.run}: " + (f"generator.onnx, {chosen} weights" if chosen else "no format fits") +
          f" ({sizes}; generator.keras {record['keras_bytes'] / 1e6:.1f} MB)")
    return 0 if chosen else 1


if __name__ == "__main__":
    sys.exit(main())
