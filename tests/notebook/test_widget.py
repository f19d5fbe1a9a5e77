"""The pick-a-label widget: the pure callback, and the ipywidgets UI clicked headlessly."""
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("ipywidgets", reason="the [notebooks] extra is not installed")

from cgan.errors import LabelError, RunError
from cgan.generate import SHIPPED_RUNS, Generator
from cgan.notebook.widget import (GeneratorWidget, generator_app, generator_for_run, label_options, label_picker,
                                  render_png, trained_versions)
from cgan.runs import RESULTS_ENV
from tests.generator_runs import copy_run, shipped_mnist, untrained_run

# The module fixture is expensive: under pytest-xdist (make test) these tests share one worker.
pytestmark = pytest.mark.xdist_group("notebook/test_widget")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results root holding a copy of the shipped MNIST run and an untrained CIFAR-10 generator."""
    root = tmp_path_factory.mktemp("results")
    return root, shipped_mnist(root), untrained_run(root)


@pytest.fixture
def use_results(results, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(results[0]))
    return results


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def test_label_options_show_index_and_name():
    assert label_options(["airplane", "cat"]) == [("0: airplane", 0), ("1: cat", 1)]


def test_render_png_is_reproducible_and_depends_on_label_seed_and_count(results):
    root, mnist, _ = results
    generator = Generator.from_run(root / mnist)
    seven = render_png(generator, 7, count=1, seed=3)
    assert seven == render_png(generator, 7, count=1, seed=3)
    image = pixels(seven)
    assert image.shape == (28 * 4, 28 * 4) and image.std() > 10  # a real image, not a blank
    assert seven != render_png(generator, 1, count=1, seed=3)
    assert seven != render_png(generator, 7, count=1, seed=4)
    assert pixels(render_png(generator, 7, count=10, seed=3)).shape[:2] == (2 * (28 + 2) * 4 + 2 * 4,
                                                                           8 * (28 + 2) * 4 + 2 * 4)


def test_render_png_rejects_bad_label_and_count(results):
    generator = Generator.from_run(results[0] / results[1])
    with pytest.raises(LabelError, match="out of range"):
        render_png(generator, 10)
    with pytest.raises(ValueError, match="count must be between"):
        render_png(generator, 1, count=0)


def test_clicking_generate_shows_the_chosen_label(use_results):
    root, mnist, _ = use_results
    app = generator_app()
    assert isinstance(app, GeneratorWidget) and app.run.value == mnist  # the shipped run comes first
    app.label.value, app.seed.value, app.count.value = 7, 5, 2
    app.button.click()
    seven = app.image.value
    assert seven == render_png(Generator.from_run(root / mnist), 7, 2, 5)
    assert "label 7" in app.status.value
    app.label.value = 3
    app.button.click()
    assert app.image.value != seven and "label 3" in app.status.value


def test_switching_run_reloads_labels(use_results):
    _, _, cifar = use_results
    app = generator_app()
    app.run.value = cifar
    assert app.label.options[3] == ("3: cat", 3)
    app.label.value, app.count.value = 3, 1
    app.button.click()
    assert pixels(app.image.value).shape == (32 * 4, 32 * 4, 3) and "<b>cat</b>" in app.status.value


def test_app_can_be_limited_to_one_dataset(use_results):
    assert list(generator_app("cifar10").runs) == [use_results[2]]
    assert "No generator found" in generator_app("cifar100").value


def test_picker_uses_the_run_else_the_shipped_generator(use_results, tmp_path, monkeypatch):
    root, _mnist, cifar = use_results
    own = label_picker(root / cifar, "cifar10")
    assert own.status.value == "" and own.generator.dataset == "cifar10"
    fallback = label_picker(tmp_path / "empty_run", "mnist")  # a run that has not trained yet
    assert f"has no generator yet: showing the shipped {SHIPPED_RUNS['mnist']}" in fallback.status.value
    (tmp_path / "cloned_run").mkdir()  # a trained run whose generator git does not carry (m3, m4, m5)
    shutil.copy(root / cifar / "summary.json", tmp_path / "cloned_run")
    cloned = label_picker(tmp_path / "cloned_run", "mnist")
    assert "holds no generator (training the run makes it): showing the shipped" in cloned.status.value
    fallback.button.click()
    assert pixels(fallback.image.value).std() > 10
    monkeypatch.delitem(SHIPPED_RUNS, "cifar100", raising=False)  # a dataset with no shipped generator
    nothing = label_picker(tmp_path / "empty_run", "cifar100")
    assert "has no shipped one" in nothing.value


def test_picker_draws_with_a_run_that_carries_only_its_onnx_file(use_results, tmp_path):
    """The zoo's large generators come as generator.onnx alone: the last cell draws with it, not the fallback."""
    shipped = Path(__file__).resolve().parents[2] / "resultados" / SHIPPED_RUNS["mnist"]
    onnx_only = tmp_path / "onnx_only"
    onnx_only.mkdir()
    for name in ("summary.json", "generator.onnx"):
        shutil.copy(shipped / name, onnx_only)
    picker = label_picker(onnx_only, "mnist")
    assert picker.status.value == "" and picker.generator.source.startswith("generator.onnx")
    picker.button.click()
    assert pixels(picker.image.value).std() > 10


