"""Shared fixtures. Tests use tiny models and small real-data subsets.

The backend comes from KERAS_BACKEND (default: cgan's choice, torch where installed);
tests/training/test_backends.py covers the other backends in subprocesses.
"""
import os
import subprocess
import sys
from pathlib import Path

# Under pytest-xdist (make test) every core already runs a worker: one compute thread per worker, and per process
# it spawns, keeps them from fighting over the cores. Set before Keras imports its backend, which reads them once.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ.setdefault(name, "1")

import numpy as np
import pytest

from cgan.runtime import ensure_backend

ensure_backend()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("CGAN_DATA_DIR") or REPO.parent / "shared" / "datasets")


@pytest.fixture(scope="session")
def data_dir():
    if not (DATA_DIR / "mnist.npz").is_file():
        pytest.fail(f"test data missing: {DATA_DIR}/mnist.npz (set CGAN_DATA_DIR)")
    return DATA_DIR


def run_cli(*args, env=None, cwd=None, timeout=600):
    """Run `python -m cgan ...` in a fresh process; returns CompletedProcess."""
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    return subprocess.run([sys.executable, "-m", "cgan", *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=timeout)


def assert_same_pixels_across_processes(actual, expected):
    """Images of one generator and seed made in two processes. Their thread pools may sum in another order,
    so a pixel whose float value sits on a rounding edge can move by one grey level (CI saw 6 of 4,704);
    a wrong weight, seed or label moves far more than that."""
    difference = np.abs(np.asarray(actual, dtype=int) - np.asarray(expected, dtype=int))
    assert difference.shape == np.shape(expected)
    assert difference.max() <= 1 and (difference > 0).mean() < 0.01, (difference.max(), difference.mean())


@pytest.fixture
def cli():
    return run_cli
