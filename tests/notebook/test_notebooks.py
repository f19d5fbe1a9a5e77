"""Every notebook in EDA/ and notebooks/ runs top to bottom in test mode; committed ones carry no outputs.

Executed copies and everything the notebooks write go to pytest's temporary folders, never into the
repository or resultados/. Test mode: EDA on 1,000 images per split; training notebooks train one epoch on
64 images (m5, 48-58M parameters, is only built and summarised); generate.ipynb reads a copy of the shipped run.
The last cell of every training notebook also runs alone in a fresh kernel, as users run it.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the [notebooks] extra is not installed")

from cgan.generate import SHIPPED_RUNS
from cgan.data import IMAGE_SHAPES
from cgan.models import REGISTRY
from cgan.notebook.steps import RUNS_ENV
from cgan.notebook.widget import find_runs, trained_versions
from cgan.runs import RESULTS_ENV, results_root
from tests.generator_runs import copy_run, shipped_mnist
from tools.nbexec import execute, inject_parameters, parameters_cell_index

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "EDA").glob("*.ipynb")) + sorted((REPO / "notebooks").glob("*.ipynb"))
# The training notebooks are those the model modules declare (NOTEBOOKS), each opening a config that exists.
DECLARED = [(dataset, name, version) for name, spec in REGISTRY.items() for dataset, version in spec.notebooks.items()]
EXPECTED = ({f"eda_{dataset}" for dataset in IMAGE_SHAPES} | {"generate"}
            | {f"cgan_train_{name}_{dataset}" for dataset, name, _ in DECLARED})
TRAINING_PARAMETERS = {"DATASET", "MODEL", "VERSION", "EPOCHS", "SUBSET", "BATCH_SIZE", "OUTPUT_DIR", "TRAIN",
                       "TEST_MODE"}


def load_builder():
    from tools import build_notebooks

    return build_notebooks


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


@pytest.mark.slow
def test_every_expected_notebook_exists_and_matches_its_generator():
    assert {p.stem for p in NOTEBOOKS} == EXPECTED
    assert len(EXPECTED) == len(IMAGE_SHAPES) + 1 + len(DECLARED)  # two declarations of one notebook would shrink the set
    missing = [f"{d}/{n}_{v}" for d, n, v in DECLARED if not (REPO / "configs" / d / f"{n}_{v}.toml").is_file()]
    assert not missing, f"notebooks open configs that do not exist: {missing}"
    assert load_builder().main(["--check"]) == 0, "run python tools/build_notebooks.py"


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


def test_training_notebooks_state_the_train_rule_and_open_tensorboard():
    """A TensorBoard cell before training, train's own progress bar (no forced verbose=2), the rule."""
    for path, nb in load_builder().all_notebooks().items():
        if not path.stem.startswith("cgan_train_"):
            continue
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        board = next(i for i, source in enumerate(code) if "nb.tensorboard(RUN_DIR, TEST_MODE)" in source)
        assert "%load_ext tensorboard" in code[board] and "%tensorboard --logdir" in code[board]
        assert board < next(i for i, source in enumerate(code) if "nb.train_or_load(" in source)
        assert not any("verbose=2" in source for source in code), path.stem
        assert '`"resume"`' in nb.cells[parameters_cell_index(nb) - 1].source  # the rule, next to the parameters
        assert '"resume"' in nb.cells[parameters_cell_index(nb)].source


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


@pytest.mark.slow
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
        size = {"cgan_train_m5_cifar100": "57.8M", "cgan_train_m5_cifar10": "48.0M"}[name]  # v1 / v3 (README)
        assert f"test mode: not training a {size}-parameter model" in text_of(nb)
        assert "No generator to show" in str(data_of(nb, "text/plain")[-1])
    elif name.startswith("cgan_train_"):
        run = tmp_path / "run"
        summary = json.loads((run / "summary.json").read_text())
        assert summary["epochs_done"] == 1 and summary["status"] == "finished"
        assert f"training into {run}" in text_of(nb)
        assert f'TensorBoard (test mode): %load_ext tensorboard  then  %tensorboard --logdir "{run}/tensorboard"' \
            in text_of(nb)  # and no server
        bars = [text for text in data_of(nb, "text/plain") if "epoch 1/1" in text]
        assert len(bars) == 1 and "img/s" in bars[0], "one progress bar per epoch (tqdm's widget)"
        assert len(images) >= 4 and data_of(nb, "image/gif")  # plots, the last grid and the GIF
        widget = data_of(nb, "application/vnd.jupyter.widget-view+json")
        assert widget, "the last cell shows the widget"
    else:
        assert data_of(nb, "application/vnd.jupyter.widget-view+json")
        assert SHIPPED_RUNS["mnist"] in str(data_of(nb, "text/plain"))


