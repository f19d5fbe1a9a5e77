"""Write the notebooks of EDA/ and notebooks/ from one template each (committed without outputs).

    python tools/build_notebooks.py            # rewrite the .ipynb files
    python tools/build_notebooks.py --check    # exit 1 if a committed notebook differs from what this writes
    python tools/build_notebooks.py --figures [--executed DIR]  # run the EDA notebooks on all data → EDA/figures/

The notebooks only call the package (cgan.notebook.eda, cgan.notebook.steps, cgan.notebook.widget); edit this file, not the
.ipynb files, and rerun it. Set GITHUB_REPO once the repository is published so the Colab links work; until
then the first cell's REPO_URL (a form field on Colab) says where to clone from, and a wrong one fails loudly.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cgan.models import REGISTRY
from cgan.reports.findings import FINDINGS, NOTEBOOK_FINDINGS

REPO = Path(__file__).resolve().parents[1]
GITHUB_REPO = "cgan-lab/cgan-lab"  # owner/name on GitHub: the Colab badge and the install cell's REPO_URL
# One training notebook per (dataset, model) that a model module lists in NOTEBOOKS, opening that config version.
TRAINING = [(dataset, name, version) for name, spec in REGISTRY.items() for dataset, version in spec.notebooks.items()]
DATASET_TITLES = {"mnist": "MNIST", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}


def colab_badge(relative: str) -> str:
    url = f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/main/{relative}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def colab_setup_code() -> str:
    """cgan/notebook/colab.py below its docstring: the setup that the first (and the last) cell carry, stdlib only."""
    source = (REPO / "cgan" / "notebook" / "colab.py").read_text()
    docstring_end = ast.parse(source).body[0].end_lineno
    return "\n".join(source.splitlines()[docstring_end:]).strip()


REPO_URL = f"https://github.com/{GITHUB_REPO}.git"
# Colab shows a `# @title … {display-mode: "form"}` cell as a form: the `# @param` lines become its fields.
INSTALL = f"""\
# @title Setup: on Colab, clone and install cgan-lab (elsewhere, check that it is installed) {{ display-mode: "form" }}
REPO_URL = "{REPO_URL}"  # @param {{type:"string"}}
USE_DRIVE = False  # @param {{type:"boolean"}}
# USE_DRIVE: mount Google Drive and keep run folders and the datasets cache in MyDrive/cgan-lab.
# Colab's TensorFlow, PyTorch and JAX are left as they are. A clone or install that fails raises.

{colab_setup_code()}


