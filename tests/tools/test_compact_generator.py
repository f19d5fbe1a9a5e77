"""tools/compact_generator.py: float16 when it fits, else int8 only if label accuracy and FD hold, else float16 in
parts."""
import json
import subprocess
import sys

import pytest

from cgan.evaluation.evaluate import evaluate_run, write_metrics
from tests.tiny_generator import SUMMARY, tiny_generator_run
from tools.children import REPO

PER_CLASS = 5


def compact(run, limit_bytes):
    return subprocess.run([sys.executable, "-m", "tools.compact_generator", "--run", str(run), "--per-class",
                           str(PER_CLASS), "--limit-bytes", str(limit_bytes)],
                          capture_output=True, text=True, cwd=REPO, timeout=600)


@pytest.mark.slow
def test_the_first_format_that_fits_and_keeps_quality_is_chosen(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("CGAN_DATA_DIR", str(data_dir))
    run = tiny_generator_run(tmp_path / "run")
    (run / "summary.json").write_text(json.dumps(dict(SUMMARY, epochs_done=1)))
    done = compact(run, 10**9)
    assert done.returncode == 2 and "score generator.keras first" in done.stderr  # metrics.json must come first
    write_metrics(run, evaluate_run(run, PER_CLASS, data_dir=data_dir, inception=False))

    done = compact(run, 10**9)
    assert done.returncode == 0 and "generator.onnx, float16 weights" in done.stdout, done.stderr[-2000:]
    record = json.loads((run / "generator.onnx.json").read_text())
    assert record["chosen"] == "float16" and list(record["tried"]) == ["float16"]  # int8 never tried
    assert record["tried"]["float16"]["grey_levels"]["max"] <= 2

    done = compact(run, record["tried"]["float16"]["bytes"] - 1)  # float16 too large: int8 must prove itself
    record = json.loads((run / "generator.onnx.json").read_text())
    int8 = record["tried"]["int8"]
    assert int8["bytes"] < record["tried"]["float16"]["bytes"] and set(int8["scores"]) == {"label_accuracy", "fd"}
    holds = all(int8["gap"][k] <= int8["noise"][k] for k in int8["gap"])
    assert record["chosen"] == ("int8" if holds else "float16 in parts") and done.returncode == 0, done.stderr[-2000:]
    assert (run / "generator.onnx").is_file() and bool(list(run.glob("generator.onnx.*.part"))) != holds

    done = compact(run, 100)  # under the largest weight: no format fits, and nothing is left that draws worse
    record = json.loads((run / "generator.onnx.json").read_text())
    assert done.returncode == 1 and "no format fits" in done.stdout and "chosen" not in record
    assert "cannot be stored in parts of 100 bytes" in record["tried"]["float16 in parts"]["refused"]
    assert not (run / "generator.onnx").exists() and not list(run.glob("generator.onnx.*.part"))
