"""Train one configuration into its run folder (resuming from its checkpoint if any)."""
from __future__ import annotations

import contextlib
import errno
import os
import signal
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from cgan.config import RunConfig, dump_config, load_config
from cgan.data import load_dataset
from cgan.distribute import process_shard
from cgan.errors import ConfigError, RunError, TrainingDiverged, TrainingInterrupted
from cgan.io import existing_ancestor, write_text
from cgan.runs import RunFolder, frame_epoch, results_root
from cgan.training.batches import EpochBatches
from cgan.training.callbacks import DiscriminatorReport, EpochClock, EvolutionGrid, IterationLog, TimeBudget
from cgan.training.checkpoint import load_checkpoint
from cgan.training.gan import build_gan
from cgan.training.recorder import RunRecorder
from cgan.training.stop import StopButton
from cgan.training.watch import ProgressBar


def _check_folder(run: RunFolder, overwrite: bool) -> None:
    """Refuse a folder cgan may not write into, before anything (its lock included) is written there.

    With `overwrite` the folder must hold only what cgan writes (`RunFolder.run_files`), since that is what gets
    deleted, once everything that can fail before training has been checked. Without it, nothing foreign may lie
    where cgan writes (`RunFolder.check_layout`).
    """
    existing = existing_ancestor(run.path)
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise RunError(f"cannot write to run folder {run.path} ({existing} is not writable)")
    if overwrite:
        run.run_files()
    else:
        run.check_layout()


def _prepare_folder(run: RunFolder, cfg: RunConfig, overwrite: bool) -> int:
    """Epoch to start from, decided under the folder's lock. Resumes a checkpoint of the same config; never
    clobbers a run silently; accepts whatever a kill or a full disk left (run the same command again)."""
    _check_folder(run, overwrite)  # again: the folder may have changed before its lock was ours
    if overwrite:
        return 0
    run.settle()  # a save a kill cut short: its committed epoch is published, an uncommitted one dropped
    done = run.checkpoint_epoch()
    if done == 0:
        if (run.summary.is_file() or run.history.is_file()) and not _no_epoch_finished(run):
            raise RunError(f"{run.path} holds a run without a checkpoint to resume; pass --overwrite or another --out")
        return 0
    if run.config.is_file() and not _only_schedule_differs(run, cfg):
        raise RunError(f"{run.path} holds a run with a different config; pass --overwrite or another --out")
    if done > cfg.epochs or (done == cfg.epochs and _ended(run)):
        raise RunError(f"{run.path} already holds a finished run ({done} epochs); pass --overwrite, "
                       f"another --out, or more --epochs to extend it")
    return done


def _no_epoch_finished(run: RunFolder) -> bool:
    """A run stopped (cgan.training.stop, a full disk) before any epoch finished: starting it again loses nothing."""
    try:
        summary = run.read_summary()
    except RunError:
        return False
    return summary.get("epochs_done") == 0


def _ended(run: RunFolder) -> bool:
    """The run recorded its end. One whose last epoch committed, but which a kill stopped before it could
    say so, has not: training it again only records it as finished."""
    try:
        return run.read_summary().get("status") in ("finished", "stopped")
    except RunError:
        return False


# Fields a resumed run may change: how long it trains and how often it is watched, not what it learns.
# (Quality monitoring added to a half-done run scores its remaining epochs; its earlier rows stay blank.)
RESUMABLE_CHANGES = ("epochs", "quality_every", "quality_per_class")


def _only_schedule_differs(run: RunFolder, cfg: RunConfig) -> bool:
    try:
        previous = load_config(run.config)
    except ConfigError:
        return False
    return previous.with_overrides(**{field: getattr(cfg, field) for field in RESUMABLE_CHANGES}) == cfg


HISTORY_COLUMNS = ("epoch",)
ITERATION_COLUMNS = ("epoch", "step", "d_loss", "g_loss")


