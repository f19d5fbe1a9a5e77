"""The run folder: everything one training run leaves behind, and how to resume it.

resultados/<dataset>/<model>_<version>/
    config.toml            the exact configuration that ran
    history.csv            one row per epoch: losses, D metrics, wall times
    iterations.csv         one row per training step: D and G loss
    plots/                 loss per iteration, losses per epoch, D metrics per epoch
    evolution/epoch_NNN.png + evolution.gif   fixed-noise grids, one cell per class
    generator.keras, generator.h5
    summary.json           parameter counts, epochs, wall times, final metrics, environment
    checkpoint/            G, D, both optimizers and every seed state after the last finished epoch (not committed)
    tensorboard/           TensorBoard events: per-step and per-epoch scalars, the evolution grid

Every file is written to a temporary name and renamed, so a kill leaves the
previous good version in place.
"""
from __future__ import annotations

import fnmatch
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_ENV = "CGAN_RESULTS_DIR"
_UMASK = os.umask(0)
os.umask(_UMASK)


class RunError(RuntimeError):
    """A run folder that cannot be used as asked; the message is one line."""


class TrainingDiverged(RuntimeError):
    """A NaN or infinite loss stopped training; the message names the epoch and step."""


def results_root() -> Path:
    return Path(os.environ.get(RESULTS_ENV) or REPO_ROOT / "resultados")


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path) and rename the result onto `path`, durably.

    The temporary file is fsynced before the rename (else a power cut can leave the new name pointing at
    empty or partial data), and the folder after it (else the rename itself can be lost).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix="".join(path.suffixes) or ".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; results are meant to be shared
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _fsync(path) -> None:
    """Flush a file's or a folder's contents to disk (folders: only where the OS can open them, not Windows)."""
    if os.name == "nt" and os.path.isdir(path):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


# What a run folder may hold: `cgan train`, `cgan export` and `cgan evaluate` write these and nothing else.
# Patterns match one path component each; `--overwrite` refuses a folder holding anything not listed.
RUN_FILE_PATTERNS = ("config.toml", "history.csv", "iterations.csv", "summary.json", "metrics.json",
                     "generator.keras", "generator.h5", "generator.onnx", "evolution.gif",
                     "plots/*.png", "evolution/epoch_*.png",
                     "checkpoint/state.json", "checkpoint/*.h5", "checkpoint/*.npz", "checkpoint/epoch_*/*",
                     "tensorboard/events.out.tfevents.*")
# A folder is a run only if it holds one of these (an empty `plots/` alone proves nothing).
RUN_MARKERS = ("summary.json", "config.toml", "history.csv", "checkpoint/state.json")


def _is_run_file(relative: Path) -> bool:
    parts = relative.parts
    if parts[-1].startswith("."):  # atomic_write's temporary file, left by a kill: .<stem>.<random><suffix>
        parts = (*parts[:-1], parts[-1][1:].split(".")[0] + "".join(Path(parts[-1]).suffixes[-1:]))
    return any(len(p) == len(parts) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, p))
               for p in (tuple(pattern.split("/")) for pattern in RUN_FILE_PATTERNS))


