"""Spectral normalization computes the paper's gradient, with the same numbers on every backend.

Miyato et al. (2018): the layer uses W / sigma(W), sigma from one power-iteration step on u, and the
gradient with respect to the raw W goes through sigma with u and v held constant. tests/sn_gradient.py
takes one SGD step through cgan's backend code on each installed backend; here the gradients are compared
with each other and with that formula worked out in numpy (float64) and by finite differences.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from cgan.models.common import SpectralNormalization
from tests.sn_gradient import fixed_values

# The module fixture is expensive: under pytest-xdist (make test) these tests share one worker.
pytestmark = pytest.mark.xdist_group("models/test_spectral_norm")

REPO = Path(__file__).resolve().parents[2]
INSTALLED = [b for b in ("tensorflow", "torch", "jax") if importlib.util.find_spec(b)]


def _normalize(a):
    return a / np.linalg.norm(a)


def paper_reference():
    """Output, gradients and new u of the paper's formula for the loss sum(cotangent * layer(x))."""
    f = fixed_values()
    w, x, c = f["kernel"], f["x"], f["cotangent"]
    v = _normalize(f["u"] @ w.T)  # (1, IN)
    u = _normalize(v @ w)  # (1, OUT): the power-iteration step
    sigma = (v @ w @ u.T).item()
    dl_dwbar = x.T @ c  # gradient with respect to the normalized kernel W / sigma
    # d/dW of L(W / sigma(W)) with u, v constant: dsigma/dW = v^T u.
    kernel_grad = dl_dwbar / sigma - np.sum(dl_dwbar * w) / sigma**2 * (v.T @ u)

    def loss(kernel):
        return np.sum(c * (x @ (kernel / (v @ kernel @ u.T).item()) + f["bias"]))

    step = 1e-6
    finite = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        bump = np.zeros_like(w)
        bump[i] = step
        finite[i] = (loss(w + bump) - loss(w - bump)) / (2 * step)
    return {"output": x @ (w / sigma) + f["bias"], "kernel_grad": kernel_grad, "finite_difference": finite,
            "bias_grad": c.sum(axis=0), "u_after": u, "grad_without_sigma_term": dl_dwbar}


@pytest.fixture(scope="module")
def reports():
    found = {}
    for backend in INSTALLED:
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        done = subprocess.run([sys.executable, "tests/sn_gradient.py"], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=300)
        lines = [line for line in done.stdout.splitlines() if line.startswith("REPORT ")]
        assert done.returncode == 0 and lines, f"{backend} failed:\n{done.stderr[-3000:]}"
        found[backend] = {k: np.asarray(v) if k != "backend" else v
                          for k, v in json.loads(lines[-1][len("REPORT "):]).items()}
    return found


def test_the_reference_is_the_papers_formula_and_tells_the_variants_apart():
    ref = paper_reference()
    np.testing.assert_allclose(ref["kernel_grad"], ref["finite_difference"], rtol=1e-6, atol=1e-6)
    # Keras's SpectralNormalization on TensorFlow and PyTorch trains on dL/d(W / sigma) instead: far from it.
    assert np.abs(ref["kernel_grad"] - ref["grad_without_sigma_term"]).max() > 0.5


@pytest.mark.slow
@pytest.mark.parametrize("backend", INSTALLED)
def test_each_backend_computes_the_papers_gradient(reports, backend):
    ref, got = paper_reference(), reports[backend]
    assert got["backend"] == backend
    for key in ("output", "kernel_grad", "bias_grad", "u_after"):
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-4, atol=1e-5, err_msg=f"{backend}: {key}")


@pytest.mark.slow
@pytest.mark.skipif(len(INSTALLED) < 2, reason="needs two installed backends")
def test_backends_agree_with_each_other(reports):
    first, *others = INSTALLED
    for backend in others:
        for key in ("kernel_grad", "bias_grad", "u_after"):
            np.testing.assert_allclose(reports[backend][key], reports[first][key], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{backend} vs {first}: {key}")


def _sn_model(wrapper):
    return keras.Sequential([keras.Input((6,)), wrapper(keras.layers.Dense(4, name="dense"), name="sn")])


def test_u_moves_in_training_only_and_the_kernel_stays_raw():
    model = _sn_model(SpectralNormalization)
    layer = model.get_layer("sn")
    x = np.random.default_rng(0).normal(size=(3, 6)).astype("float32")
    kernel, u = [np.array(keras.ops.convert_to_numpy(v)) for v in (layer.layer.kernel, layer.vector_u)]
    model(x, training=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.vector_u), u)
    model(x, training=True)
    assert np.abs(keras.ops.convert_to_numpy(layer.vector_u) - u).max() > 1e-3
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.layer.kernel), kernel)
    # Repeated power iterations converge to the top singular value: W / sigma then has spectral norm 1.
    for _ in range(50):
        model(x, training=True)
    normalized, _ = layer.normalized_kernel(layer.layer.kernel.value)
    assert np.linalg.norm(keras.ops.convert_to_numpy(normalized), 2) == pytest.approx(1.0, abs=1e-4)


def test_a_discriminator_with_spectral_norm_saves_and_loads_safely(tmp_path):
    from cgan.config import ModelOptions
    from cgan.models import build_models

    _, d = build_models("fast", (28, 28, 1), 10, 8, ModelOptions(g_filters=[8, 4], d_filters=[4, 8],
                                                                 spectral_norm=True))
    assert any(isinstance(layer, SpectralNormalization) for layer in d.layers)
    rng = np.random.default_rng(0)
    images, labels = rng.uniform(-1, 1, (4, 28, 28, 1)).astype("float32"), np.arange(4, dtype="int32")[:, None]
    d([images, labels], training=True)  # move u away from its initial value
    d.save(tmp_path / "d.keras")
    loaded = keras.saving.load_model(tmp_path / "d.keras", safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded([images, labels], training=False)),
                               keras.ops.convert_to_numpy(d([images, labels], training=False)), rtol=1e-6)


def test_checkpoints_written_with_keras_spectral_normalization_still_load(tmp_path):
    old = _sn_model(keras.layers.SpectralNormalization)
    old.save_weights(tmp_path / "old.weights.h5")
    new = _sn_model(SpectralNormalization)
    new.load_weights(tmp_path / "old.weights.h5")
    for a, b in zip(old.weights, new.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
