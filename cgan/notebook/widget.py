"""The pick-a-label widget: choose a class, a seed and a count, press Generate, see the images.

`render_png` is the pure callback (generator, label, count, seed → PNG bytes) that tests call directly;
`GeneratorWidget` wires it to ipywidgets controls. The same widget ends every training notebook
(`label_picker`, one run) and is the whole of notebooks/generate.ipynb and its Voilà page
(`generator_app`, a dropdown over every run that has a generator).
"""
from __future__ import annotations

import io
import re
from pathlib import Path

from cgan.errors import LabelError, RunError
from cgan.generate import SHIPPED_RUNS, Generator
from cgan.onnx import open_generator
from cgan.runs import RunFolder, results_root
from cgan.runtime import ensure_backend

MAX_COUNT = 32
PER_ROW = 8


def label_options(names) -> list[tuple[str, int]]:
    """Dropdown entries 'index: name' → index (MNIST reads '7: 7', CIFAR-10 '3: cat')."""
    return [(f"{i}: {name}", i) for i, name in enumerate(names)]


def render_png(generator: Generator, label: int, count: int = 1, seed: int | None = 0, scale: int = 4) -> bytes:
    """PNG bytes of `count` generated images of one class, in rows of up to 8; same seed → same bytes."""
    from PIL import Image

    from cgan import plots

    if not 0 <= int(label) < len(generator.label_names):
        raise LabelError(f"label {label} is out of range (0..{len(generator.label_names) - 1})")
    if not 1 <= int(count) <= MAX_COUNT:
        raise ValueError(f"count must be between 1 and {MAX_COUNT}, not {count}")
    images, _ = generator.generate([int(label)], n=int(count), seed=seed)
    cols = min(int(count), PER_ROW)
    grid = plots.tile(images, -(-len(images) // cols), cols, pad=0 if count == 1 else 2, scale=scale)
    buffer = io.BytesIO()
    Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(buffer, format="PNG")
    return buffer.getvalue()


def find_runs(root=None) -> dict[str, Path]:
    """'dataset/run' → folder, for every run folder under `root` that holds a generator."""
    root = Path(root) if root else results_root()
    runs = {}
    for summary in sorted(root.glob("*/*/summary.json")):
        folder = summary.parent
        if has_generator(RunFolder(folder)):
            runs[f"{folder.parent.name}/{folder.name}"] = folder
    return runs


def has_generator(run: RunFolder) -> bool:
    """generator.keras, or the generator.onnx git carries instead of it for the zoo's large generators."""
    return run.generator_keras.is_file() or run.generator_onnx.is_file()


def trained_versions(run_dir) -> dict[str, Path]:
    """'dataset/<model>_vN' → folder, for each version of run_dir's model beside it that was trained and holds a
    generator (run_dir itself included); empty when run_dir is not named <model>_vN, as a test-mode folder is."""
    run_dir = Path(run_dir)
    model, _, version = run_dir.name.rpartition("_")
    if not model or not re.fullmatch(r"v\d+", version):
        return {}
    siblings = [p for p in sorted(run_dir.parent.glob(f"{model}_v*"))
                if re.fullmatch(r"v\d+", p.name[len(model) + 1:])]
    return {f"{p.parent.name}/{p.name}": p for p in siblings if _trained_with_generator(RunFolder(p))}


def _trained_with_generator(run: RunFolder) -> bool:
    return has_generator(run) and run.summary.is_file()


def generator_for_run(run_dir, dataset: str) -> tuple[Generator, str]:
    """The run's generator; else another trained version of its model; else the dataset's shipped one. The note
    says which one draws when it is not the run's own."""
    run = RunFolder(run_dir) if run_dir else None
    if run is not None and _trained_with_generator(run):
        return open_generator(run.path), ""
    if run is not None and run.summary.is_file():  # trained, but its generator is not in this copy
        where = f"{run_dir} holds no generator (training the run makes it)"
    else:
        where = f"{run_dir} has no generator yet" if run_dir else "no run given"
    versions = trained_versions(run_dir) if run_dir else {}
    if versions:
        key, other = next(iter(versions.items()))
        return open_generator(other), f"{where}: showing {key}, another version of the same model"
    if dataset not in SHIPPED_RUNS:
        raise RunError(f"{run_dir or 'this run'} has no generator yet and {dataset} has no shipped one: "
                       "train the run first")
    return Generator.default(dataset), f"{where}: showing the shipped {SHIPPED_RUNS[dataset]} generator"


class GeneratorWidget:
    """Run selector (optional), label dropdown, seed, count, Generate button, image and a status line."""

    def __init__(self, runs: dict[str, Path], show_runs: bool = True, note: str = "",
                 preloaded: dict[str, Generator] | None = None):
        import ipywidgets as widgets

        if not runs:
            raise RunError(f"no run folder with a generator under {results_root()}")
        self.runs = dict(runs)
        self._cache: dict[str, Generator] = dict(preloaded or {})
        self.run = widgets.Dropdown(options=list(self.runs), description="Run")
        self.label = widgets.Dropdown(description="Label")
        self.seed = widgets.BoundedIntText(value=0, min=0, max=2**31 - 1, description="Seed")
        self.count = widgets.BoundedIntText(value=4, min=1, max=MAX_COUNT, description="Count")
        self.button = widgets.Button(description="Generate", button_style="primary", icon="image")
        self.image = widgets.Image(format="png", value=b"")
        self.status = widgets.HTML(value=note)
        self.run.observe(self._on_run, names="value")
        self.button.on_click(self._on_click)
        controls = [self.run] if show_runs else []
        controls += [self.label, self.seed, self.count, self.button]
        self.ui = widgets.VBox([*controls, self.status, self.image])
        self._on_run({"new": self.run.value})

    def _ipython_display_(self):
        from IPython.display import display

        display(self.ui)

    @property
    def generator(self) -> Generator:
        key = self.run.value
        if key not in self._cache:
            self._cache[key] = open_generator(self.runs[key])
        return self._cache[key]

    def _on_run(self, change) -> None:
        try:
            names = self.generator.label_names
        except Exception as exc:  # noqa: BLE001 — a callback's exception would vanish in the kernel log
            self.status.value = f"<b>error:</b> cannot use {self.run.value}: {type(exc).__name__}: {exc}"
            self.label.options = []
            return
        self.label.options = label_options(names)
        self.label.value = 0

    def _on_click(self, _button=None) -> None:
        self.generate()

    def generate(self) -> bytes:
        """What the button does: render the chosen label and show it (errors go to the status line)."""
        try:
            png = render_png(self.generator, self.label.value, self.count.value, self.seed.value)
        except Exception as exc:  # noqa: BLE001 — shown on the page instead of vanishing in the kernel log
            self.status.value = f"<b>error:</b> {type(exc).__name__}: {exc}"
            return b""
        self.image.value = png
        name = self.generator.label_names[self.label.value]
        self.status.value = (f"{self.count.value} × <b>{name}</b> (label {self.label.value}), seed {self.seed.value}, "
                             f"from <code>{self.run.value}</code>")
        return png


def label_picker(run_dir, dataset: str):
    """The last cell of a training notebook: this run's generator (else another trained version of its model,
    else the shipped one, else a message), with a dropdown over the model's trained versions when it has several."""
    import ipywidgets as widgets

    ensure_backend()  # this cell may be the only one run: choose the backend before keras loads
    try:
        generator, note = generator_for_run(run_dir, dataset)
    except RunError as exc:
        return widgets.HTML(value=f"<b>No generator to show:</b> {exc}")
    key = f"{generator.dataset}/{generator.run.name}"
    others = trained_versions(run_dir) if run_dir else {}
    runs = {key: generator.run, **{k: p for k, p in others.items() if p != generator.run}}
    return GeneratorWidget(runs, show_runs=len(runs) > 1, note=note, preloaded={key: generator})


def generator_app(dataset: str | None = None, root=None):
    """notebooks/generate.ipynb: every run with a generator (optionally one dataset's), shipped ones first."""
    import ipywidgets as widgets

    ensure_backend()
    runs = find_runs(root)
    if dataset:
        runs = {k: v for k, v in runs.items() if k.split("/")[0] == dataset}
    if not runs:
        return widgets.HTML(value=f"<b>No generator found</b> under {root or results_root()}"
                                  f"{' for ' + dataset if dataset else ''}: train a run first.")
    shipped = [k for k in SHIPPED_RUNS.values() if k in runs]
    ordered = {k: runs[k] for k in shipped + [k for k in runs if k not in shipped]}
    return GeneratorWidget(ordered, show_runs=True)