def test_picker_offers_every_trained_version_and_falls_back_to_another_version(results, tmp_path):
    """A notebook's version whose generator this copy lacks draws with another trained version of its model, not
    the shipped generator; where several versions are trained, a dropdown offers them, the notebook's first."""
    root, mnist, _ = results
    for version in ("v1", "v2"):
        copy_run(root / mnist, tmp_path, key=f"mnist/m1_{version}")
    lost = tmp_path / "mnist" / "m1_v3"  # trained once, its generator not in this copy
    lost.mkdir()
    shutil.copy(root / mnist / "summary.json", lost)
    (tmp_path / "mnist" / "m1_v4").mkdir()  # never trained
    (tmp_path / "mnist" / "m1_v1_old").mkdir()  # not a version folder
    assert list(trained_versions(lost)) == ["mnist/m1_v1", "mnist/m1_v2"]
    assert trained_versions(tmp_path / "cgan_mnist_m1_v1_x8z") == {}  # a test-mode folder has no versions

    picker = label_picker(lost, "mnist")
    assert "holds no generator (training the run makes it): showing mnist/m1_v1, another version" in picker.status.value
    assert picker.run.options == ("mnist/m1_v1", "mnist/m1_v2") and picker.run.layout.display != "none"
    picker.button.click()
    assert pixels(picker.image.value).std() > 10
    untrained = label_picker(tmp_path / "mnist" / "m1_v4", "mnist")
    assert "has no generator yet: showing mnist/m1_v1, another version" in untrained.status.value
    own = label_picker(tmp_path / "mnist" / "m1_v2", "mnist")
    assert own.status.value == "" and own.run.options == ("mnist/m1_v2", "mnist/m1_v1")
    own.run.value = "mnist/m1_v1"
    own.button.click()
    assert "from <code>mnist/m1_v1</code>" in own.status.value


def test_generator_for_run_without_any_generator_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delitem(SHIPPED_RUNS, "cifar100", raising=False)  # a dataset with no shipped generator
    with pytest.raises(RunError, match="train the run first"):
        generator_for_run(tmp_path, "cifar100")


def test_errors_go_to_the_status_line(use_results):
    app = generator_app()
    app.count.value = 1
    app.label.value = 2
    app._cache[app.run.value] = Generator(app.generator.model, ("only",), app.generator.latent_dim, "mnist",
                                          app.generator.run)  # a generator whose names no longer fit the label
    assert app.generate() == b"" and "out of range" in app.status.value


def test_a_broken_run_is_reported_on_the_page(results, tmp_path, monkeypatch):
    root, mnist, _ = results
    broken = tmp_path / "mnist" / "m1_broken"
    broken.mkdir(parents=True)
    (broken / "summary.json").write_text((root / mnist / "summary.json").read_text())
    (broken / "generator.keras").write_bytes(b"not a keras file")
    (tmp_path / SHIPPED_RUNS["mnist"]).symlink_to(root / mnist)
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    app = generator_app()
    app.run.value = "mnist/m1_broken"  # the callback must not raise: in Voilà that would be a silent failure
    assert "error" in app.status.value and "cannot" in app.status.value and app.label.options == ()
    assert app.generate() == b"" and "error" in app.status.value
