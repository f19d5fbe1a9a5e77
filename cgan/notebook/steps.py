"""The steps of a training notebook (notebooks/cgan_train_*.ipynb), kept here so the notebooks stay thin.

A notebook reads its parameter cell, then: `notebook_config` → `architecture` → `tensorboard` →
`train_or_load` (the TRAIN rule: `train_decision`) → `run_media` → `cgan.notebook.widget.label_picker`. Test mode
(what CI runs) trains one epoch on a tiny stratified subset into a temporary folder, never into resultados/.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from cgan.config import RunConfig, load_config
from cgan.errors import RunError
from cgan.runs import REPO_ROOT, RunFolder, results_root

TEST_MODE = {"epochs": 1, "subset": 64, "batch_size": 64, "eval_samples": 10, "quality_per_class": 2}
# Test mode does not train models above this size: one CPU epoch of m5 (57.8M parameters) on the smallest
# stratified CIFAR-100 subset takes minutes and leaves a run folder of half a gigabyte (checkpoint with both
# optimizers), where m3/m4 (≈5.5M) need seconds. m5 notebooks show the architecture in test mode.
TEST_MODE_MAX_PARAMS = 20_000_000
TRAIN_CHOICES = ("auto", "resume", "always", "never")  # the rule: `train_decision`
# A summary.json still "running" after this long (and two epochs' time) was left by a process that ended.
RUNNING_QUIET_SECONDS = 600
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


def train_decision(run: Path, train: str, test_mode: bool, total_params: int,
                   epochs: int) -> tuple[bool, str]:
    """Whether to call `cgan.training.train.train`, and the sentence the notebook prints about it.

    `epochs` is what the notebook plans (the config's, or EPOCHS). The rule, as the notebooks state it:
    "always" trains (`train` resumes a checkpoint of the same config, or refuses); "never" loads; "resume"
    continues a checkpoint short of `epochs`. "auto" and "resume" train a run that has no generator unless it
    came with the repository (the zoo's large generators stay out of git). "auto" resumes one that was
    cut short (`how_it_ended`) with a checkpoint short of `epochs` unless it came with the repository, and
    loads every other run, with one line on how to continue it when it could be. Committed runs are results
    to look at: opening a notebook must not start hours of training on them (resultados/mnist/m1_v2 stopped
    at 11 of 20 epochs, with its checkpoint).
    """
    if train not in TRAIN_CHOICES:
        raise ValueError(f"TRAIN must be one of {', '.join(TRAIN_CHOICES)}, not {train!r}")
    if test_mode and total_params > TEST_MODE_MAX_PARAMS:
        return False, (f"test mode: not training a {total_params / 1e6:.1f}M-parameter model "
                       f"(limit {TEST_MODE_MAX_PARAMS / 1e6:.0f}M); showing the architecture only")
    folder = RunFolder(run)
    has_generator = folder.generator_keras.is_file()
    has_run = has_generator or folder.summary.is_file()
    if train == "never":
        return False, f"TRAIN='never': using {run} as it is" if has_run else f"TRAIN='never' and {run} is empty"
    if train != "always" and has_run and not has_generator and came_with_repository(folder.path):
        # The zoo's m3/m4/m5 runs come without generator.keras (16 MB and more, .gitignore), some with a compact
        # generator.onnx: their plots and metrics are the result, and training into them would be refused (no
        # checkpoint either).
        carried = ("with its generator as generator.onnx alone (compact weights: it draws, but cannot resume)"
                   if folder.generator_onnx.is_file() else "without its generator (git does not carry it)")
        return False, (f"loading the existing run {run}: it came with the repository {carried}; set OUTPUT_DIR "
                       "to another folder to train one")
    if train == "always" or not has_generator:
        return True, f"training into {run}"
    done = _checkpoint_epoch(folder)
    if train == "resume":
        if 0 < done < epochs:
            return True, f"resuming {run} after epoch {done} of {epochs}"
        why = (f"its checkpoint has {done} of {epochs} epochs (raise EPOCHS to train it further)" if done
               else "it has no checkpoint")
        return False, f"nothing to resume in {run}: {why}; loading it"
    short, how = how_it_ended(folder)
    if 0 < done < epochs and short and not came_with_repository(folder.path):
        return True, f"resuming {run} after epoch {done} of {epochs} (it was {how})"
    message = f"loading the existing run {run}"
    if 0 < done < epochs:
        committed = ", and it came with the repository" if short else ""
        message += (f" ({how}{committed}; {done} of {epochs} epochs): "
                    f'TRAIN = "resume" continues it from its checkpoint')
    return False, message


def how_it_ended(run: RunFolder) -> tuple[bool, str]:
    """(cut short, how), from summary.json. Cut short: it ended before its last epoch and nothing trains it:
    `interrupted` (a signal, see cgan.training.stop), `stopped` (a time budget, or stopped by hand and recorded so),
    or `running` long after its last epoch should have ended (its kernel or VM died: a Colab disconnect)."""
    try:
        summary = run.read_summary()
    except RunError as exc:
        return False, str(exc)
    status = summary.get("status", "of unknown status")
    if status != "running":
        return status in ("interrupted", "stopped"), status
    try:
        quiet = (datetime.now(timezone.utc) - datetime.fromisoformat(summary["updated_utc"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        return False, "running, as far as its summary.json says"
    per_epoch = summary.get("wall_seconds", 0) / max(summary.get("epochs_done") or 1, 1)  # saving included
    if quiet > max(RUNNING_QUIET_SECONDS, 2 * per_epoch):
        return True, f"left running {quiet / 60:.0f} min ago by a process that ended"
    return False, f"still running: updated {quiet / 60:.0f} min ago, another process may be training it"


def came_with_repository(path: Path) -> bool:
    """Whether git tracks the run's summary.json; without git (a downloaded archive), whether the run lies in
    the repository's resultados/."""
    try:
        answer = subprocess.run(["git", "-C", str(path), "ls-files", "--error-unmatch", "summary.json"],
                                capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        answer = None
    if answer is not None and answer.returncode in (0, 1):  # 1: inside a git work tree, not tracked
        return answer.returncode == 0
    return Path(path).resolve().is_relative_to((REPO_ROOT / "resultados").resolve())


def _checkpoint_epoch(run: RunFolder) -> int:
    try:
        return run.checkpoint_epoch()
    except RunError:  # a corrupt state.json: `train` says so if asked to resume; loading still works
        return 0


def train_or_load(cfg: RunConfig, run: Path, train: str = "auto", test_mode: bool = False,
                  total_params: int = 0) -> RunFolder:
    should_train, message = train_decision(run, train, test_mode, total_params, cfg.epochs)
    print(message, flush=True)
    if should_train:
        from cgan.training.train import train as train_run

        return train_run(cfg, out=run)  # verbose=1: a progress bar per epoch, with images/s and ETAs
    return RunFolder(run)


def tensorboard(run, test_mode: bool = False) -> None:
    """TensorBoard in the notebook: `%load_ext tensorboard` and `%tensorboard --logdir <run>/tensorboard`.

    Test mode (CI) and plain Python only print the two lines, so no server starts. Without the tensorboard
    package (the [notebooks] extra) it says how to install it rather than fail a "Run all" before training.
    """
    logdir = RunFolder(run).tensorboard
    magics = [("load_ext", "tensorboard"), ("tensorboard", f'--logdir "{logdir}"')]
    if not any(logdir.glob("events.out.tfevents.*")):
        print(f"{logdir} has no TensorBoard logs yet: training writes them after every epoch "
              "(committed runs do not carry them)")
    shell = _ipython()
    if test_mode or shell is None or importlib.util.find_spec("tensorboard") is None:
        why = "test mode" if test_mode else "not in IPython" if shell is None else "pip install tensorboard first"
        print(f"TensorBoard ({why}): " + "  then  ".join(f"%{name} {args}" for name, args in magics))
        return
    for name, args in magics:
        shell.run_line_magic(name, args)


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


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
