"""Child processes of the benchmarks' long runs: signals reach them, and a time limit stops them gently.

A training child (`cgan train`) that gets SIGTERM or SIGINT ends its epoch and keeps its checkpoint. Stopping the
parent (`pkill -TERM -f tools.zoo_queue`, a time limit) must therefore
reach the child: a parent that simply died would leave it training on, orphaned, until something killed it hard.
"""
from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORWARDED = (signal.SIGTERM, signal.SIGINT)
_signalled: list[int] = []  # signals passed on to a child so far in this process


def stop_requested() -> bool:
    """Whether this process was asked to stop (and passed it on): a caller should start no further child."""
    return bool(_signalled)


@contextlib.contextmanager
def _forwarding_signals_to(process: subprocess.Popen):
    # Python lets only the main thread set handlers; a child started from another thread is stopped by its limit.
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def forward(signum, _frame):
        _signalled.append(signum)
        process.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_child(command: list[str], *, env: dict | None = None, stdout=None, limit_s: float | None = None,
              grace_s: float = 30.0) -> tuple[int, bool]:
    """(exit code, stopped at limit_s). SIGTERM and SIGINT sent to this process are passed on to the child; past
    limit_s the child gets SIGTERM, and SIGKILL grace_s later. stdout: a file for the child's output and errors."""
    stderr = subprocess.STDOUT if stdout is not None else None
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=stdout, stderr=stderr)
    with _forwarding_signals_to(process):
        try:
            return process.wait(timeout=limit_s), False
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=grace_s), True
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(), True
