"""benchmarks/race.py end to end with a one-second budget: a row per config, scored by cgan evaluate."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_race_trains_each_config_for_the_budget_and_scores_it(tmp_path, data_dir):
    env = dict(os.environ, CGAN_DATA_DIR=str(data_dir), TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-m", "benchmarks.race", "--config", "configs/mnist/fast_v1.toml",
                           "--budget", "1", "--per-class", "3", "--threads", "1", "--runs", str(tmp_path / "runs"),
                           "--results", str(tmp_path), "--name", "tiny", "--no-readme"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(tmp_path / "tiny.csv") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    assert [r["config"] for r in rows] == ["configs/mnist/fast_v1.toml"]
    row = rows[0]
    summary = json.loads((tmp_path / "runs" / "mnist" / "fast_v1" / "summary.json").read_text())
    assert summary["status"] == "stopped" and int(row["images_seen"]) == summary["images_seen"] > 0
    assert 0.0 <= float(row["label_accuracy"]) <= 1.0 and float(row["fd"]) > float(row["fd_floor"]) >= 0
    assert int(row["per_class"]) == 3 and float(row["budget_s"]) == 1.0


def test_rescore_scores_existing_runs_without_training(tmp_path, data_dir):
    env = dict(os.environ, CGAN_DATA_DIR=str(data_dir), TF_CPP_MIN_LOG_LEVEL="3")
    args = [sys.executable, "-m", "benchmarks.race", "--config", "configs/mnist/fast_v1.toml", "--budget", "1",
            "--per-class", "3", "--threads", "1", "--runs", str(tmp_path / "runs"), "--results", str(tmp_path),
            "--no-readme"]
    first = subprocess.run([*args, "--name", "first"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    summary_before = (tmp_path / "runs" / "mnist" / "fast_v1" / "summary.json").read_text()
    again = subprocess.run([*args, "--name", "again", "--rescore", "--per-class", "4"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (tmp_path / "runs" / "mnist" / "fast_v1" / "summary.json").read_text() == summary_before  # not retrained
    with open(tmp_path / "again.csv") as f:
        row = next(csv.DictReader(line for line in f if not line.startswith("#")))
    assert int(row["per_class"]) == 4 and int(row["images_seen"]) == json.loads(summary_before)["images_seen"]


def test_time_to_target_is_the_first_scored_epoch_that_meets_both_conditions():
    import pandas as pd
    import pytest
    from benchmarks.race import parse_target, time_to_target

    history = pd.DataFrame({"epoch": [1, 2, 3, 4], "train_seconds": [60.0, 60.0, 60.0, 60.0],
                            "eval_seconds": [1.0] * 4, "quality_seconds": [2.0, None, 2.0, 2.0],
                            # epoch 2 unscored; epoch 3 has the accuracy but FD 6× its floor; epoch 4 meets both
                            "quality_label_accuracy": [0.90, None, 0.975, 0.98],
                            "quality_fd": [20.0, None, 12.0, 9.0], "quality_fd_floor": [2.0, None, 2.0, 2.0]})
    assert time_to_target(history, 0.97, 5) == (4, pytest.approx(63.0 + 61.0 + 63.0 + 63.0))
    assert time_to_target(history, 0.97, 6) == (3, pytest.approx(63.0 + 61.0 + 63.0))
    assert time_to_target(history, 0.99, 5) is None
    assert time_to_target(history.drop(columns=["quality_fd"]), 0.5, 100) is None  # not monitored
    assert parse_target("0.97:5") == (0.97, 5.0)
    with pytest.raises(Exception, match="LABEL_ACC:FD_RATIO"):
        parse_target("0.97")


def test_resume_keeps_finished_legs_and_races_the_rest(tmp_path, data_dir):
    env = dict(os.environ, CGAN_DATA_DIR=str(data_dir), TF_CPP_MIN_LOG_LEVEL="3")
    args = [sys.executable, "-m", "benchmarks.race", "--budget", "1", "--per-class", "2", "--threads", "1",
            "--runs", str(tmp_path / "runs"), "--results", str(tmp_path), "--name", "legs", "--no-readme"]
    first = subprocess.run([*args, "--config", "configs/mnist/fast_v1.toml"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    kept_summary = (tmp_path / "runs" / "mnist" / "fast_v1" / "summary.json").read_text()
    with open(tmp_path / "legs.csv") as f:
        kept_row = next(csv.DictReader(line for line in f if not line.startswith("#")))
    both = subprocess.run([*args, "--resume", "--config", "configs/mnist/fast_v1.toml",
                           "--config", "configs/mnist/m1_v1.toml"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert both.returncode == 0, both.stderr[-2000:]
    assert "kept its row" in both.stdout
    assert (tmp_path / "runs" / "mnist" / "fast_v1" / "summary.json").read_text() == kept_summary  # not retrained
    assert (tmp_path / "runs" / "mnist" / "m1_v1" / "summary.json").is_file()
    with open(tmp_path / "legs.csv") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    assert [r["config"] for r in rows] == ["configs/mnist/fast_v1.toml", "configs/mnist/m1_v1.toml"]
    assert rows[0]["measured_utc"] == kept_row["measured_utc"] and rows[0]["fd"] == kept_row["fd"]
    assert all(r["cpu"] for r in rows)  # legs raced on different machines say which
    import argparse
    from benchmarks.race import finished_rows, markdown
    from benchmarks.report import describe_machine

    race = argparse.Namespace(budget=1.0, per_class=2, backend=None, target=None, rerace=[])
    table = markdown(list(finished_rows(tmp_path / "legs.csv", race).values()), describe_machine(), race)
    assert "| configs/mnist/m1_v1.toml |" in table and "measured (UTC)" in table
    rerace = argparse.Namespace(budget=1.0, per_class=2, backend=None, rerace=["configs/mnist/m1_v1.toml"])
    assert list(finished_rows(tmp_path / "legs.csv", rerace)) == ["configs/mnist/fast_v1.toml"]
    # a different budget is a different race: nothing is kept
    other = subprocess.run([*args, "--resume", "--budget", "2", "--config", "configs/mnist/fast_v1.toml"], cwd=REPO,
                           env=env, capture_output=True, text=True, timeout=600)
    assert other.returncode == 0 and "kept its row" not in other.stdout
