import keras
import numpy as np
import pytest

from cgan.config import ModelOptions
from cgan.models import NOMINAL_PARAMS, build_models

SHAPES = [((28, 28, 1), 10), ((32, 32, 3), 10), ((32, 32, 3), 100)]
# The datasets each original model was trained on in the original project.
ORIGINAL_USES = [("m1", (28, 28, 1), 10), ("m3", (28, 28, 1), 10), ("m3", (32, 32, 3), 100),
                 ("m4", (32, 32, 3), 100), ("m5", (32, 32, 3), 100), ("m5", (32, 32, 3), 10)]


@pytest.mark.parametrize("name", ["m1", "m3", "m4"])
@pytest.mark.parametrize("shape, classes", SHAPES)
def test_generator_and_discriminator_shapes(name, shape, classes):
    g, d = build_models(name, shape, classes, latent_dim=16)
    noise = np.random.default_rng(0).standard_normal((3, 16)).astype("float32")
    labels = np.array([[0], [1], [classes - 1]], "int32")
    images = keras.ops.convert_to_numpy(g([noise, labels], training=False))
    assert images.shape == (3, *shape) and np.abs(images).max() <= 1.0
    probs = keras.ops.convert_to_numpy(d([images, labels], training=False))
    assert probs.shape == (3, 1) and ((probs >= 0) & (probs <= 1)).all()


@pytest.mark.parametrize("name, shape, classes", ORIGINAL_USES)
def test_parameter_counts_match_the_original_within_25_percent(name, shape, classes):
    g, d = build_models(name, shape, classes)
    total = g.count_params() + d.count_params()
    assert abs(total - NOMINAL_PARAMS[name]) <= 0.25 * NOMINAL_PARAMS[name], total


def test_m4_is_m3_plus_about_0_2m():
    m3 = sum(m.count_params() for m in build_models("m3", (32, 32, 3), 100))
    m4 = sum(m.count_params() for m in build_models("m4", (32, 32, 3), 100))
    assert 0.15e6 <= m4 - m3 <= 0.25e6


def test_version_options_change_the_architecture():
    v2 = ModelOptions(g_filters=[256, 128, 64, 32], dropout_at="start")
    g1, d1 = build_models("m5", (32, 32, 3), 10)
    g2, d2 = build_models("m5", (32, 32, 3), 10, options=v2)
    assert g2.count_params() < g1.count_params() / 2
    assert d2.layers[[l.name for l in d2.layers].index("dropout_start")]
    assert "dropout_end" in [l.name for l in d1.layers]
    momentum = build_models("m5", (32, 32, 3), 10, options=ModelOptions(bn_momentum=0.8))[0]
    assert {l.momentum for l in momentum.layers if isinstance(l, keras.layers.BatchNormalization)} == {0.8}


@pytest.mark.parametrize("name", ["m1", "m3", "m4"])
def test_label_reaches_both_networks(name):
    g, d = build_models(name, (28, 28, 1), 10, latent_dim=8)
    noise = np.repeat(np.random.default_rng(1).standard_normal((1, 8)).astype("float32"), 2, axis=0)
    labels = np.array([[3], [7]], "int32")
    out = keras.ops.convert_to_numpy(g([noise, labels], training=False))
    assert np.abs(out[0] - out[1]).max() > 1e-4, "same noise, different label must change G's output"
    # One image under all ten labels: an untrained D's verdicts sit near 0.5 and may differ by little for two
    # labels, so the spread over ten is what must not vanish.
    same_image = np.repeat(out[:1], 10, axis=0)
    probs = keras.ops.convert_to_numpy(d([same_image, np.arange(10, dtype="int32")[:, None]], training=False))
    assert float(probs.max() - probs.min()) > 1e-6, "the label must change D's verdict"


def test_unknown_model_is_rejected():
    with pytest.raises(ValueError, match="unknown model 'm2'"):
        build_models("m2", (28, 28, 1), 10)


def test_every_cpu_backend_declaration_names_a_backend():
    """A misspelt CPU_BACKEND would silently fall back to the general order."""
    from cgan.models import REGISTRY
    from cgan.runtime import PREFERENCE, VECTOR_EXTENSIONS

    extensions = {label for _, label in VECTOR_EXTENSIONS} | {"default"}
    for spec in REGISTRY.values():
        declared = spec.cpu_backend if isinstance(spec.cpu_backend, dict) else {"default": spec.cpu_backend}
        assert set(declared) <= extensions, spec.name
        assert set(declared.values()) <= {None, *PREFERENCE["cpu"]}, spec.name
