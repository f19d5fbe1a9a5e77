"""benchmarks/race.py end to end with a one-second budget: a row per config, scored by cgan evaluate.

One race of `fast` on MNIST is run once for the module; the tests rescore it, resume it with a second config, and
check what the race refuses, so that MNIST is trained twice in all.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from markdown_tables import table_with

# The module fixture is expensive: under pytest-xdist (make test) these tests share one worker.
pytestmark = pytest.mark.xdist_group("benchmarks/test_race")

REPO = Path(__file__).resolve().parents[2]
FAST, M1 = "configs/mnist/fast_v1.toml", "configs/mnist/m1_v1.toml"


def rows_of(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


@pytest.fixture(scope="module")
def race(tmp_path_factory, data_dir):
    """Runs `python -m benchmarks.race` with a 1-second budget and 3 images per class into one folder."""
    folder = tmp_path_factory.mktemp("race")
    env = dict(os.environ, CGAN_DATA_DIR=str(data_dir), TF_CPP_MIN_LOG_LEVEL="3")
    base = [sys.executable, "-m", "benchmarks.race", "--budget", "1", "--per-class", "3", "--threads", "1",
            "--runs", str(folder / "runs"), "--results", str(folder), "--no-readme"]

    def run(*args, name="legs", check=True):
        done = subprocess.run([*base, "--name", name, *args], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0 or not check, done.stderr[-2000:]
        return done

    run("--config", FAST)
    run.folder = folder
    run.first_row = rows_of(folder / "legs.csv")[0]
    run.first_summary = (folder / "runs" / "mnist" / "fast_v1" / "summary.json").read_text()
    return run


@pytest.mark.slow
def test_race_trains_each_config_for_the_budget_and_scores_it(race):
    row, summary = race.first_row, json.loads(race.first_summary)
    assert row["config"] == FAST
    assert summary["status"] == "stopped" and int(row["images_seen"]) == summary["images_seen"] > 0
    assert 0.0 <= float(row["label_accuracy"]) <= 1.0 and float(row["fd"]) > float(row["fd_floor"]) >= 0
    assert int(row["per_class"]) == 3 and float(row["budget_s"]) == 1.0 and row["cpu"]


@pytest.mark.slow
def test_rescore_scores_existing_runs_without_training(race):
    race("--config", FAST, "--rescore", "--per-class", "4", name="again")
    summary = race.folder / "runs" / "mnist" / "fast_v1" / "summary.json"
    assert summary.read_text() == race.first_summary  # not retrained
    row = rows_of(race.folder / "again.csv")[0]
    assert int(row["per_class"]) == 4 and int(row["images_seen"]) == json.loads(race.first_summary)["images_seen"]


@pytest.mark.slow
def test_resume_keeps_finished_legs_races_the_rest_and_refuses_to_drop_any(race):
    from benchmarks.race import earlier_rows_to_keep, finished_rows, main, markdown
    from benchmarks.report import describe_machine

    both = race("--resume", "--config", FAST, "--config", M1)
    assert "kept its row" in both.stdout
    summary = race.folder / "runs" / "mnist" / "fast_v1" / "summary.json"
    assert summary.read_text() == race.first_summary  # not retrained
    assert (race.folder / "runs" / "mnist" / "m1_v1" / "summary.json").is_file()
    legs = race.folder / "legs.csv"
    rows = rows_of(legs)
    assert [r["config"] for r in rows] == [FAST, M1]
    assert rows[0]["measured_utc"] == race.first_row["measured_utc"] and rows[0]["fd"] == race.first_row["fd"]

    same = argparse.Namespace(budget=1.0, per_class=3, backend=None, target=None, rerace=[])
    raced = table_with(markdown(list(finished_rows(legs, same).values()), describe_machine(), same), "config")
    assert M1 in raced["config"].tolist() and "measured (UTC)" in raced.columns
    assert list(finished_rows(legs, argparse.Namespace(**{**vars(same), "rerace": [M1]}))) == [FAST]

    # In-process from here: what follows is refused or kept before any training starts.
    before = legs.read_text()
    base = ["--budget", "1", "--per-class", "3", "--results", str(race.folder), "--name", "legs", "--no-readme"]
    for extra in (["--resume", "--budget", "2"], ["--resume", "--per-class", "4"], []):  # another race, or a new one
        with pytest.raises(SystemExit) as refused:
            main([*base, *extra, "--config", FAST])
        assert refused.value.code == 2 and legs.read_text() == before
    # resumed with fewer configs, the other legs' rows are written after the race's own
    fewer = argparse.Namespace(**{**vars(same), "resume": True, "rescore": False, "config": [M1]})
    assert [row["config"] for row in earlier_rows_to_keep(legs, fewer)] == [FAST]


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


def test_a_rerace_of_the_first_leg_keeps_the_rows_of_the_legs_after_it(tmp_path, monkeypatch):
    from benchmarks import race as race_module
    from benchmarks import report

    row = dict.fromkeys(race_module.COLUMNS, "")
    row.update(config=FAST, dataset="mnist", train_images=60000, backend="torch", budget_s=1.0, per_class=3,
               fd=2.0, measured_utc="2026-01-01T00:00+00:00")
    legs = tmp_path / "legs.csv"
    report.write_csv([row, dict(row, config=M1, fd=9.0)], legs, report.describe_machine(), 1.0,
                     columns=race_module.COLUMNS)
    monkeypatch.setattr(race_module, "race_one", lambda config, *_: dict(row, config=config, fd=1.5))
    assert race_module.main(["--budget", "1", "--per-class", "3", "--results", str(tmp_path), "--name", "legs",
                             "--runs", str(tmp_path / "runs"), "--no-readme", "--resume", "--rerace", FAST,
                             "--config", FAST, "--config", M1]) == 0
    assert [(r["config"], float(r["fd"])) for r in rows_of(legs)] == [(FAST, 1.5), (M1, 9.0)]


def test_table_only_renders_the_readme_block_from_the_csv(tmp_path):
    from benchmarks import report
    from benchmarks.race import COLUMNS, main

    row = dict.fromkeys(COLUMNS, "")
    row.update(config="configs/cifar10/fast32_v1.toml", cpu="Some CPU", dataset="cifar10", train_images=49059,
               backend="tensorflow", threads=2, budget_s=1200.0, train_wall_s=1207, images_seen=616516, img_per_s=511.0,
               epochs=12.57, label_accuracy=0.5419, fd=10.98, fd_floor=0.05, kid=0.69, precision=0.949, recall=0.652,
               density=0.963, coverage=0.618, per_class=1000, measured_utc="2026-01-02T07:41+00:00")
    other = dict(row, config="benchmarks/fast32_full/f_b64.toml", label_accuracy=0.6, fd=9.5)
    report.write_csv([row, other], tmp_path / "legs.csv", report.describe_machine(), 1.0, columns=COLUMNS)
    readme = tmp_path / "README.md"
    assert main(["--table-only", "--name", "legs", "--results", str(tmp_path), "--readme", str(readme)]) == 0
    text = readme.read_text()
    table = table_with(text, "config")
    assert table["config"].tolist() == [row["config"], other["config"]]
    assert table["label acc."].tolist() == ["0.542", "0.600"] and table["FD (floor)"].tolist()[1] == "9.50 (0.05)"
    assert "1200 s of training wall clock" in text and "1000 images per" in text
    front = tmp_path / "FRONT.md"
    front.write_text("# Front\n\n<!-- results:legs:start -->\nstale table\n<!-- results:legs:end -->\n\nrest\n")
    assert main(["--table-only", "--name", "legs", "--results", str(tmp_path), "--readme", str(readme),
                 "--front-page", str(front)]) == 0
    short = table_with(front.read_text(), "model")
    assert short["model"].tolist() == ["fast32_v1", "f_b64"]
    assert short["label acc."].tolist() == ["0.542", "**0.600**"] and short["FD"].tolist() == ["10.98", "**9.50**"]
    assert "stale table" not in front.read_text() and front.read_text().endswith("rest\n")
    assert "[README.md](README.md)" in front.read_text() and "20 minutes" in front.read_text()
    mixed = dict(other, config="x.toml", per_class=100)
    report.write_csv([row, mixed], tmp_path / "legs.csv", report.describe_machine(), 1.0, columns=COLUMNS)
    with pytest.raises(SystemExit):
        main(["--table-only", "--name", "legs", "--results", str(tmp_path), "--readme", str(readme)])