def _past_rows(path: Path, done: int, columns: tuple[str, ...], every_epoch: bool = False) -> pd.DataFrame | None:
    """The rows of history.csv or iterations.csv up to the checkpoint's epoch; RunError naming the file where
    it cannot be read as one (with `every_epoch`, also where an epoch up to the checkpoint's has no row)."""
    if done == 0 or not path.is_file():
        return None
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise _corrupt(path, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) from None
    missing = [column for column in columns if column not in frame]
    if missing:
        raise _corrupt(path, f"it has no {missing[0]} column")
    epochs = pd.to_numeric(frame["epoch"], errors="coerce")
    if epochs.isna().any() or (epochs != epochs.round()).any():
        raise _corrupt(path, "an epoch that is not a whole number")
    frame["epoch"] = epochs.astype(int)
    frame = frame[frame["epoch"] <= done].reset_index(drop=True)
    absent = sorted(set(range(1, done + 1)) - set(frame["epoch"])) if every_epoch else []
    if absent:
        raise _corrupt(path, f"it has no row for epoch {absent[0]}, which the checkpoint holds")
    return frame


def _corrupt(path: Path, why: str) -> RunError:
    return RunError(f"cannot resume from {path}: it is corrupt ({why}); repair it, or pass --overwrite to start over")


@contextlib.contextmanager
def _writing(run: RunFolder):
    """An OSError (a full disk, a read-only folder) while setting up the run folder, as one line."""
    try:
        yield
    except OSError as exc:
        raise RunError(f"cannot write to run folder {run.path}: {_reason(exc)}") from None


def _reason(exc: OSError) -> str:
    text = str(exc.strerror or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__) + (f" ({exc.filename})" if exc.filename else "")


def _disk_full(exc: OSError) -> bool:
    text = str(exc)  # h5py reports the C library's errno in its message only
    return exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in text or "errno = 28" in text


def train(cfg: RunConfig, out: str | Path | None = None, data_dir=None, overwrite: bool = False,
          verbose: int = 1, print_every: int = 0, time_budget: float | None = None,
          tensorboard: bool = True) -> RunFolder:
    """Train `cfg` into its run folder and return it.

    verbose: 1 a progress bar per epoch (images/s, ETAs), 2 Keras's line per epoch, 0 quiet. tensorboard:
    write <run>/tensorboard/. SIGINT or SIGTERM ends it with `TrainingInterrupted` (see cgan.training.stop); running
    the same training again resumes it, whatever stopped it (a kill, a full disk: docs/reliability.md). One
    process at a time trains into a folder (`RunFolder.lock`); another gets a RunError naming its PID.
    """
    run = RunFolder(out or results_root() / cfg.dataset / cfg.run_name)
    _check_folder(run, overwrite)  # before the lock writes its file there
    with run.lock():
        return _train(run, cfg, data_dir, overwrite, verbose, print_every, time_budget, tensorboard)


