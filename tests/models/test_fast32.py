"""The fast32 CIFAR model (cgan/models/fast32.py): any shape and class count, each option, a real-data run."""
import json
import tomllib
from pathlib import Path

import keras
import numpy as np
import pytest

from cgan.config import ModelOptions, parse_config
from cgan.models import build_models
from model_checks import check_builds, check_label_reaches_g_and_d

REPO = Path(__file__).resolve().parents[2]
TINY = dict(g_filters=[16, 8], d_filters=[8, 16])
LATENT = 16


@pytest.mark.parametrize("shape, classes", [((32, 32, 3), 10), ((32, 32, 3), 100), ((28, 28, 1), 10),
                                            ((24, 24, 3), 7)])
@pytest.mark.parametrize("conditioning", ["cbn", "concat"])
def test_any_shape_and_class_count(shape, classes, conditioning):
    options = ModelOptions(**TINY, g_conditioning=conditioning, d_label_input=conditioning == "concat")
    check_builds("fast32", shape, classes, LATENT, options, "score")


def test_shipped_widths_and_a_size_that_does_not_divide():
    g, d = build_models("fast32", (32, 32, 3), 10, 128)
    assert g.get_layer("start_map").output.shape[1:] == (4, 4, 128)
    assert [layer.filters for layer in d.layers if isinstance(layer, keras.layers.Conv2D)] == [32, 64, 128]
    with pytest.raises(ValueError, match="not divisible"):
        build_models("fast32", (28, 28, 1), 10, LATENT, ModelOptions(g_filters=[16, 8, 4]))


@pytest.mark.parametrize("conditioning", ["cbn", "concat"])
def test_the_label_reaches_g_and_the_projection_reaches_d(conditioning):
    g, d = build_models("fast32", (32, 32, 3), 10, LATENT, ModelOptions(**TINY, g_conditioning=conditioning))
    check_label_reaches_g_and_d(g, d, LATENT)


def test_d_label_input_adds_the_original_zoos_label_channel():
    _, plain = build_models("fast32", (32, 32, 3), 10, LATENT, ModelOptions(**TINY))
    _, early = build_models("fast32", (32, 32, 3), 10, LATENT, ModelOptions(**TINY, d_label_input=True))
    assert early.get_layer("d_concat").output.shape[-1] == 4
    with pytest.raises(ValueError):
        plain.get_layer("d_concat")


@pytest.mark.slow
def test_one_real_data_training_run(tmp_path, data_dir):
    """The shipped CIFAR-10 config at tiny widths, one epoch on 100 real images, scored by the quality monitor."""
    from cgan.generate import Generator
    from cgan.training.train import train

    data = tomllib.loads((REPO / "configs/cifar10/fast32_v1.toml").read_text())
    data["model_options"].update(TINY)
    data.update(batch_size=16, latent_dim=LATENT, subset=100, epochs=1, eval_samples=10, quality_every=1,
                quality_per_class=2)
    run = train(parse_config(data), out=tmp_path / "fast32_tiny", data_dir=data_dir, verbose=0)
    summary = json.loads(run.summary.read_text())
    assert summary["status"] == "finished" and summary["model"] == "fast32" and summary["epochs_done"] == 1
    images, labels = Generator.from_run(run.path).generate([0, 9], n=2, seed=0)
    assert images.shape == (4, 32, 32, 3) and list(labels) == [0, 0, 9, 9]
    assert "quality_label_accuracy" in (run.path / "history.csv").read_text()



SHIPPED_CIFAR = [d for d in ("cifar10", "cifar100") if d in __import__("cgan.generate").generate.SHIPPED_RUNS]


@pytest.mark.slow
@pytest.mark.parametrize("dataset", SHIPPED_CIFAR)
def test_the_shipped_cifar_generator_loads_and_draws_the_asked_labels(cli, tmp_path, dataset):
    """`cgan generate --dataset <cifar> --label all` on a fresh clone: one image per class, labels in order."""
    from cgan.data import label_names
    from cgan.generate import Generator

    classes = len(label_names(dataset))
    out = tmp_path / "all.npz"
    result = cli("generate", "--dataset", dataset, "--label", "all", "--n", 2, "--seed", 0, "--out", out)
    assert result.returncode == 0, result.stderr
    with np.load(out, allow_pickle=False) as saved:
        assert saved["x"].shape == (2 * classes, 32, 32, 3) and saved["x"].dtype == np.uint8
        assert saved["y"].tolist() == [c for c in range(classes) for _ in range(2)]
        assert saved["x"].std() > 5, "a trained generator does not draw flat images"
    images, labels = Generator.default(dataset).generate([3], n=2, seed=0)  # through Keras as well
    assert images.shape == (2, 32, 32, 3) and labels.tolist() == [3, 3]
