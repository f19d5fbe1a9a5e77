"""The run folder: everything one training run leaves behind, and how to resume it.

resultados/<dataset>/<model>_<version>/
    config.toml            the exact configuration that ran
    history.csv            one row per epoch: losses, D metrics, wall times
    iterations.csv         one row per training step: D and G loss
    plots/                 loss per iteration, losses per epoch, D metrics per epoch
    evolution/epoch_NNN.png + evolution.gif   fixed-noise grids, one cell per class
    generator.keras, generator.h5
    generator.onnx         `cgan export`: the generator for ONNX Runtime, its weights as float32, float16 or int8
    generator.onnx.<hash>.part   its weights, for a generator.onnx too large for one file (ONNX external data)
    generator.onnx.json    tools.compact_generator: which weight format was chosen, its size, what it changes
    previous/              tools.zoo_queue, after a retrain: summary.json, metrics.json and history.csv of the run
                           this one replaced, so the two can be compared; rescored.json (tools.rescore_previous):
                           this run's generator scored as the replaced one was, when the classifier changed
    summary.json           parameter counts, epochs, wall times, final metrics, environment
    checkpoint/            G, D, both optimizers and every seed state after the last finished epoch (not committed)
    tensorboard/           TensorBoard events: per-step and per-epoch scalars, the evolution grid
    .cgan.lock             while a process trains into the folder: its lock, holding its PID

Every file is written to a temporary name and renamed, so a kill leaves the previous good version in place; an
epoch's files are staged and committed together (`RunFolder.commit_epoch`), so the folder always shows
one epoch. docs/reliability.md states what is promised.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
from pathlib import Path

from cgan.errors import RunError
from cgan.io import fsync, write_json
from cgan.lock import acquire_lock, make_folder, release_lock

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_ENV = "CGAN_RESULTS_DIR"


def results_root() -> Path:
    return Path(os.environ.get(RESULTS_ENV) or REPO_ROOT / "resultados")


# What a run folder may hold: `cgan train`, `cgan export` and `cgan evaluate` write these and nothing else. Each is
# a regular expression for a path inside the run folder. `--overwrite` deletes only what matches and refuses a folder
# holding anything else; training refuses a foreign file inside cgan's own folders, where cgan writes and deletes.
LOCK_NAME = ".cgan.lock"
STAGED = "staged"  # checkpoint/epoch_NNNN/staged/: an epoch's files until its checkpoint commits them
PLOT_NAMES = ("loss_per_iteration", "loss_per_epoch", "d_metrics_per_epoch", "quality_per_epoch",
              "quality_per_minute")
CHECKPOINT_FILES = ("generator.weights.h5", "discriminator.weights.h5", "ema_generator.weights.h5",
                    "optimizers.npz")
_EPOCH_FOLDER = r"checkpoint/epoch_\d{4,}"
_CHECKPOINT_FILE = "(" + "|".join(map(re.escape, CHECKPOINT_FILES)) + ")"
# What an epoch's save publishes at the top of the run folder, after staging it (see `commit_epoch`).
PUBLISHED_PATTERNS = (r"history\.csv", r"iterations\.csv", r"summary\.json", r"generator\.(keras|h5)",
                      r"evolution\.gif", rf"plots/({'|'.join(PLOT_NAMES)})\.png", r"evolution/epoch_\d{3,}\.png")
PREVIOUS_FILES = ("summary.json", "metrics.json", "history.csv")
RESCORED_FILE = "rescored.json"  # in previous/: this run scored as the replaced one was (tools.rescore_previous)
RUN_FILE_PATTERNS = (r"config\.toml", r"metrics\.json", r"generator\.onnx(\.json|\.[0-9a-f]{12}\.part)?",
                     re.escape(LOCK_NAME),
                     rf"previous/({'|'.join(map(re.escape, PREVIOUS_FILES + (RESCORED_FILE,)))})",
                     *PUBLISHED_PATTERNS, r"tensorboard/events\.out\.tfevents\.[^/]+", r"checkpoint/state\.json",
                     rf"checkpoint/{_CHECKPOINT_FILE}",  # a checkpoint from before per-epoch folders
                     rf"{_EPOCH_FOLDER}/{_CHECKPOINT_FILE}",
                     rf"{_EPOCH_FOLDER}/{STAGED}/({'|'.join(PUBLISHED_PATTERNS)})")
RUN_FOLDER_PATTERNS = ("plots", "evolution", "tensorboard", "checkpoint", "previous",
                       rf"{_EPOCH_FOLDER}(/{STAGED}(/plots|/evolution)?)?")
_RUN_FILE = re.compile("|".join(f"(?:{p})" for p in RUN_FILE_PATTERNS))
_RUN_FOLDER = re.compile("|".join(f"(?:{p})" for p in RUN_FOLDER_PATTERNS))
_EPOCH_FOLDER_NAME = re.compile(r"epoch_\d{4,}")
_FRAME_NAME = re.compile(r"epoch_(\d{3,})\.png")
# Names cgan writes at the top of a run folder: anything else by one of these names is in its way.
_TOP_LEVEL_NAMES = frozenset(("config.toml", "history.csv", "iterations.csv", "summary.json", "metrics.json",
                              "generator.keras", "generator.h5", "generator.onnx", "generator.onnx.json",
                              "evolution.gif", "plots", "evolution", "checkpoint", "tensorboard", "previous",
                              LOCK_NAME))
# A folder is a run only if it holds one of these (an empty `plots/` alone proves nothing).
RUN_MARKERS = ("summary.json", "config.toml", "history.csv", "checkpoint/state.json")
_RANDOM_PART = re.compile(r"[a-z0-9_]+")  # what tempfile.mkstemp puts between prefix and suffix
# Room an epoch's save needs beyond its weights and rewritten logs: plots and the grid (a few hundred KB each).
SAVE_MARGIN_BYTES = 2 * 2**20


def _temporary_targets(name: str) -> list[str]:
    """The files `atomic_write`'s temporary `name` may stand for: .<stem>.<random><suffixes> is one of
    <stem><last suffix>, left behind by a kill."""
    if not name.startswith("."):
        return []
    parts, targets = name[1:].split("."), []
    for i in range(1, len(parts) - 1):
        target = ".".join(parts[:i]) + "." + parts[-1]
        if _RANDOM_PART.fullmatch(parts[i]) and Path(target).suffixes == ["." + s for s in parts[i + 1:]]:
            targets.append(target)
    return targets


def is_run_path(relative: str, folder: bool) -> bool:
    """Whether cgan writes `relative` (a POSIX path inside a run folder): a folder of its own or one of its files."""
    if folder:
        return bool(_RUN_FOLDER.fullmatch(relative))
    parent, _, name = relative.rpartition("/")
    return any(_RUN_FILE.fullmatch(f"{parent}/{n}" if parent else n) for n in (name, *_temporary_targets(name)))


def frame_epoch(path: Path) -> int | None:
    """The epoch of an evolution grid (evolution/epoch_NNN.png), or None for another file."""
    match = _FRAME_NAME.fullmatch(Path(path).name)
    return int(match[1]) if match else None


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
    generator_onnx = property(lambda self: self.path / "generator.onnx")  # written by `cgan export`
    onnx_record = property(lambda self: self.path / "generator.onnx.json")  # written by tools.compact_generator
    previous = property(lambda self: self.path / "previous")  # the replaced run's records, after a retrain
    rescored = property(lambda self: self.previous / RESCORED_FILE)
    summary = property(lambda self: self.path / "summary.json")
    metrics = property(lambda self: self.path / "metrics.json")  # written by `cgan evaluate`
    checkpoint = property(lambda self: self.path / "checkpoint")
    tensorboard = property(lambda self: self.path / "tensorboard")
    lock_file = property(lambda self: self.path / LOCK_NAME)

    # -- what is cgan's: judged by name and kind, without reading a file ------------------------------------
    def _entries(self):
        """(relative POSIX path, is a folder) of everything in the folder, breadth first. Only cgan's own
        folders are entered and links are never followed, so a huge foreign tree costs one listing."""
        pending = [""]
        while pending:
            relative = pending.pop(0)
            with os.scandir(self.path / relative) as entries:
                for entry in entries:
                    child = f"{relative}/{entry.name}" if relative else entry.name
                    folder = entry.is_dir(follow_symlinks=False)
                    yield child, folder
                    if folder and is_run_path(child, folder=True):
                        pending.append(child)

    def _foreign(self):
        """Relative paths of what cgan did not write, lazily (a caller may stop at the first)."""
        return (relative for relative, folder in self._entries() if not is_run_path(relative, folder))

    def has_marker(self) -> bool:
        return any((self.path / marker).is_file() for marker in RUN_MARKERS)

    def run_files(self) -> list[Path]:
        """Every file of an existing run folder but its lock; RunError if the folder holds anything cgan does not
        write, or nothing that makes it a run."""
        if not self.path.is_dir():
            return []
        files = []
        for relative, folder in self._entries():
            if not is_run_path(relative, folder):
                raise RunError(f"refusing to delete {self.path}: not a cgan run folder (it holds {relative}); "
                               f"pass another --out")
            if not folder and relative != LOCK_NAME:
                files.append(self.path / relative)
        if files and not self.has_marker():
            raise RunError(f"refusing to delete {self.path}: not a cgan run folder (it has no summary.json, "
                           f"config.toml or history.csv); pass another --out")
        return sorted(files)

    def check_layout(self) -> None:
        """RunError unless cgan can train here without touching what others wrote: the folder is missing,
        empty or a run, and nothing foreign lies where cgan writes (its own folders, its own file names).
        A foreign file beside a run's files is left alone."""
        if not self.path.is_dir():
            return
        run = self.has_marker()
        for relative in self._foreign():
            if "/" in relative or relative in _TOP_LEVEL_NAMES:
                raise RunError(f"refusing to train into {self.path}: cgan writes where {relative} is, and did not "
                               f"write it; move it out or pass another --out")
            if not run:
                raise RunError(f"refusing to train into {self.path}: not a cgan run folder (it holds {relative}); "
                               f"pass a new or empty --out")

    def clear(self) -> None:
        """Delete a run folder's files (see `run_files`), leaving anything added since, the lock and the folder."""
        for file in self.run_files():
            file.unlink(missing_ok=True)
        folders = (p for p in self.path.rglob("*") if p.is_dir() and not p.is_symlink())
        for folder in sorted(folders, key=lambda p: -len(p.parts)):
            if not any(folder.iterdir()):
                folder.rmdir()

    # -- one process at a time -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self):
        """Hold the run folder for this process: another process (or thread) asking for it gets a RunError that
        names this one's PID. The OS drops the lock when its process ends, however it ends, so a killed run
        never blocks the next; the lock file is removed when the block ends."""
        try:
            created = make_folder(self.path)
        except OSError as exc:
            raise RunError(f"cannot create run folder {self.path}: {exc.strerror or exc}") from None
        try:
            try:
                fd = acquire_lock(self.lock_file, self.path)
            except OSError as exc:
                raise RunError(f"cannot lock run folder {self.path}: {exc.strerror or exc}") from None
            try:
                yield self
            finally:
                release_lock(fd, self.lock_file)
        finally:
            for folder in created:  # a folder made only for the lock goes too
                try:
                    folder.rmdir()
                except OSError:
                    break

    def read_summary(self) -> dict:
        try:
            summary = json.loads(self.summary.read_text())
        except FileNotFoundError:
            if self.config.is_file():  # training writes config.toml at its start, summary.json after an epoch
                raise RunError(f"{self.path} has no finished epoch yet (no summary.json): its training is running "
                               "or stopped in its first epoch") from None
            raise RunError(f"{self.path} is not a run folder (no summary.json)") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RunError(f"{self.summary} is corrupt (not valid JSON)") from None
        if not isinstance(summary, dict):
            raise RunError(f"{self.summary} is corrupt (not a JSON object)")
        return summary

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

    def _checkpoint_state(self) -> dict | None:
        """checkpoint/state.json, the commit record: {"epoch": N, "folder": "epoch_NNNN"}; None before any."""
        state = self.checkpoint / "state.json"
        if not state.is_file():
            return None
        try:
            record = json.loads(state.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            record = None
        # Checkpoints written before per-epoch folders existed lie in checkpoint/ itself (no "folder").
        if (isinstance(record, dict) and isinstance(record.get("epoch"), int) and record["epoch"] >= 0
                and (record.get("folder", ".") == "." or _EPOCH_FOLDER_NAME.fullmatch(str(record["folder"])))):
            return record
        raise RunError(f"{state} is corrupt; delete the checkpoint folder or pass --overwrite")

    def checkpoint_epoch(self) -> int:
        state = self._checkpoint_state()
        return state["epoch"] if state else 0

    def is_finished(self) -> bool:
        try:
            return self.read_summary().get("status") == "finished"
        except RunError:
            return False

    # -- an epoch's save: staged, committed by state.json, then published -------------------------------------
    # Each epoch's checkpoint (G, D, both optimizers, every seed state) goes into its own folder, and so do, in
    # its staged/ subfolder, the files the epoch shows at the top of the run folder: history, per-step losses,
    # plots, grid, GIF, generator files and summary. state.json naming the folder is the commit; only then are
    # the staged files renamed into place, which needs no room on the disk. A kill or a full disk before the
    # commit leaves the previous epoch everywhere; a kill while publishing leaves a committed epoch whose staged
    # files `settle` moves into place at the next start. So the weights, the optimizers and all the folder
    # shows come from one epoch.
    def epoch_folder(self, epoch: int) -> Path:
        return self.checkpoint / f"epoch_{epoch:04d}"

    def staged(self, epoch: int, relative: str) -> Path:
        """Where epoch `epoch`'s save writes what the run folder shows at `relative` once the epoch commits."""
        path = self.epoch_folder(epoch) / STAGED / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def check_free_space(self, needed: int) -> None:
        """OSError ENOSPC, before anything is written, where the disk has less room than a save needs (a save
        cut short by a full disk costs nothing either, but this way no library meets the full disk mid-write)."""
        free = shutil.disk_usage(self.path).free
        if free < needed:
            raise OSError(errno.ENOSPC, f"No space left on device ({_megabytes(free)} free, a save needs about "
                                        f"{_megabytes(needed)})", str(self.path))

    def commit_epoch(self, epoch: int) -> None:
        """Commit epoch `epoch`, whose checkpoint files are in `epoch_folder(epoch)`: state.json names the
        folder (the commit), then the epoch's staged files are published and older epoch folders dropped."""
        folder = self.epoch_folder(epoch)
        write_json(self.checkpoint / "state.json", {"epoch": epoch, "folder": folder.name})
        self._publish(folder)
        self._drop_epoch_folders(keep=folder)

    def settle(self) -> None:
        """Finish what a kill or a failed save left: publish the committed epoch's staged files, drop the
        folders of epochs that never committed."""
        committed = self.checkpoint_folder()
        if committed is not None:
            self._publish(committed)
        self._drop_epoch_folders(keep=committed)

    def _publish(self, folder: Path) -> None:
        staged = folder / STAGED
        if not staged.is_dir():
            return
        files = [p for p in staged.rglob("*") if p.is_file() and not p.is_symlink() and not p.name.startswith(".")]
        parents = set()
        for file in sorted(files, key=lambda p: (p.name == "summary.json", str(p))):  # readers start at the summary
            target = self.path / file.relative_to(staged)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(file, target)
            parents.add(target.parent)
        for parent in parents:
            fsync(parent)
        self._remove_run_files(staged)

    def _drop_epoch_folders(self, keep: Path | None) -> None:
        if not self.checkpoint.is_dir():
            return
        for old in self.checkpoint.iterdir():
            if old != keep and _EPOCH_FOLDER_NAME.fullmatch(old.name) and old.is_dir() and not old.is_symlink():
                self._remove_run_files(old)
        if keep is not None and keep != self.checkpoint:  # a checkpoint from before per-epoch folders is replaced
            for name in CHECKPOINT_FILES:
                (self.checkpoint / name).unlink(missing_ok=True)

    def _remove_run_files(self, folder: Path) -> None:
        """Delete cgan's files under `folder`, then the folders left empty; anything else stays where it is."""
        for root, _, names in os.walk(folder, topdown=False):
            for name in names:
                path = Path(root) / name
                if is_run_path(path.relative_to(self.path).as_posix(), folder=False):
                    path.unlink(missing_ok=True)
            try:
                os.rmdir(root)
            except OSError:  # not empty: something cgan did not write
                pass

    def checkpoint_folder(self) -> Path | None:
        state = self._checkpoint_state()
        return self.checkpoint / state.get("folder", ".") if state else None

def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"
