"""`cgan export` writes an ONNX generator that matches Keras; `cgan generate` then needs no framework."""
import json
import os
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from cgan.config import ModelOptions
from cgan.models import build_models

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAMEWORKS = ("keras", "tensorflow", "torch", "jax")


@pytest.fixture(scope="module")
def exported_run(tmp_path_factory):
    """A tiny m1 generator in a run folder, exported with the CLI."""
    run = tmp_path_factory.mktemp("onnx_run")
    generator, _ = build_models("m1", (28, 28, 1), 10, latent_dim=8,
                                options=ModelOptions(g_filters=[8, 8, 4], d_filters=[4, 8]))
    generator.save(run / "generator.keras")
    (run / "summary.json").write_text(json.dumps({"dataset": "mnist", "label_names": [str(d) for d in range(10)],
                                                  "latent_dim": 8, "image_shape": [28, 28, 1]}))
    done = _cli("export", "--run", run)
    assert done.returncode == 0 and (run / "generator.onnx").is_file(), done.stderr[-2000:]
    assert "max difference from Keras" in done.stdout
    return run


def _cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("KERAS_BACKEND", None)  # so the Keras path says which backend it chose
    return subprocess.run([sys.executable, "-m", "cgan", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=300)


def test_onnx_matches_keras_for_any_batch_size(exported_run):
    import onnxruntime

    model = keras.saving.load_model(exported_run / "generator.keras", compile=False)
    session = onnxruntime.InferenceSession(str(exported_run / "generator.onnx"), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(3)
    for batch in (1, 7, 64):  # exported with a dynamic batch axis
        noise = rng.standard_normal((batch, 8)).astype("float32")
        labels = rng.integers(0, 10, (batch, 1)).astype("int32")
        expected = keras.ops.convert_to_numpy(model([noise, labels], training=False))
        got = session.run(None, {"noise": noise, "label": labels})[0]
        assert got.shape == expected.shape == (batch, 28, 28, 1)
        np.testing.assert_allclose(got, expected, atol=1e-4)


def test_generate_uses_onnx_without_importing_a_framework(exported_run, tmp_path):
    code = ("import sys; from cgan.cli import main; "
            f"code = main(['generate', '--run', {str(exported_run)!r}, '--label', 'all', '--seed', '4', "
            f"'--out', {str(tmp_path / 'onnx.npz')!r}]); "
            f"print('LOADED', [m for m in {FRAMEWORKS!r} if m in sys.modules]); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "LOADED []" in done.stdout, done.stdout


def test_onnx_and_keras_paths_give_the_same_images(exported_run, tmp_path):
    onnx_out, keras_out = tmp_path / "onnx.npz", tmp_path / "keras.npz"
    assert _cli("generate", "--run", exported_run, "--label", "all", "--n", 3, "--seed", 4,
                "--out", onnx_out).returncode == 0
    stale = tmp_path / "stale_run"
    stale.mkdir()
    for name in ("summary.json", "generator.onnx", "generator.keras"):
        (stale / name).write_bytes((exported_run / name).read_bytes())
    later = time.time() + 60
    os.utime(stale / "generator.keras", (later, later))  # trained on after the export
    done = _cli("generate", "--run", stale, "--label", "all", "--n", 3, "--seed", 4, "--out", keras_out)
    assert done.returncode == 0 and "backend" in done.stderr, done.stderr  # a stale ONNX file falls back to Keras
    a, b = np.load(onnx_out), np.load(keras_out)
    assert a["y"].tolist() == b["y"].tolist()
    assert np.abs(a["x"].astype(int) - b["x"].astype(int)).max() <= 1  # uint8 rounding of float noise


def test_export_of_a_missing_run_is_one_line_exit_2(tmp_path):
    done = _cli("export", "--run", tmp_path / "nowhere")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_onnx_file_that_disagrees_with_its_run_is_refused(exported_run, tmp_path):
    run = tmp_path / "mismatch"
    run.mkdir()
    for name in ("generator.keras", "generator.onnx"):
        (run / name).write_bytes((exported_run / name).read_bytes())
    os.utime(run / "generator.onnx")  # newer than generator.keras: the ONNX path is taken
    summary = json.loads((exported_run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "latent_dim": 9}))
    done = _cli("generate", "--run", run, "--label", "1", "--out", tmp_path / "x.png")
    assert done.returncode == 2 and "noise of size 9" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