class RunFolder:
    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"RunFolder({str(self.path)!r})"

    config = property(lambda self: self.path / "config.toml")
    history = property(lambda self: self.path / "history.csv")
    iterations = property(lambda self: self.path / "iterations.csv")
    plots = property(lambda self: self.path / "plots")
    evolution = property(lambda self: self.path / "evolution")
    gif = property(lambda self: self.path / "evolution.gif")
    generator_keras = property(lambda self: self.path / "generator.keras")
    generator_h5 = property(lambda self: self.path / "generator.h5")
    summary = property(lambda self: self.path / "summary.json")
    metrics = property(lambda self: self.path / "metrics.json")  # written by `cgan evaluate`
    checkpoint = property(lambda self: self.path / "checkpoint")
    tensorboard = property(lambda self: self.path / "tensorboard")

    def run_files(self) -> list[Path]:
        """Every file of an existing run folder; RunError if the folder holds anything a run does not write."""
        entries = self.path.rglob("*") if self.path.is_dir() else []
        files = sorted(p for p in entries if p.is_symlink() or not p.is_dir())  # a link is judged, never followed
        foreign = [p.relative_to(self.path) for p in files if not _is_run_file(p.relative_to(self.path))]
        if foreign or (files and not any((self.path / m).is_file() for m in RUN_MARKERS)):
            what = f"it holds {foreign[0]}" if foreign else "it has no summary.json, config.toml or history.csv"
            raise RunError(f"refusing to delete {self.path}: not a cgan run folder ({what}); "
                           f"pass another --out")
        return files

    def clear(self) -> None:
        """Delete a run folder's files (see `run_files`), leaving anything added since and the folder itself."""
        for file in self.run_files():
            file.unlink(missing_ok=True)
        folders = (p for p in self.path.rglob("*") if p.is_dir() and not p.is_symlink())
        for folder in sorted(folders, key=lambda p: -len(p.parts)):
            if not any(folder.iterdir()):
                folder.rmdir()

    def read_summary(self) -> dict:
        try:
            return json.loads(self.summary.read_text())
        except FileNotFoundError:
            raise RunError(f"{self.path} is not a run folder (no summary.json)") from None
        except json.JSONDecodeError:
            raise RunError(f"{self.summary} is corrupt (not valid JSON)") from None

    def summary_so_far(self) -> dict:
        """summary.json, or {} for a run not started yet (a corrupt one is still an error)."""
        if not self.summary.exists():
            return {}
        return self.read_summary()

    def metrics_are_current(self) -> bool:
        """metrics.json scores the generator of the run's last epoch, not one from before a resume."""
        try:
            metrics = json.loads(self.metrics.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return False
        epochs = metrics.get("generator", {}).get("epochs_done")
        return epochs is not None and epochs == self.summary_so_far().get("epochs_done")

    def checkpoint_epoch(self) -> int:
        state = self.checkpoint / "state.json"
        try:
            return json.loads(state.read_text())["epoch"] if state.is_file() else 0
        except (json.JSONDecodeError, KeyError):
            raise RunError(f"{state} is corrupt; delete the checkpoint folder or pass --overwrite") from None

    def is_finished(self) -> bool:
        try:
            return self.read_summary().get("status") == "finished"
        except RunError:
            return False

    # -- checkpoints: weights of G and D, both optimizers, the sampling RNG ----
    # Each epoch's checkpoint goes into its own folder; state.json names the
    # complete one. A kill while saving leaves state.json pointing at the
    # previous folder, so G, D and the optimizers always come from one epoch.
    def save_checkpoint(self, gan, epoch: int) -> None:
        folder = self.checkpoint / f"epoch_{epoch:04d}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        atomic_write(folder / "generator.weights.h5", gan.generator.save_weights)
        atomic_write(folder / "discriminator.weights.h5", gan.discriminator.save_weights)
        if gan.ema_generator is not None:
            atomic_write(folder / "ema_generator.weights.h5", gan.ema_generator.save_weights)
        arrays = {f"d_{i}": np.asarray(v) for i, v in enumerate(gan.d_optimizer.variables)}
        arrays.update({f"g_{i}": np.asarray(v) for i, v in enumerate(gan.g_optimizer.variables)})
        # Every seed state (noise, DiffAugment, Dropout masks): a resume draws what an uninterrupted run would.
        arrays.update({f"seed_{i}": np.asarray(v) for i, v in enumerate(gan.random_states)})
        atomic_write(folder / "optimizers.npz", lambda tmp: np.savez(tmp, **arrays))
        write_json(self.checkpoint / "state.json", {"epoch": epoch, "folder": folder.name})
        for old in self.checkpoint.glob("epoch_*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)

    def checkpoint_folder(self) -> Path | None:
        state = self.checkpoint / "state.json"
        if not state.is_file():
            return None
        try:
            # Checkpoints written before per-epoch folders existed lie in checkpoint/ itself.
            return self.checkpoint / json.loads(state.read_text()).get("folder", ".")
        except json.JSONDecodeError:
            raise RunError(f"{state} is corrupt; delete the checkpoint folder or pass --overwrite") from None

    def load_checkpoint(self, gan) -> int:
        folder = self.checkpoint_folder()
        try:
            gan.generator.load_weights(folder / "generator.weights.h5")
            gan.discriminator.load_weights(folder / "discriminator.weights.h5")
            if gan.ema_generator is not None:
                gan.ema_generator.load_weights(folder / "ema_generator.weights.h5")
            with np.load(folder / "optimizers.npz", allow_pickle=False) as saved:
                for prefix, optimizer in (("d", gan.d_optimizer), ("g", gan.g_optimizer)):
                    for i, variable in enumerate(optimizer.variables):
                        variable.assign(saved[f"{prefix}_{i}"])
                _restore_random_states(gan, saved)
        except Exception as exc:
            raise RunError(f"cannot resume from {folder}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
        return self.checkpoint_epoch()


def _restore_random_states(gan, saved) -> None:
    states = gan.random_states
    if "seed_0" not in saved:  # a checkpoint from before every seed state was kept: the GAN's own only
        states[0].assign(saved["seed_state"])
        return
    count = sum(1 for key in saved.files if key.startswith("seed_"))
    if count != len(states):
        raise ValueError(f"it holds {count} seed states and this model has {len(states)}")
    for i, state in enumerate(states):
        state.assign(saved[f"seed_{i}"])
