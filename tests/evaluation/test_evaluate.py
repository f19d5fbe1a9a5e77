"""`cgan evaluate` on a copy of the shipped MNIST generator, the Inception skip path, and quality over training."""
import json
import shutil
import time

import numpy as np
import pandas as pd
import pytest

from cgan.errors import EvaluationError
from cgan.evaluation import inception
from cgan.generate import default_run

# The module fixture is expensive: under pytest-xdist (make test) these tests share one worker.
pytestmark = pytest.mark.xdist_group("evaluation/test_evaluate")

SHIPPED = default_run("mnist")


@pytest.fixture(scope="module")
def run_copy(tmp_path_factory):
    """Only summary.json and generator.keras: never write into resultados/ (the shipped run may be training)."""
    folder = tmp_path_factory.mktemp("shipped") / SHIPPED.name
    folder.mkdir()
    for name in ("summary.json", "generator.keras"):
        shutil.copy2(SHIPPED / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def evaluated(run_copy, data_dir):
    from tests.conftest import run_cli

    result = run_cli("evaluate", "--run", run_copy, "--per-class", 70, "--seed", 3, "--data-dir", data_dir,
                     "--no-inception")
    assert result.returncode == 0, result.stderr[-2000:]
    return result, json.loads((run_copy / "metrics.json").read_text())


@pytest.mark.slow
def test_evaluate_writes_complete_metrics(evaluated):
    _, metrics = evaluated
    assert metrics["run"] == SHIPPED.name  # the folder's name: a path would differ per machine
    assert metrics["samples"]["per_class"] == 70 and metrics["samples"]["generated"] == 700
    assert metrics["samples"]["seed"] == 3 and metrics["feature_space"]["feature_dim"] == 64
    # The real column is held-out test images, kept out of the 10,000-image test set's reference.
    assert metrics["samples"]["real_floor"] == 700 and metrics["samples"]["real_floor_source"].startswith("real held-out")
    assert metrics["samples"]["reference"] == "real test set without the held-out images, 9300 images"
    for column in ("generated", "real_floor"):
        scores = metrics[column]
        assert 0 <= scores["label_accuracy"] <= 1 and np.isfinite(scores["fd"])
        assert np.isfinite(scores["kid"]["mean"])
        assert set(scores["prdc"]) == {"precision", "recall", "density", "coverage", "k", "n"}
        assert scores["intra_class_fd"]["classes_scored"] == 10  # 70 per class > 64 dimensions
        assert len(scores["per_class_label_accuracy"]) == 10
    assert metrics["inception_fid"] == {"skipped": "turned off (--no-inception)"}
    assert metrics["generator"]["epochs_done"] >= 1


@pytest.mark.slow
def test_evaluate_prints_a_table_stating_n(evaluated):
    result, metrics = evaluated
    out = result.stdout
    for row in ("label accuracy", "FD", "KID", "precision", "recall", "density", "coverage", "intra-class FD",
                "Inception FID: skipped"):
        assert row in out, row
    assert "n = 70 per class × 10 classes = 700 generated" in out
    assert "700 real held-out images" in out and "real train" not in out
    assert f"{metrics['generated']['fd']:.3f}" in out


@pytest.mark.slow
def test_the_table_says_why_intra_class_fd_is_missing(evaluated):
    from cgan.evaluation.evaluate import format_table
    from cgan.evaluation.metrics import intra_class_fd

    _, metrics = evaluated
    rng = np.random.default_rng(0)  # 10 per class in 64 dimensions: too few
    small = intra_class_fd(rng.normal(size=(20, 64)), np.repeat([0, 1], 10), rng.normal(size=(200, 64)),
                           np.repeat([0, 1], 100))
    metrics["generated"]["intra_class_fd"] = metrics["real_floor"]["intra_class_fd"] = small
    table = format_table(metrics)
    assert "intra-class FD ↓ (mean)" in table and "n/a" in table and "needs more than 64 samples" in table


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--run", "/nonexistent/run"], "run folder not found"),
    (["--run", str(SHIPPED), "--per-class", "1"], "--per-class must be at least 2"),
    (["--run", "{copy}", "--inception-weights", "/nonexistent/w.h5"], "Inception weights file not found"),
])
def test_bad_evaluate_input_is_one_line_exit_2(cli, run_copy, args, message):
    args = [a.replace("{copy}", str(run_copy)) for a in args]
    result = cli("evaluate", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_inception_fid_is_skipped_quickly_without_weights(monkeypatch, tmp_path):
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty Keras cache
    started = time.perf_counter()
    weights, _ = inception.locate_weights()  # the real network probe, whatever its answer
    assert time.perf_counter() - started < inception.PROBE_SECONDS + 2
    monkeypatch.setattr(inception, "_host_answers", lambda host, timeout: False)  # offline, as here
    images = np.zeros((4, 28, 28, 1), dtype="uint8")
    result = inception.inception_fid(images, images)
    assert set(result) == {"skipped"} and "unreachable" in result["skipped"]


def test_inception_weights_from_the_environment_must_exist(monkeypatch):
    monkeypatch.setenv(inception.WEIGHTS_ENV, "/nonexistent/inception.h5")
    with pytest.raises(EvaluationError, match="missing file"):
        inception.locate_weights()


@pytest.mark.slow
def test_quality_over_training_lands_in_history_and_plot(cli, tmp_path, data_dir):
    out = tmp_path / "run"
    result = cli("train", "--config", "configs/mnist/m1_v1.toml", "--epochs", 2, "--subset", 128,
                 "--eval-samples", 50, "--quality-every", 2, "--out", out, "--data-dir", data_dir,
                 "--print-every", 0)
    assert result.returncode == 0, result.stderr[-2000:]
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [1, 2]
    for col in ("quality_label_accuracy", "quality_fd", "quality_fd_floor", "quality_kid", "quality_precision",
                "quality_recall", "quality_density", "quality_coverage"):
        assert np.isnan(history[col][0]) and np.isfinite(history[col][1]), col  # scored every 2nd epoch only
    assert (out / "plots" / "quality_per_epoch.png").is_file()
    assert (out / "plots" / "quality_per_minute.png").is_file()
    assert "quality_every = 2" in (out / "config.toml").read_text()


def test_training_minutes_count_every_part_of_an_epoch():
    import pandas as pd

    from cgan.plots import training_minutes

    frame = pd.DataFrame({"train_seconds": [60.0, 120.0], "eval_seconds": [30.0, 30.0],
                          "quality_seconds": [float("nan"), 60.0]})
    assert training_minutes(frame).tolist() == [1.5, 5.0]


def test_quality_config_fields_are_validated():
    import tomllib

    from cgan.config import load_config, parse_config
    from cgan.errors import ConfigError
    from tests.conftest import REPO

    path = REPO / "configs" / "mnist" / "m1_v1.toml"
    data = tomllib.loads(path.read_text())
    assert parse_config({k: v for k, v in data.items() if not k.startswith("quality")}).quality_every == 0  # off by default
    assert load_config(path).quality_every == 1  # the zoo configs ask for it
    with pytest.raises(ConfigError, match="quality_every"):
        parse_config({**data, "quality_every": -1})
    with pytest.raises(ConfigError, match="quality_per_class"):
        parse_config({**data, "quality_per_class": 1})
