"""Every notebook in EDA/ and notebooks/ runs top to bottom in test mode; committed ones carry no outputs.

Executed copies and everything the notebooks write go to pytest's temporary folders, never into the
repository or resultados/. Test mode: EDA on 1,000 images per split; training notebooks train one epoch on
64 images (m5, 57.8M parameters, is only built and summarised); generate.ipynb reads a copy of the shipped run.
"""
import importlib.util
import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="requirements-notebooks.txt is not installed")

from cgan.generate import SHIPPED_RUNS
from cgan.nbexec import execute, inject_parameters, parameters_cell_index
from cgan.runs import RESULTS_ENV
from tests.generator_runs import shipped_mnist

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "EDA").glob("*.ipynb")) + sorted((REPO / "notebooks").glob("*.ipynb"))
EXPECTED = {"eda_mnist", "eda_cifar10", "eda_cifar100", "cgan_train_m1_mnist", "cgan_train_m3_mnist",
            "cgan_train_m3_cifar100", "cgan_train_m4_cifar100", "cgan_train_m5_cifar100",
            "cgan_train_m5_cifar10", "cgan_train_fast_mnist", "cgan_train_sngan_cifar10", "generate"}
TRAINING_PARAMETERS = {"DATASET", "MODEL", "VERSION", "EPOCHS", "SUBSET", "BATCH_SIZE", "OUTPUT_DIR", "TRAIN",
                       "TEST_MODE"}


def load_builder():
    spec = importlib.util.spec_from_file_location("notebook_builder", REPO / "notebooks" / "_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parameter_names(nb) -> set[str]:
    source = nb.cells[parameters_cell_index(nb)].source
    return {line.split("=")[0].strip() for line in source.splitlines() if "=" in line and not line.startswith("#")}


def outputs(nb, kind=None) -> list:
    found = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    return [o for o in found if kind is None or o.output_type == kind]


def text_of(nb) -> str:
    return "".join(o.get("text", "") for o in outputs(nb, "stream"))


def data_of(nb, mime) -> list:
    return [o.data[mime] for o in outputs(nb) if mime in o.get("data", {})]


def test_every_expected_notebook_exists_and_matches_its_generator():
    assert {p.stem for p in NOTEBOOKS} == EXPECTED
    assert load_builder().main(["--check"]) == 0, "run python notebooks/_build.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip the outputs"
    assert "google.colab" in code[0].source and "colab.research.google.com" in nb.cells[0].source
    names = parameter_names(nb)
    if path.stem.startswith("cgan_train_"):
        assert TRAINING_PARAMETERS <= names
        assert "label_picker" in code[-1].source  # ends with the interactive cell
    elif path.stem.startswith("eda_"):
        assert {"DATASET", "SAMPLE", "FIGURES_DIR", "TEST_MODE"} <= names
    else:
        assert {"DATASET", "RESULTS_DIR"} <= names and "generator_app" in code[-1].source


def test_injected_parameters_follow_the_parameters_cell():
    nb = nbformat.read(REPO / "notebooks" / "generate.ipynb", as_version=4)
    injected = inject_parameters(nb, {"DATASET": "mnist"})
    index = parameters_cell_index(nb)
    assert injected.cells[index + 1].source.endswith("DATASET = 'mnist'\n")
    assert len(injected.cells) == len(nb.cells) + 1 and len(nb.cells) == len(injected.cells) - 1


@pytest.fixture(scope="module")
def results_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    shipped_mnist(root)
    return root


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_in_test_mode(path, tmp_path, results_copy, monkeypatch, data_dir):
    monkeypatch.setenv(RESULTS_ENV, str(results_copy))  # the kernel inherits it: resultados/ is never touched
    name = path.stem
    params = {"TEST_MODE": True}
    if name.startswith("eda_"):
        params["FIGURES_DIR"] = str(tmp_path / "figures")
    elif name.startswith("cgan_train_"):
        params["OUTPUT_DIR"] = str(tmp_path / "run")
    else:
        params = {}
    nb = execute(path, params, executed_copy=tmp_path / f"{name}.executed.ipynb", timeout=600)
    assert not outputs(nb, "error")
    images = data_of(nb, "image/png")
    if name.startswith("eda_"):
        dataset = name.removeprefix("eda_")
        figures = {p.name for p in (tmp_path / "figures").iterdir()}
        expected = {f"{dataset}_{f}.png" for f in ("labels", "samples", "intensity", "pca_variance", "pca_scatter")}
        assert expected <= figures and f"{dataset}_pca_components.csv" in figures
        assert (f"{dataset}_pca_scatter_superclass.png" in figures) == (dataset == "cifar100")
        assert len(images) == len(figures) - 1
        assert ("measured here" in text_of(nb)) == (dataset != "cifar100")  # the original claims: MNIST, CIFAR-10
    elif name.startswith("cgan_train_m5"):
        assert "test mode: not training a 57.8M-parameter model" in text_of(nb)
        assert "No generator to show" in str(data_of(nb, "text/plain")[-1])
    elif name.startswith("cgan_train_"):
        run = tmp_path / "run"
        summary = json.loads((run / "summary.json").read_text())
        assert summary["epochs_done"] == 1 and summary["status"] == "finished"
        assert f"training into {run}" in text_of(nb)
        assert len(images) >= 4 and data_of(nb, "image/gif")  # plots, the last grid and the GIF
        widget = data_of(nb, "application/vnd.jupyter.widget-view+json")
        assert widget, "the last cell shows the widget"
    else:
        assert data_of(nb, "application/vnd.jupyter.widget-view+json")
        assert SHIPPED_RUNS["mnist"] in str(data_of(nb, "text/plain"))
