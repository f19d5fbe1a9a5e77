"""One real epoch on a small MNIST subset, through the CLI, then a fresh-process round trip."""
import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import assert_same_pixels_across_processes

# The module fixture is expensive: under pytest-xdist (make test) these tests share one worker.
pytestmark = pytest.mark.xdist_group("training/test_train")

EXPECTED = ["config.toml", "history.csv", "iterations.csv", "summary.json", "generator.keras", "generator.h5",
            "evolution.gif", "evolution/epoch_001.png", "plots/loss_per_iteration.png",
            "plots/loss_per_epoch.png", "plots/d_metrics_per_epoch.png", "checkpoint/state.json"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, data_dir):
    from tests.conftest import run_cli

    out = tmp_path_factory.mktemp("run") / "m1_tiny"
    result = run_cli("train", "--config", "configs/mnist/m1_v1.toml", "--epochs", 1, "--subset", 640,
                     "--eval-samples", 100, "--out", out, "--data-dir", data_dir, "--print-every", 0)
    assert result.returncode == 0, result.stderr[-2000:]
    return out


@pytest.mark.slow
def test_run_folder_is_complete(trained_run):
    for name in EXPECTED:
        assert (trained_run / name).is_file(), name
    history = pd.read_csv(trained_run / "history.csv")
    assert history["epoch"].tolist() == [1]
    for col in ("d_loss", "g_loss", "val_d_loss", "val_g_loss", "train_seconds", "eval_seconds",
                *(f"{s}_d_{m}" for s in ("train", "test") for m in ("accuracy", "precision", "recall", "f1"))):
        assert col in history and np.isfinite(history[col]).all(), col
    iterations = pd.read_csv(trained_run / "iterations.csv")
    assert len(iterations) == 640 // 128 and iterations["step"].tolist() == [1, 2, 3, 4, 5]
    # six significant digits at most (a long run's file stays small), and no value lost to the rounding
    assert all(len(v.replace(".", "").lstrip("-0")) <= 6 for v in (trained_run / "iterations.csv").read_text()
               .splitlines()[1].split(",")[2:])
    assert iterations[["d_loss", "g_loss"]].notna().all().all()
    summary = json.loads((trained_run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs_done"] == 1
    assert summary["data"]["train_images"] == 640 and summary["eval_samples"] == 100
    assert summary["params"]["total"] == summary["params"]["generator"] + summary["params"]["discriminator"]
    assert summary["environment"]["backend"] in ("tensorflow", "torch", "jax")


@pytest.mark.slow
def test_generator_reloads_identically_in_a_fresh_process(trained_run, tmp_path, cli):
    from cgan.generate import Generator, load_generator

    here = Generator.from_run(trained_run)
    images, labels = here.generate([0, 7], n=3, seed=11)
    result = cli("generate", "--run", trained_run, "--label", "0,7", "--n", 3, "--seed", 11,
                 "--out", tmp_path / "s.npz")
    assert result.returncode == 0, result.stderr[-2000:]
    with np.load(tmp_path / "s.npz", allow_pickle=False) as saved:
        assert_same_pixels_across_processes(saved["x"], images)
        np.testing.assert_array_equal(saved["y"], labels)
    # The legacy .h5 copy gives the same pixels as the .keras file.
    h5 = Generator(load_generator(trained_run / "generator.h5"), here.label_names, here.latent_dim, "mnist",
                   trained_run)
    np.testing.assert_array_equal(h5.generate([0, 7], n=3, seed=11)[0], images)


@pytest.mark.slow
def test_training_into_a_finished_run_needs_overwrite(trained_run, cli, data_dir):
    result = cli("train", "--config", "configs/mnist/m1_v1.toml", "--epochs", 1, "--subset", 640,
                 "--eval-samples", 100, "--out", trained_run, "--data-dir", data_dir)
    assert result.returncode == 2
    assert "already holds a finished run" in result.stderr and "Traceback" not in result.stderr
