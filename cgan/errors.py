"""The errors cgan raises for what a user can fix, and the exit code each ends `cgan` with.

Every message is one line; `cgan.cli.main` prints it as `cgan <command>: error: <message>`. The classes keep
the built-in base they always had (ValueError, RuntimeError), so code that catches those still works.
"""
from __future__ import annotations

import signal

EXIT_BUG = 1  # a traceback: cgan's fault, not the input's
EXIT_USAGE = 2  # an error below, or an OSError or a corrupt file reported in one line
EXIT_DIVERGED = 3  # a NaN or infinite loss stopped training


class CganError(Exception):
    """Input, files or an environment the user can fix (exit code 2)."""


class UsageError(CganError):
    """A command-line argument that cannot be used."""


class ConfigError(CganError, ValueError):
    """A configuration that cannot be used."""


class DataError(CganError, RuntimeError):
    """No usable copy of a dataset."""


class RunError(CganError, RuntimeError):
    """A run folder that cannot be used as asked."""


class BackendError(RunError):
    """Keras or every Keras backend is missing (a generation-only install)."""


class StaleOnnx(RunError):
    """generator.onnx was not exported from the run's current generator.keras."""


class LabelError(CganError, ValueError):
    """A label that the generator cannot produce."""


class EvaluationError(CganError, RuntimeError):
    """Scoring that cannot run as asked (missing weights, a bad sample size)."""


class TrainingDiverged(RuntimeError):
    """A NaN or infinite loss stopped training; the message names the epoch and step (exit code 3)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT or SIGTERM (exit code 128 + the signal). `what` says in one line where it
    stopped and what was kept, `signum` which signal; the message adds how to resume (the CLI gives the exact
    command instead)."""

    def __init__(self, what: str, signum: int = signal.SIGINT):
        super().__init__(what)
        self.what, self.signum = what, signum

    def __str__(self):
        return f"{self.what}; run the same training again (same config and folder) to resume"
