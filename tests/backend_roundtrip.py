"""Run in a subprocess by tests/training/test_backends.py with KERAS_BACKEND set.

    python tests/backend_roundtrip.py WORKDIR

Trains the tiny GAN for two epochs on the active backend, checks that both
networks and both optimizers advanced, checks the fast model's EMA against its
update formula step by step, saves the generator and its outputs for fixed
inputs to WORKDIR, then loads the generators that earlier runs saved on other
backends and checks they reproduce those outputs here.
"""
import json
import sys
from pathlib import Path

import keras
import numpy as np

from cgan.config import load_config
from cgan.generate import load_generator
from cgan.training.train import build_gan

STEPS_PER_EPOCH, EPOCHS, BATCH = 4, 2, 8


def tiny_gan():
    cfg = load_config("configs/mnist/m1_v1.toml").with_overrides(
        latent_dim=8, batch_size=BATCH, model_options={"g_filters": [8, 8, 4], "d_filters": [4, 8]})
    return build_gan(cfg, (28, 28, 1), 10)


def tiny_fast_gan():
    """The fast model with every extra on: hinge loss, EMA, DiffAugment, two D steps per G step, the class loss.

    EMA decay 0.2: the warm-up (1 + t) / (10 + t) rules at step 1 (0.18), the decay from step 2 on.
    """
    cfg = load_config("configs/mnist/fast_v1.toml").with_overrides(
        latent_dim=8, batch_size=BATCH, ema_decay=0.2, augment=["color", "translation", "cutout"], d_steps=2,
        class_loss_weight=0.5,
        model_options={"g_filters": [8, 4], "d_filters": [4, 8], "spectral_norm": True})
    return build_gan(cfg, (28, 28, 1), 10)


def numpy_weights(model):
    return [np.array(keras.ops.convert_to_numpy(w)) for w in model.weights]


def changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


def ema_formula_error(gan, x, y, steps: int) -> float:
    """Largest gap between the EMA generator and its update formula over `steps` training steps.

    After G's step t (1, 2, ...) every weight (BatchNorm statistics included) moves as
    ema = d * ema + (1 - d) * g with d = min(ema_decay, (1 + t) / (10 + t)). One batch per `fit`,
    so G's weights after each step can be read on every backend (JAX keeps them in the trainer mid-fit).
    """
    expected, worst = numpy_weights(gan.ema_generator), 0.0
    for _ in range(steps):
        gan.fit(x[:BATCH], y[:BATCH], batch_size=BATCH, epochs=1, verbose=0)
        t = int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations))
        decay = min(gan.ema_decay, (1 + t) / (10 + t))
        expected = [decay * e + (1 - decay) * g for e, g in zip(expected, numpy_weights(gan.generator))]
        worst = max(worst, *(float(np.abs(e - a).max()) for e, a in zip(expected, numpy_weights(gan.ema_generator))))
    return worst


def fixed_inputs():
    rng = np.random.default_rng(1)
    return rng.standard_normal((6, 8)).astype("float32"), np.arange(6, dtype="int32").reshape(-1, 1)


def main(workdir: Path) -> dict:
    backend = keras.backend.backend()
    gan = tiny_gan()
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (STEPS_PER_EPOCH * BATCH, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, len(x)).astype("int32")
    g0, d0, seed0 = numpy_weights(gan.generator), numpy_weights(gan.discriminator), np.array(gan.seed_generator.state)
    history = gan.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0, validation_data=(x[:BATCH], y[:BATCH]))
    report = {
        "backend": backend,
        "d_iterations": int(keras.ops.convert_to_numpy(gan.d_optimizer.iterations)),
        "g_iterations": int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations)),
        "g_changed": changed(g0, numpy_weights(gan.generator)),
        "d_changed": changed(d0, numpy_weights(gan.discriminator)),
        "seed_advanced": not np.array_equal(seed0, np.array(gan.seed_generator.state)),
        "losses_finite": bool(all(np.isfinite(v).all() for v in history.history.values())),
    }
    fast = tiny_fast_gan()
    report["fast"] = {"ema_formula_error": ema_formula_error(fast, x, y, STEPS_PER_EPOCH),
                      "d_iterations": int(keras.ops.convert_to_numpy(fast.d_optimizer.iterations)),
                      "g_iterations": int(keras.ops.convert_to_numpy(fast.g_optimizer.iterations))}
    noise, labels = fixed_inputs()
    gan.generator.save(workdir / f"{backend}.keras")
    np.save(workdir / f"{backend}.npy", keras.ops.convert_to_numpy(gan.generator([noise, labels], training=False)))
    report["loaded_from"] = {}
    for saved in sorted(workdir.glob("*.keras")):
        if saved.stem != backend:
            out = keras.ops.convert_to_numpy(load_generator(saved)([noise, labels], training=False))
            report["loaded_from"][saved.stem] = float(np.abs(out - np.load(workdir / f"{saved.stem}.npy")).max())
    return report


if __name__ == "__main__":
    print("REPORT " + json.dumps(main(Path(sys.argv[1]))))
