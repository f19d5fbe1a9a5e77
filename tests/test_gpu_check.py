"""The GPU check's CPU dry run: tiny models, synthetic data, PyTorch (no GPU in CI)."""
import csv
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_dry_run_reports_every_job(tmp_path):
    done = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--dry-run", "--backends", "torch",
                           "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with open(tmp_path / "gpu.csv") as f:
        rows = list(csv.DictReader(f))
    jobs = {(Path(r["config"]).stem.split("_")[0], r["precision"], r["log_steps"]) for r in rows}
    assert jobs == {("m1", "fp32", "False"), ("m1", "bf16", "False"), ("m5", "fp32", "False"),
                    ("m5", "bf16", "False"), ("m1", "fp32", "True")}
    assert all(not r["error"] and float(r["img_per_s"]) > 0 for r in rows), rows
    report = (tmp_path / "gpu.md").read_text()
    assert "DRY RUN" in report and "| torch | float32 |" in report and "| torch | bfloat16 |" in report
    # The SNGAN quality run: scores per epoch, its summary and a sample grid.
    assert "SNGAN quality run" in report and "sngan_v1.toml" in report
    with open(tmp_path / "sngan.csv") as f:
        scores = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in scores] == [1, 2]
    assert all(0 <= float(r["quality_label_accuracy"]) <= 1 and float(r["quality_fd"]) > 0 for r in scores), scores
    summary = json.loads((tmp_path / "sngan_summary.json").read_text())
    assert summary["model"] == "sngan" and summary["status"] == "finished"
    assert (tmp_path / "sngan_samples.png").stat().st_size > 0


def test_gpu_check_without_a_bundle_says_how_to_make_one(tmp_path):
    done = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--bundle", str(tmp_path / "none")],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "benchmarks.gpu_bundle" in done.stderr