def _train(run: RunFolder, cfg: RunConfig, data_dir, overwrite: bool, verbose: int, print_every: int,
           time_budget: float | None, tensorboard: bool) -> RunFolder:
    done = _prepare_folder(run, cfg, overwrite)
    data = load_dataset(cfg.dataset, data_dir, subset=cfg.subset, label_mode=cfg.label_mode, seed=cfg.seed)
    keras.utils.set_random_seed(cfg.seed)  # after the data: it imports TensorFlow when installed (slow, chatty)
    gan = build_gan(cfg, data.image_shape, data.num_classes)
    if done:
        load_checkpoint(run, gan)

    previous = run.read_summary() if done and run.summary.is_file() else {}
    log = IterationLog(print_every)
    recorder = RunRecorder(run, cfg, data, gan, log, _past_rows(run.history, done, HISTORY_COLUMNS, every_epoch=True),
                           _past_rows(run.iterations, done, ITERATION_COLUMNS), previous)
    val_idx = np.random.default_rng(cfg.seed).choice(len(data.x_test), min(cfg.eval_samples, len(data.x_test)),
                                                     replace=False)
    # With several processes (cgan.distribute) each trains on its own shard, so hosts feed different batches.
    batches = EpochBatches(*process_shard(data.x_train, data.y_train), cfg.batch_size, cfg.seed, first_epoch=done)
    stop = StopButton()
    budget = TimeBudget(time_budget) if time_budget else None
    bar = ProgressBar(len(batches.x), cfg.batch_size, cfg.epochs, time_budget) if verbose == 1 else None
    if bar:
        log.write = bar.write
    quality = None
    if cfg.quality_every and done < cfg.epochs:  # before the recorder, so the scores land in history.csv
        from cgan.training.quality import QualityMonitor

        quality = QualityMonitor(data, cfg.quality_every, cfg.quality_per_class, cfg.latent_dim, cfg.seed,
                                 data_dir, cfg.label_mode)
        quality.prepare()  # loads the classifier, whose weights may be missing
    # Only now, with everything checked that can fail before training, may the folder change.
    with _writing(run):
        if overwrite:
            run.clear()
        for frame in run.evolution.glob("epoch_*.png"):  # grids of an epoch that never committed (older cgan)
            if (frame_epoch(frame) or 0) > done:
                frame.unlink()
        run.path.mkdir(parents=True, exist_ok=True)
        write_text(run.config, dump_config(cfg))
        board = _tensorboard(run, batches.steps_per_epoch, done, len(batches.x)) if tensorboard else None
    if done >= cfg.epochs:
        print(f"cgan: {run.path} holds all {done} epochs already; recording the run as finished", flush=True)
    elif done:
        print(f"cgan: resuming {run.path} after epoch {done}", flush=True)
    decay = None
    if cfg.lr_decay:
        from cgan.training.schedule import LearningRateDecay

        decay = LearningRateDecay({"d_optimizer": cfg.d_optimizer.learning_rate,
                                   "g_optimizer": cfg.g_optimizer.learning_rate},
                                  cfg.epochs, cfg.lr_decay.start, cfg.lr_decay.final)
    callbacks = [decay, budget, stop, EpochClock(), DiscriminatorReport(data, cfg.eval_samples, cfg.latent_dim, cfg.seed),
                 EvolutionGrid(run, data.label_names, cfg.latent_dim, cfg.seed), quality, log, bar, recorder, board]
    try:
        with stop.installed():
            if done < cfg.epochs:
                gan.fit(batches, epochs=cfg.epochs, initial_epoch=done, steps_per_epoch=batches.steps_per_epoch,
                        validation_data=(data.x_test[val_idx], data.y_test[val_idx]), shuffle=False,  # batches shuffle
                        callbacks=[c for c in callbacks if c is not None], verbose=2 if verbose == 2 else 0)
    except OSError as exc:  # a full (or failing) disk while saving an epoch: that epoch never committed
        kept = recorder.end_early("interrupted", f"cannot save epoch {stop.epoch + 1}: {_reason(exc)}")
        fix = "free some space" if _disk_full(exc) else "make the folder writable"
        raise RunError(f"{kept}, in {run.path}; {fix} and run the same command again") from None
    except TrainingDiverged as exc:
        raise TrainingDiverged(recorder.end_early("diverged", str(exc))) from None
    except KeyboardInterrupt as exc:  # the stop button's TrainingInterrupted, or a plain one outside the main thread
        signum = getattr(exc, "signum", signal.SIGINT)
        kept = recorder.end_early("interrupted", getattr(exc, "what", None) or stop.describe())
        raise TrainingInterrupted(f"{kept}, in {run.path}", signum) from None
    finally:
        for watcher in (bar, board):
            if watcher:
                watcher.close()
    with _writing(run):  # a full disk here: the last epoch is committed, and training again records the end
        recorder.finish(budget.reason if budget else None)
    return run


def _tensorboard(run: RunFolder, steps_per_epoch: int, done: int, train_size: int):
    try:
        from cgan.training.watch import TensorBoardLog

        return TensorBoardLog(run, steps_per_epoch, done, train_size)
    except ImportError:
        print("cgan: tensorboardX is not installed, so this run writes no TensorBoard logs", flush=True)
        return None
