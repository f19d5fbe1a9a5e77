"""The steps of a training notebook (notebooks/cgan_train_*.ipynb), kept here so the notebooks stay thin.

A notebook reads its parameter cell, then: `notebook_config` → `architecture` → `train_or_load` →
`run_media` → `cgan.widget.label_picker`. Test mode (what CI runs) trains one epoch on a tiny stratified
subset into a temporary folder, never into resultados/.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from cgan.config import RunConfig, load_config
from cgan.runs import REPO_ROOT, RunError, RunFolder, results_root

TEST_MODE = {"epochs": 1, "subset": 64, "batch_size": 64, "eval_samples": 10}
# Test mode does not train models above this size. One CPU epoch of m5 (57.8M parameters) on the smallest
# stratified CIFAR-100 subset (100 images) took 163 s on this project's 2-core machine (shared with another
# training) and left a 550 MB run folder (checkpoint with both optimizers); m3/m4 (≈5.5M) need seconds.
# m5 notebooks show the architecture in test mode.
TEST_MODE_MAX_PARAMS = 20_000_000
TRAIN_CHOICES = ("auto", "always", "never")
# Root of the notebooks' run folders when set (the Colab cell sets it to Google Drive); else resultados/.
RUNS_ENV = "CGAN_RUNS_DIR"


def config_path(dataset: str, model: str, version: str) -> Path:
    return REPO_ROOT / "configs" / dataset / f"{model}_{version}.toml"


def notebook_config(dataset: str, model: str, version: str, epochs=None, subset=None, batch_size=None,
                    test_mode: bool = False) -> RunConfig:
    """The config file of dataset/model/version with the notebook's overrides (test mode wins)."""
    cfg = load_config(config_path(dataset, model, version))
    cfg = cfg.with_overrides(epochs=epochs, subset=subset, batch_size=batch_size)
    return cfg.with_overrides(**TEST_MODE) if test_mode else cfg


def run_folder(dataset: str, model: str, version: str) -> Path:
    """A notebook's run folder: <$CGAN_RUNS_DIR or resultados>/<dataset>/<model>_<version>."""
    return Path(os.environ.get(RUNS_ENV) or results_root()) / dataset / f"{model}_{version}"


def output_folder(cfg: RunConfig, output_dir=None, test_mode: bool = False) -> Path:
    """Where the run lives: OUTPUT_DIR, else a temporary folder in test mode, else `run_folder`."""
    if output_dir:
        return Path(output_dir)
    if test_mode:
        return Path(tempfile.mkdtemp(prefix=f"cgan_{cfg.dataset}_{cfg.run_name}_"))
    return run_folder(cfg.dataset, cfg.model, cfg.version)


def architecture(cfg: RunConfig):
    """(G, D, table of parameter counts) built from the config, with the original project's nominal size."""
    from cgan.data import IMAGE_SHAPES, label_names
    from cgan.models import NOMINAL_PARAMS, build_models

    names = label_names(cfg.dataset, label_mode=cfg.label_mode)
    generator, discriminator = build_models(cfg.model, IMAGE_SHAPES[cfg.dataset], len(names), cfg.latent_dim,
                                            cfg.model_options)
    g, d = generator.count_params(), discriminator.count_params()
    table = pd.DataFrame({"parameters": [g, d, g + d]}, index=["generator", "discriminator", "total"])
    nominal = NOMINAL_PARAMS.get(cfg.model)  # None for models new to cgan (fast, sngan)
    table["original project (total, nominal)"] = ["", "", f"≈{nominal / 1e6:.1f}M" if nominal else "new model"]
    return generator, discriminator, table


def train_decision(run: Path, train: str, test_mode: bool, total_params: int) -> tuple[bool, str]:
    """Whether to call `cgan.train.train`, and the sentence the notebook prints about it."""
    if train not in TRAIN_CHOICES:
        raise ValueError(f"TRAIN must be one of {', '.join(TRAIN_CHOICES)}, not {train!r}")
    has_generator = RunFolder(run).generator_keras.is_file()
    if test_mode and total_params > TEST_MODE_MAX_PARAMS:
        return False, (f"test mode: not training a {total_params / 1e6:.1f}M-parameter model "
                       f"(limit {TEST_MODE_MAX_PARAMS / 1e6:.0f}M); showing the architecture only")
    if train == "never":
        return False, f"TRAIN='never': using {run} as it is" if has_generator else f"TRAIN='never' and {run} is empty"
    if train == "auto" and has_generator:
        return False, f"loading the existing run {run} (set TRAIN='always' to train or resume it)"
    return True, f"training into {run}"


def train_or_load(cfg: RunConfig, run: Path, train: str = "auto", test_mode: bool = False,
                  total_params: int = 0) -> RunFolder:
    should_train, message = train_decision(run, train, test_mode, total_params)
    print(message, flush=True)
    if should_train:
        from cgan.train import train as train_run

        return train_run(cfg, out=run, verbose=2, print_every=0)
    return RunFolder(run)


def run_overview(run: RunFolder) -> pd.DataFrame | None:
    """Epochs, wall time and the last epoch's D metrics of a run (None when it has no summary yet)."""
    try:
        summary = run.read_summary()
    except RunError:
        return None
    facts = {k: summary.get(k) for k in ("dataset", "model", "version", "status", "epochs_done", "wall_seconds")}
    facts["train_images"] = summary.get("data", {}).get("train_images")
    facts.update({k: v for k, v in summary.get("final_metrics", {}).items() if "_d_" in k})
    return pd.Series(facts, name=str(run.path)).to_frame()


def run_media(run: RunFolder) -> list[tuple[str, Path]]:
    """(caption, file) for the plots, the last evolution grid and the GIF that exist in the run folder."""
    items = [(path.stem.replace("_", " "), path) for path in sorted(run.plots.glob("*.png"))]
    grids = sorted(run.evolution.glob("epoch_*.png"))
    if grids:
        items.append((f"generated grid after {grids[-1].stem.replace('_', ' ')}", grids[-1]))
    if run.gif.is_file():
        items.append(("evolution over the epochs (GIF)", run.gif))
    return items
