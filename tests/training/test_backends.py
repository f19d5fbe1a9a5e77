"""The GAN trains on every installed Keras backend, and generators move between backends.

Each backend runs in its own process (Keras fixes its backend at import), in
the order TensorFlow, PyTorch, JAX, so later backends load the generators the
earlier ones saved.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The module fixture is expensive: under pytest-xdist (make test) these tests share one worker.
pytestmark = pytest.mark.xdist_group("training/test_backends")

REPO = Path(__file__).resolve().parents[2]
ORDER = ("tensorflow", "torch", "jax")
INSTALLED = [b for b in ORDER if importlib.util.find_spec(b)]
STEPS_PER_EPOCH = 4  # tests/backend_roundtrip.py: 4 steps per epoch, 2 epochs
EXPECTED_STEPS = STEPS_PER_EPOCH * 2


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("backends")
    found = {}
    for backend in INSTALLED:
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        done = subprocess.run([sys.executable, "tests/backend_roundtrip.py", str(workdir)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=600)
        lines = [line for line in done.stdout.splitlines() if line.startswith("REPORT ")]
        assert done.returncode == 0 and lines, f"{backend} failed:\n{done.stderr[-3000:]}"
        found[backend] = json.loads(lines[-1][len("REPORT "):])
    return found


@pytest.mark.slow
@pytest.mark.parametrize("backend", INSTALLED)
def test_train_step_updates_both_networks_and_both_optimizers(reports, backend):
    report = reports[backend]
    assert report["backend"] == backend
    # On JAX a second optimizer outside `model.optimizer` would stay at 0 (keras issue 19358).
    assert report["d_iterations"] == EXPECTED_STEPS and report["g_iterations"] == EXPECTED_STEPS
    assert report["g_changed"] and report["d_changed"]
    assert report["seed_advanced"], "noise sampling must advance the seed state (JAX: inside the stateless scope)"
    assert report["losses_finite"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", INSTALLED)
def test_fast_model_extras_train_on_every_backend(reports, backend):
    """Hinge loss, EMA (assigned inside the step), DiffAugment (random inside the step), d_steps = 2, the class
    loss (D's logits per class from its own layers, inside the step)."""
    fast = reports[backend]["fast"]
    assert fast["d_iterations"] == 2 * STEPS_PER_EPOCH and fast["g_iterations"] == STEPS_PER_EPOCH
    assert fast["ema_formula_error"] < 1e-5, "EMA weights must follow ema = d * ema + (1 - d) * g step by step"


@pytest.mark.slow
@pytest.mark.skipif(len(INSTALLED) < 2, reason="needs two installed backends")
def test_generator_saved_on_one_backend_generates_the_same_on_another(reports):
    pairs = {(source, target): diff for target, r in reports.items() for source, diff in r["loaded_from"].items()}
    assert len(pairs) == len(INSTALLED) * (len(INSTALLED) - 1) // 2
    assert all(diff < 1e-4 for diff in pairs.values()), pairs
