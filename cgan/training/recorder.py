"""The recorder: after every epoch it writes history, per-step losses, plots, the generator, the summary and
the checkpoint into the run folder, and it writes the summary of a run that ends, however it ends.

The epoch's files are staged and committed together with its checkpoint (`RunFolder.staged`,
`cgan.training.checkpoint`): a kill or a full disk on the way leaves the previous epoch in every file, and a
resume keeps the history rows up to it.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

import keras
import pandas as pd

from cgan import plots
from cgan.io import atomic_write, write_json
from cgan.runs import RunFolder
from cgan.runtime import environment_facts
from cgan.training.checkpoint import save_bytes, save_checkpoint

# Six significant digits: a loss needs no more, and a long run's file shrinks 2.5x (CIFAR-10's 2-hour run:
# 121,000 rows), which counts in git.
ITERATION_FLOAT_FORMAT = "%.6g"
# What summary.json's "sessions" keep of each process that trained the run: a run resumed on another machine
# or backend says which epochs and how much of its wall time each one trained.
SESSION_FACTS = ("processor", "vector_extension", "cpu_count", "backend", "accelerator")


def _not_the_legacy_advice(record: logging.LogRecord) -> bool:
    return "considered legacy" not in record.getMessage()


def save_original_format(model: keras.Model, path) -> None:
    """Save `model` as HDF5, the original project's format. Keras advises against HDF5 on every such save; the
    file is written on purpose, next to generator.keras, so the advice would only repeat once an epoch in the log."""
    keras_log = logging.getLogger("absl")  # where Keras logs the advice
    keras_log.addFilter(_not_the_legacy_advice)
    try:
        model.save(path)
    finally:
        keras_log.removeFilter(_not_the_legacy_advice)


class RunRecorder(keras.callbacks.Callback):
    """Records one training run. `previous` is the summary of the run this one resumes ({} for a new run):
    its wall time, start and sessions carry over."""

    def __init__(self, run: RunFolder, cfg, data, gan, iteration_log, history=None, iterations=None,
                 previous: dict | None = None):
        super().__init__()
        self.run, self.cfg, self.data, self.gan, self.iteration_log = run, cfg, data, gan, iteration_log
        self.history = history if history is not None else pd.DataFrame()
        self.iterations = iterations if iterations is not None else pd.DataFrame()
        previous = previous or {}
        self.wall_before = previous.get("wall_seconds", 0.0)
        # Wall clock that produced the kept checkpoint: an epoch cut short is discarded, so its seconds
        # count in wall_seconds (time spent) but not here (what a budget has bought).
        self.checkpoint_wall_before = previous.get("checkpoint_wall_seconds", self.wall_before)
        self.committed_at = {}  # epoch -> this session's clock when its checkpoint committed
        self.sessions_before = earlier_sessions(previous)
        self.started_utc = run_started_utc(previous, self.sessions_before)
        self.first_epoch = int(previous.get("epochs_done", 0)) + 1
        self.started = time.perf_counter()
        self.session_started_utc = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        row = {"epoch": done}
        row.update({k: float(v) for k, v in logs.items() if not k.endswith("_step")})
        self.history = pd.concat([self.history, pd.DataFrame([row])], ignore_index=True)
        self.iterations = pd.concat([self.iterations, self.iteration_log.frame()], ignore_index=True)
        self.run.check_free_space(save_bytes(self.run, self.gan))
        atomic_write(self.run.staged(done, "history.csv"), lambda tmp: self.history.to_csv(tmp, index=False))
        atomic_write(self.run.staged(done, "iterations.csv"),
                     lambda tmp: self.iterations.to_csv(tmp, index=False, float_format=ITERATION_FLOAT_FORMAT))
        plots.plot_history(self.history, self.iterations, self.run.staged(done, "plots"))
        generator = self.gan.sampler  # what users generate with: the weight average when there is one
        atomic_write(self.run.staged(done, "generator.keras"), generator.save)
        atomic_write(self.run.staged(done, "generator.h5"), lambda tmp: save_original_format(generator, tmp))
        write_json(self.run.staged(done, "summary.json"), self.summary("running"))
        save_checkpoint(self.run, self.gan, done)
        self.committed_at[done] = time.perf_counter() - self.started

    def summary(self, status: str, history: pd.DataFrame | None = None, kept_epoch: int | None = None) -> dict:
        """The run's summary.json as of `history` (default: every recorded epoch). `kept_epoch`: the epoch whose
        checkpoint survives a stop (default: every recorded epoch's checkpoint commits)."""
        history = self.history if history is None else history
        session_seconds = time.perf_counter() - self.started
        if kept_epoch is None:
            kept_seconds = session_seconds
        elif kept_epoch < self.first_epoch:  # nothing this session trained was kept
            kept_seconds = 0.0
        else:  # a commit that a stop cut short of its bookkeeping still committed: count up to now
            kept_seconds = self.committed_at.get(kept_epoch, session_seconds)
        cfg, data = self.cfg, self.data
        g, d = self.gan.generator.count_params(), self.gan.discriminator.count_params()
        last = history.iloc[-1].to_dict() if len(history) else {}
        iterations = self.iterations
        if len(iterations):
            iterations = iterations[iterations["epoch"] <= (history["epoch"].max() if len(history) else 0)]
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        environment = environment_facts()
        epochs_done = int(history["epoch"].max()) if len(history) else 0
        this_session = {"started_utc": self.session_started_utc, "first_epoch": self.first_epoch,
                        "last_epoch": epochs_done, "wall_seconds": round(session_seconds, 1),
                        **{k: environment.get(k) for k in SESSION_FACTS}}
        return {
            "dataset": cfg.dataset, "model": cfg.model, "version": cfg.version,
            "status": status,
            "epochs_done": epochs_done,
            "epochs_planned": cfg.epochs,
            "image_shape": list(data.image_shape), "num_classes": data.num_classes,
            "label_mode": cfg.label_mode, "label_names": list(data.label_names),
            "latent_dim": cfg.latent_dim,
            "params": {"generator": g, "discriminator": d, "total": g + d},
            "data": {"source": data.source, "train_images": int(len(data.x_train)),
                     "train_is_subset": data.train_is_subset, "train_note": data.train_note,
                     "test_images": int(len(data.x_test))},
            "eval_samples": cfg.eval_samples,
            "wall_seconds": round(self.wall_before + session_seconds, 1),
            "checkpoint_wall_seconds": round(self.checkpoint_wall_before + kept_seconds, 1),
            "mean_epoch_seconds": round(float(history["train_seconds"].mean()), 1) if len(history) else None,
            "final_metrics": {k: round(v, 4) for k, v in last.items() if k != "epoch"},
            "started_utc": self.started_utc or self.session_started_utc,  # when the run began, not this write
            "updated_utc": now,
            "environment": environment,
            "sessions": self.sessions_before + [this_session],
            "images_seen": images_seen(iterations, len(data.x_train), cfg.batch_size),
        }

    def end_early(self, status: str, reason: str) -> str:
        """Record a run that stopped before its last epoch; returns the one-line account of what was kept."""
        self.run.settle()  # a save cut short: a committed epoch is published, an uncommitted one dropped (frees disk)
        kept = self.run.checkpoint_epoch()
        history = self.history
        if len(history):  # a row whose epoch never reached its checkpoint is not done
            history = history[history["epoch"] <= kept]
        record = self.summary(status, history, kept_epoch=kept)
        record["stop_reason"] = (f"{reason}; the checkpoint of epoch {kept} is kept" if kept
                                 else f"{reason}; no epoch had finished, so there is no checkpoint")
        try:
            write_json(self.run.summary, record)
        except OSError:  # a full disk: summary.json keeps describing the last committed epoch, as all files do
            pass
        return record["stop_reason"]

    def finish(self, stop_reason: str | None = None) -> None:
        """Record the end of a run whose every epoch committed (`stop_reason`: a time budget ended it)."""
        record = self.summary("finished")
        if stop_reason:
            record.update(status="stopped", stop_reason=stop_reason)
        write_json(self.run.summary, record)


def earlier_sessions(previous: dict) -> list[dict]:
    """The processes a resumed run has already trained in. A summary written before sessions were recorded
    gives one, for all its epochs, with the hardware of the last process that wrote it."""
    if "sessions" in previous:
        return list(previous["sessions"])
    if not previous.get("epochs_done"):
        return []
    environment = previous.get("environment", {})
    return [{"started_utc": previous.get("started_utc"), "first_epoch": 1, "last_epoch": int(previous["epochs_done"]),
             "wall_seconds": previous.get("wall_seconds"), **{k: environment.get(k) for k in SESSION_FACTS},
             "note": "recorded before sessions were: the hardware of the last process that wrote the summary"}]


def run_started_utc(previous: dict, sessions: list[dict]) -> str | None:
    """When the run began: its first process's start. A summary may carry a later start in its own field, written
    by a process that took a resume's start for the run's."""
    return (sessions[0].get("started_utc") if sessions else None) or previous.get("started_utc")


def images_seen(iterations: pd.DataFrame, train_size: int, batch_size: int) -> int:
    """Training images G and D have been through: each step takes a batch, an epoch's last step the rest."""
    if not len(iterations):
        return 0
    steps = iterations.groupby("epoch")["step"].max()
    return int(sum(min(int(s) * batch_size, train_size) for s in steps))