# -- the last cell alone, and the backend choice ------------------------------------------------
TRAINING_NOTEBOOKS = [p for p in NOTEBOOKS if p.stem.startswith("cgan_train_")]


def parameter_values(nb) -> dict:
    values = {}
    exec(nb.cells[parameters_cell_index(nb)].source, values)  # the committed defaults: plain assignments
    return values


@pytest.fixture(scope="module")
def results_with_runs(tmp_path_factory):
    """A copy of every run folder in resultados/ that has a generator (the shipped ones among them)."""
    root = tmp_path_factory.mktemp("results_runs")
    for run in find_runs(results_root()).values():
        copy_run(run, root)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("path", TRAINING_NOTEBOOKS, ids=lambda p: p.stem)
def test_last_cell_alone_shows_this_notebooks_run(path, tmp_path, results_with_runs, monkeypatch):
    """In a fresh kernel, only the widget cell: this notebook's run, else another trained version of its model,
    else the shipped generator, saying so."""
    monkeypatch.setenv(RESULTS_ENV, str(results_with_runs))
    monkeypatch.delenv(RUNS_ENV, raising=False)
    values = parameter_values(nbformat.read(path, as_version=4))
    dataset, own = values["DATASET"], f"{values['DATASET']}/{values['MODEL']}_{values['VERSION']}"
    if path.stem == "cgan_train_m1_mnist":
        assert (results_with_runs / own / "generator.keras").is_file(), "resultados/ ships m1_v2's generator"
    nb = execute(path, cells=[-1], executed_copy=tmp_path / f"{path.stem}.last.ipynb", timeout=300)
    assert not outputs(nb, "error")
    shown = json.dumps(nb.metadata.get("widgets", {})) + str(data_of(nb, "text/plain"))  # widget state + repr
    shipped = SHIPPED_RUNS.get(dataset)
    versions = trained_versions(results_with_runs / own)
    if own in versions:
        assert f'"{own}"' in shown and "showing the shipped" not in shown and "another version" not in shown
    elif versions:  # the notebook's version lost its generator: another trained version of the model draws
        assert f"showing {next(iter(versions))}, another version of the same model" in shown
    elif shipped and (results_with_runs / shipped / "generator.keras").is_file():
        assert f'"{shipped}"' in shown and f": showing the shipped {shipped}" in shown
    else:
        assert "No generator to show" in shown


@pytest.mark.slow
def test_training_notebook_chooses_the_backend_like_the_cli(tmp_path, monkeypatch):
    """The notebook's setup cells pick the CLI's backend for its model and apply CGAN_PRECISION."""
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # the CPU rule, whatever this machine has
    monkeypatch.setenv("CGAN_PRECISION", "bf16")
    source = REPO / "notebooks" / "cgan_train_fast_mnist.ipynb"
    nb = nbformat.read(source, as_version=4)
    setup = next(i for i, cell in enumerate(nb.cells) if "configure_keras()" in cell.source)
    nb.cells = nb.cells[:setup + 1] + [nbformat.v4.new_code_cell(
        "import keras\nprint('PROBE', keras.backend.backend(), keras.mixed_precision.global_policy().name)")]
    probe = tmp_path / source.name
    nbformat.write(nb, probe)
    ran = execute(probe, {"OUTPUT_DIR": str(tmp_path / "run")}, timeout=300)
    line = next(line for line in text_of(ran).splitlines() if line.startswith("PROBE"))
    cli_choice = subprocess.run(
        [sys.executable, "-c", "from cgan.runtime import ensure_backend; print(ensure_backend(model='fast'))"],
        cwd=REPO, capture_output=True, text=True, timeout=60, env=dict(os.environ)).stdout.strip()
    assert line.split() == ["PROBE", cli_choice, "mixed_bfloat16"]
