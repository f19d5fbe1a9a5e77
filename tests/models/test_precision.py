"""Under CGAN_PRECISION=bf16 (Keras's mixed_bfloat16) the output layers of G and D stay in float32."""
import keras
import numpy as np
import pytest

from cgan.config import MODELS, ModelOptions
from cgan.models import build_models, discriminator_output

TINY = {"m1": dict(g_filters=[8, 8, 4], d_filters=[4, 8]),
        "m3": dict(g_filters=[8, 8, 8, 4], d_filters=[4, 8, 8]),
        "m4": dict(g_filters=[8, 8, 8, 4], d_filters=[4, 8, 8]),
        "m5": dict(g_filters=[8, 8, 8, 4], d_filters=[4, 4, 8, 8, 8]),
        "fast": dict(g_filters=[8, 4], d_filters=[4, 8], spectral_norm=True),
        "fast32": dict(g_filters=[8, 8, 4], d_filters=[4, 8, 8]),
        "sngan": dict(g_filters=[8], d_filters=[8])}
LATENT = 8


@pytest.fixture
def mixed_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


def test_every_model_is_covered():
    assert set(TINY) == set(MODELS)


@pytest.mark.parametrize("name", sorted(TINY))
def test_outputs_are_float32_under_mixed_bfloat16(name, mixed_bfloat16):
    shape = (28, 28, 1) if name in ("m1", "fast") else (32, 32, 3)
    g, d = build_models(name, shape, 10, LATENT, ModelOptions(**TINY[name]))
    noise = keras.ops.convert_to_tensor(np.random.default_rng(0).standard_normal((2, LATENT)).astype("float32"))
    labels = keras.ops.convert_to_tensor(np.array([[1], [2]], "int32"))
    images = g([noise, labels], training=False)
    verdict = d([images, labels], training=False)
    assert _dtype(g.outputs[0]) == _dtype(images) == "float32"
    assert _dtype(d.outputs[0]) == _dtype(verdict) == "float32"
    assert any(layer.compute_dtype == "bfloat16" for layer in g.layers)  # the rest still runs in bf16


def test_a_logit_of_5_reads_0_9933(mixed_bfloat16):
    _, d = build_models("m1", (28, 28, 1), 10, LATENT, ModelOptions(**TINY["m1"]))
    assert discriminator_output("m1") == "probability"
    head = d.get_layer("real_prob")
    head.kernel.assign(np.zeros(head.kernel.shape, "float32"))
    head.bias.assign(np.array([5.0], "float32"))
    prob = keras.ops.convert_to_numpy(d([np.zeros((1, 28, 28, 1), "float32"), np.zeros((1, 1), "int32")]))
    # bfloat16 keeps 8 significant bits: sigmoid(5) = 0.99331 would read 0.9921875.
    assert float(prob[0, 0]) == pytest.approx(1 / (1 + np.exp(-5.0)), abs=1e-5)