colab_install(REPO_URL, USE_DRIVE)"""


def widget_cell(dataset: str, model: str, version: str) -> str:
    """The last cell: works alone in a fresh kernel (the setup again, then this notebook's run folder)."""
    return f"""\
# @title Pick a label, get an image {{ display-mode: "form" }}
# This cell also works alone in a fresh kernel: it repeats the first cell's setup (on Colab: clone and
# install), then shows this notebook's run (else another trained version of its model, else the shipped one).
{colab_setup_code()}


colab_install(globals().get("REPO_URL", "{REPO_URL}"), globals().get("USE_DRIVE", False))

from cgan.notebook.steps import run_folder
from cgan.notebook.widget import label_picker

label_picker(globals().get("RUN_DIR") or run_folder("{dataset}", "{model}", "{version}"),
             globals().get("DATASET", "{dataset}"))"""


def notebook(cells) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata.update({"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                        "language_info": {"name": "python"}})
    for i, cell in enumerate(nb.cells):  # stable ids, so rebuilding gives identical files
        cell["id"] = f"cell-{i:02d}"
    return nb


def parameters(source: str):
    return new_code_cell(source, metadata={"tags": ["parameters"]})


# -- training notebooks -------------------------------------------------------
def versions_table(dataset: str, model: str) -> str:
    rows = []
    for path in sorted((REPO / "configs" / dataset).glob(f"{model}_v*.toml")):
        first = path.read_text().splitlines()[0].lstrip("# ")
        rows.append(f"| `{path.stem.split('_')[1]}` | {first} |")
    return "| version | config |\n| --- | --- |\n" + "\n".join(rows)


def _which(model: str) -> str:
    spec = REGISTRY[model]
    return f"the original project's `{model}`" if spec.original else f"`{model}`, {spec.summary},"


# The TRAIN rule of cgan.notebook.steps.train_decision, as each training notebook states it.
TRAIN_RULE = """\
**`TRAIN`** decides what the training cell does with the run folder:
- `"auto"` (the default): no generator yet → train, except in a run that came with the repository without its \
generator (git does not carry the large ones: set `OUTPUT_DIR` to train your own). A run of yours that was cut \
short (stopped with ■ or Ctrl-C, \
a time budget, or a kernel that died) with a checkpoint short of its epochs → resume it. Anything else → load it \
and show it: a finished run, a run without a checkpoint, and the runs that come with the repository in \
`resultados/`, even one stopped short of its epochs with its checkpoint. Opening a notebook never starts hours of \
training on a committed run; when one could go on, a line says so.
- `"resume"`: continue from the checkpoint when it has fewer epochs than planned (`EPOCHS`, or the config's), \
whoever made the run; else load it. This is how a committed run that stopped early is trained on.
- `"always"`: train (resuming a checkpoint of the same config; a finished run or a different config is refused).
- `"never"`: only load."""


def findings_cells(dataset: str, model: str) -> list:
    """The original project's findings for this notebook and a table of what our runs say."""
    keys = NOTEBOOK_FINDINGS.get((dataset, model), ())
    if not keys:
        return []
    quoted = "\n".join(f"> {FINDINGS[key]}" + ("\n>" if i < len(keys) - 1 else "") for i, key in enumerate(keys))
    return [
        new_markdown_cell(f"## Findings of the original project, checked on our runs\nThe original project wrote:"
                          f"\n\n{quoted}\n\nThe table checks each finding on the runs in `resultados/` (or "
                          "`$CGAN_RESULTS_DIR`), not on `OUTPUT_DIR`, with the numbers behind each verdict. D "
                          "overfitting is measured as D's accuracy on real training images pulling away from its "
                          "accuracy on real test images (`train_d_accuracy − test_d_accuracy`, the generated half "
                          "drawn alike). A run not trained yet, or too short to judge, says so."),
        new_code_cell(f"""\
from IPython.display import Markdown
from cgan.reports.findings import report

Markdown(report(("{dataset}", "{model}")))"""),
    ]


def training_notebook(dataset: str, model: str, version: str):
    name = f"cgan_train_{model}_{dataset}"
    title = DATASET_TITLES[dataset]
    return name, notebook([
        new_markdown_cell(f"# Conditional GAN {model} on {title}\n\n{colab_badge(f'notebooks/{name}.ipynb')}\n\n"
                          f"Trains {_which(model)} on {title} through the `cgan` package, or loads "
                          f"the run already in `resultados/{dataset}/`, then shows the architecture, the training "
                          f"plots, the evolution GIF and, in the last cell, a widget that generates an image for a "
                          f"label you pick.\n\nVersions available (`configs/{dataset}/`):\n\n"
                          f"{versions_table(dataset, model)}"),
        new_code_cell(INSTALL),
        new_markdown_cell("## Parameters\n" + TRAIN_RULE + "\n\n`TEST_MODE = True` is what CI runs: one epoch, "
                          "batch 64, on a stratified subset of about 64 images (at least one per class) into a "
                          "temporary folder. Models above 20M parameters (m5) are not trained in test mode, only "
                          "built and summarised."),
        parameters(f"""\
DATASET = "{dataset}"    # mnist, cifar10 or cifar100
MODEL = "{model}"         # m1, m3, m4, m5 (the original zoo), fast, fast32 or sngan
VERSION = "{version}"       # configs/<DATASET>/<MODEL>_<VERSION>.toml (see the table above)
EPOCHS = None         # None: the config's number of epochs
SUBSET = None         # None: the whole training split here; N: a stratified subset of N images
BATCH_SIZE = None     # None: the config's batch size
OUTPUT_DIR = None     # None: resultados/<DATASET>/<MODEL>_<VERSION>
TRAIN = "auto"        # "auto", "resume", "always" or "never": see the rule above
TEST_MODE = False     # True: fast smoke run (1 epoch, ~64 images, temporary folder)"""),
        new_code_cell("""\
from cgan.runtime import configure_keras, ensure_backend
ensure_backend(verbose=True, model=MODEL)  # the CLI's choice for this model; before keras is imported
configure_keras()  # CGAN_PRECISION and CGAN_DATA_PARALLEL, as for `cgan train`

from IPython.display import Image, Markdown, display
from cgan.notebook import steps as nb
from cgan.config import dump_config

cfg = nb.notebook_config(DATASET, MODEL, VERSION, EPOCHS, SUBSET, BATCH_SIZE, TEST_MODE)
RUN_DIR = nb.output_folder(cfg, OUTPUT_DIR, TEST_MODE)
print(f"run folder: {RUN_DIR}\\n")
print(dump_config(cfg))"""),
        new_markdown_cell("## Architecture of G and D"),
        new_code_cell("""\
generator, discriminator, params = nb.architecture(cfg)
generator.summary()
discriminator.summary()
params"""),
        new_markdown_cell("## Watch it in TensorBoard\nPer-step losses, D's metrics and the quality scores per "
                          "epoch, and the evolution grid, from `<run>/tensorboard/`. Started before training, it "
                          "shows the curves as they come (it refreshes every 30 s). In test mode it only prints the "
                          "two commands, so CI starts no server. Committed runs carry no TensorBoard logs: their "
                          "plots are below."),
        new_code_cell("""\
# %load_ext tensorboard
# %tensorboard --logdir <RUN_DIR>/tensorboard
nb.tensorboard(RUN_DIR, TEST_MODE)"""),
        new_markdown_cell("## Train (or load the existing run)\nA progress bar per epoch shows images/s, the "
                          "losses and the time left in the epoch and the run. Training writes the run folder after "
                          "every epoch (history, plots, evolution grid, generator, checkpoint). The stop button "
                          "(■, or Ctrl-C) ends it after the current step and keeps the last finished epoch; running "
                          "this cell again resumes from there, as the rule above says."),
        new_code_cell("""\
run = nb.train_or_load(cfg, RUN_DIR, TRAIN, TEST_MODE, int(params.loc["total", "parameters"]))
nb.run_overview(run)"""),
        new_markdown_cell("## Plots and the evolution GIF"),
        new_code_cell("""\
media = nb.run_media(run)
for caption, path in media:
    display(Markdown(f"**{caption}** (`{path.name}`)"), Image(filename=str(path)))
if not media:
    print(f"{run.path} has no plots yet")"""),
        *findings_cells(dataset, model),
        new_markdown_cell("## Pick a label, get an image\nUses this run's generator, with a dropdown over every "
                          "trained version of this model. A version whose generator is missing shows another "
                          "trained version, and a model never trained the dataset's shipped generator; a line says "
                          "so. This cell also works on its own, in a fresh kernel."),
        new_code_cell(widget_cell(dataset, model, version)),
    ])


def generate_notebook():
    return "generate", notebook([
        new_markdown_cell(f"# Generate an image for a label\n\n{colab_badge('notebooks/generate.ipynb')}\n\n"
                          "Pick a run (dataset and model), a label, a seed and how many images, then press "
                          "**Generate**. Every run folder under `resultados/` that holds a generator is listed. "
                          "Served as a local web page by\n\n"
                          "```\nvoila notebooks/generate.ipynb --Voila.ip=127.0.0.1 --port=8866 --no-browser\n```"),
        new_code_cell(INSTALL),
        parameters("""\
DATASET = None        # None: runs of every dataset; or mnist, cifar10, cifar100
RESULTS_DIR = None    # None: resultados/ (or $CGAN_RESULTS_DIR)"""),
        new_code_cell("""\
from cgan.notebook.widget import generator_app
generator_app(DATASET, RESULTS_DIR)"""),
    ])


# -- EDA notebooks ---------------------------------------------------------------
# Written after looking at the figures in EDA/figures/ (full data available here; numbers are from the
# notebooks' own tables: η² from class_separation, r from component_correlations). PCA signs are arbitrary,
# so the text speaks of "ends" of an axis.
EDA_FINDINGS = {
    "mnist": (
        "On all 60,000 training images the class explains a large share of both axes (η² 0.58 for PC1, 0.66 for "
        "PC2), far more than for CIFAR. PC1 is mostly the amount of ink (correlation with mean brightness "
        "r = 0.83): the 1s, with the least ink, form a compact cluster at one end and the 0s spread out at the "
        "other. PC2 sets 4, 7 and 9, which share a vertical stroke on the right and overlap almost completely, "
        "against 2, 3 and 1. 2, 3, 5, 6 and 8 pile up in the middle: two linear components separate a few "
        "digits but not all ten, in line with the ~87 components that 90 % of the variance needs."),
    "cifar10": (
        "On all 49,059 images of the full recovered training set the classes overlap almost completely: the "
        "class explains only 12 % of PC1 and 14 % of PC2 (η² 0.12 and 0.14), as on the 11,500-image subset "
        "the first figures were drawn from. PC1 is the overall brightness of the image (r = 0.97 with mean "
        "brightness) and PC2 is mostly top-versus-bottom brightness (r = -0.89), so the axes describe lighting "
        "and background, not objects. The only visible structure is in the centroids: airplane, ship and truck "
        "(bright sky or water) sit at one end of PC1, frog, deer and dog at the other; truck, ship and "
        "automobile at one end of PC2, dog, cat and deer at the other."),
    "cifar100": (
        "On the 12,000-image training subset PC1 is again overall brightness (r = 0.99) and PC2 top-versus-"
        "bottom brightness (r = 0.96). Fine classes explain 17 % of PC1 and 23 % of PC2 (η²), superclasses "
        "only 7 % and 16 %: the 100 classes are a cloud with no visible clusters. The extremes are background "
        "effects: chair and cockroach at the bright end (over half of their images here have a near-white border, "
        "against 7 % of all images), aquarium_fish and shark at the dark "
        "end, plain, mountain and castle (sky above, ground below) at one end of PC2. By superclass, "
        "household furniture and electrical devices lie at the bright end, flowers and medium mammals at the "
        "dark end, and large natural outdoor scenes, trees and large man-made outdoor things at the sky end "
        "of PC2."),
}


def eda_notebook(dataset: str):
    title = DATASET_TITLES[dataset]
    name = f"eda_{dataset}"
    subset_note = {
        "mnist": "",
        "cifar10": ("\n\n**The CIFAR-10 training split here is the full recovered set**: 49,059 of the 50,000 "
                    "official images (905 ships and 36 others could not be recovered); the test split is complete."),
        "cifar100": ("\n\n**The CIFAR-100 training split here is a stratified subset** (12,000 images, 120 per "
                     "class; the test split is complete): every figure of the training split says so."),
    }[dataset]
    cells = [
        new_markdown_cell(f"# Exploratory analysis of {title}\n\n{colab_badge(f'EDA/{name}.ipynb')}\n\n"
                          f"The images as a pandas table, the label distribution, sample images, pixel intensities "
                          f"and a PCA. All logic lives in `cgan.notebook.eda`; figures are saved to `EDA/figures/`."
                          f"{subset_note}"),
        new_code_cell(INSTALL),
        parameters(f"""\
DATASET = "{dataset}"
SAMPLE = None            # None: every training image available; N: a stratified sample of N images
FIGURES_DIR = "figures"  # relative to EDA/
TEST_MODE = False        # True: 1,000 images per split, figures in a temporary folder (what CI runs)"""),
        new_code_cell("""\
import tempfile
from IPython.display import Image, display
from cgan.notebook import eda

if TEST_MODE:  # a small sample, and the committed figures stay untouched
    SAMPLE = SAMPLE or 1000
    FIGURES_DIR = tempfile.mkdtemp(prefix="cgan_eda_") if FIGURES_DIR == "figures" else FIGURES_DIR

def show(fig, name):
    \"\"\"Save the figure as FIGURES_DIR/<dataset>_<name>.png and display that file.\"\"\"
    display(Image(filename=str(eda.save_figure(fig, FIGURES_DIR, f"{DATASET}_{name}"))))

train = eda.load_images(DATASET, "train", sample=SAMPLE)
test = eda.load_images(DATASET, "test", sample=SAMPLE)
print(f"train: {len(train)} images{' (a subset)' if train.is_subset else ''}; test: {len(test)} images")"""),
        new_markdown_cell("## The images as a DataFrame\nOne row per image, one column per pixel value and one "
                          "for the label."),
        new_code_cell("frame = eda.images_frame(train)\nprint(frame.shape)\nframe.head()"),
        new_code_cell("frame.info()"),
        new_code_cell("frame.describe()"),
        new_code_cell("eda.frame_overview(frame).T"),
        new_markdown_cell("How the per-pixel statistics spread over the pixel columns, and each channel's mean and "
                          "standard deviation on the [0, 1] scale:"),
        new_code_cell("display(eda.pixel_summary(frame))\neda.channel_statistics(train.x)"),
        new_markdown_cell("## Label distribution"),
        new_code_cell(f"""\
labels = eda.label_table(train, test)
show(eda.label_histogram(labels, f"{title}: share of each class ({{train.caption}}; test)"), "labels")
labels"""),
        new_markdown_cell("## Sample images per class"),
        new_code_cell("show(eda.sample_images(train, per_class=10), \"samples\")"),
        new_markdown_cell("## Pixel intensities" + (" per channel" if dataset != "mnist" else "")),
        new_code_cell(f"show(eda.intensity_histograms(train.x, f\"{title} pixel values ({{train.caption}})\"), "
                      "\"intensity\")"),
        new_markdown_cell("## PCA\nscikit-learn PCA with all components, on pixel values scaled to [0, 1] "
                          "(centred, not standardised)."),
        new_code_cell("""\
pca = eda.fit_pca(train)
needed = eda.components_needed(pca)
needed.to_csv(f"{FIGURES_DIR}/{DATASET}_pca_components.csv")
needed"""),
        new_code_cell("""\
claim = eda.claim_check(pca, DATASET)
if claim is not None:
    print(eda.claim_sentence(pca, DATASET))
    display(claim)
show(eda.cumulative_variance_figure(pca, f"TITLE: cumulative explained variance ({train.caption})",
                                    eda.ORIGINAL_PCA_CLAIMS.get(DATASET, (None,))[0]), "pca_variance")""".replace(
            "TITLE", title)),
        new_code_cell(f"""\
points = eda.project(pca, train)
show(eda.pca_scatter(points, train.y, train.names, f"{title}: first two principal components ({{train.caption}})"),
     "pca_scatter")
display(eda.class_separation(points, train.y).to_frame().T)  # η²: share of each axis explained by the class
display(eda.extreme_classes(points, train.y, train.names))  # classes whose centroids sit at the ends of each axis
eda.component_correlations(points, train)  # what the two axes measure"""),
    ]
    if dataset == "cifar100":
        cells.append(new_code_cell("""\
show(eda.pca_scatter(points, train.coarse_y, train.coarse_names,
                     "CIFAR-100: first two principal components by superclass"), "pca_scatter_superclass")
display(eda.class_separation(points, train.coarse_y).to_frame().T)
eda.extreme_classes(points, train.coarse_y, train.coarse_names)"""))
    cells.append(new_markdown_cell("### What the scatter shows\n" + EDA_FINDINGS[dataset]))
    return name, notebook(cells)


# -- the command -----------------------------------------------------------------
def all_notebooks() -> dict[Path, nbformat.NotebookNode]:
    built = {}
    for dataset in DATASET_TITLES:
        name, nb = eda_notebook(dataset)
        built[REPO / "EDA" / f"{name}.ipynb"] = nb
    for spec in TRAINING:
        name, nb = training_notebook(*spec)
        built[REPO / "notebooks" / f"{name}.ipynb"] = nb
    name, nb = generate_notebook()
    built[REPO / "notebooks" / f"{name}.ipynb"] = nb
    return built


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the committed notebooks")
    parser.add_argument("--figures", action="store_true", help="execute the EDA notebooks into EDA/figures/")
    parser.add_argument("--executed", help="with --figures: also keep the executed notebooks in this folder")
    args = parser.parse_args(argv)
    stale = []
    for path, nb in all_notebooks().items():
        text = nbformat.writes(nb) + "\n"
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(path.relative_to(REPO))
        else:
            path.write_text(text)
    if stale:
        print("out of date (run python tools/build_notebooks.py): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    if args.figures:
        from tools.nbexec import execute

        for dataset in DATASET_TITLES:
            print(f"executing EDA/eda_{dataset}.ipynb on all data …", flush=True)
            copy = Path(args.executed) / f"eda_{dataset}.ipynb" if args.executed else None
            execute(REPO / "EDA" / f"eda_{dataset}.ipynb", executed_copy=copy, timeout=1800)
    return 0


if __name__ == "__main__":
    sys.exit(main())
