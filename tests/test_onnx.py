"""`cgan export` writes an ONNX generator that matches Keras; `cgan generate` then needs no framework."""
import json
import os
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from cgan.errors import RunError
from cgan.generate import Generator
from cgan.io import file_sha256
from cgan.onnx import KERAS_SHA256_KEY, NUM_CLASSES_KEY, OnnxGenerator
from cgan.runs import results_root
from tests.conftest import assert_same_pixels_across_processes
from tests.tiny_generator import tiny_generator, tiny_generator_run

# The module fixture is expensive: under pytest-xdist (make test) these tests share one worker.
pytestmark = pytest.mark.xdist_group("test_onnx")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAMEWORKS = ("keras", "tensorflow", "torch", "jax")


@pytest.fixture(scope="module")
def exported_run(tmp_path_factory):
    """A tiny m1 generator in a run folder, exported with the CLI."""
    run = tiny_generator_run(tmp_path_factory.mktemp("onnx_run"))
    done = _cli("export", "--run", run)
    assert done.returncode == 0 and (run / "generator.onnx").is_file(), done.stderr[-2000:]
    assert "max difference from Keras" in done.stdout
    return run


def _cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("KERAS_BACKEND", None)  # so the Keras path says which backend it chose
    return subprocess.run([sys.executable, "-m", "cgan", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=300)


@pytest.mark.slow
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


@pytest.mark.slow
def test_generate_uses_onnx_without_importing_a_framework(exported_run, tmp_path):
    code = ("import sys; from cgan.cli import main; "
            f"code = main(['generate', '--run', {str(exported_run)!r}, '--label', 'all', '--seed', '4', "
            f"'--out', {str(tmp_path / 'onnx.npz')!r}]); "
            f"print('LOADED', [m for m in {FRAMEWORKS!r} if m in sys.modules]); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "LOADED []" in done.stdout, done.stdout


@pytest.mark.slow
def test_onnx_and_keras_paths_give_the_same_images(exported_run, tmp_path):
    onnx_out, keras_out = tmp_path / "onnx.npz", tmp_path / "keras.npz"
    assert _cli("generate", "--run", exported_run, "--label", "all", "--n", 3, "--seed", 4,
                "--out", onnx_out).returncode == 0
    keras_only = tmp_path / "keras_only"
    keras_only.mkdir()
    for name in ("summary.json", "generator.keras"):
        (keras_only / name).write_bytes((exported_run / name).read_bytes())
    done = _cli("generate", "--run", keras_only, "--label", "all", "--n", 3, "--seed", 4, "--out", keras_out)
    assert done.returncode == 0 and "backend" in done.stderr, done.stderr  # no ONNX file: Keras
    a, b = np.load(onnx_out), np.load(keras_out)
    assert a["y"].tolist() == b["y"].tolist()
    assert np.abs(a["x"].astype(int) - b["x"].astype(int)).max() <= 1  # uint8 rounding of float noise


@pytest.mark.slow
def test_export_of_a_missing_run_is_one_line_exit_2(tmp_path):
    done = _cli("export", "--run", tmp_path / "nowhere")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_export_refuses_an_unknown_weight_format_before_writing(tmp_path):
    from cgan.onnx import export_onnx

    with pytest.raises(RunError, match="--weights must be one of float32, float16, int8, not 'fp8'"):
        export_onnx(tmp_path, weights="fp8")
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
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


@pytest.mark.slow
def test_an_onnx_only_run_must_name_the_classes_its_file_knows(exported_run, tmp_path):
    """`cgan export` records the class count; a file without it is probed with the last class the run names."""
    import onnx

    summary = json.loads((exported_run / "summary.json").read_text())
    for recorded, names, message in ((True, 3, "knows 10 classes but the run names 3"),
                                     (False, 12, "cannot make class 11: it knows fewer classes than the 12")):
        run = tmp_path / f"{recorded}_{names}"
        run.mkdir()
        model = onnx.load(str(exported_run / "generator.onnx"))
        if not recorded:  # as `cgan export` wrote it before it recorded the count
            kept = [p for p in model.metadata_props if p.key != NUM_CLASSES_KEY]
            del model.metadata_props[:]
            model.metadata_props.extend(kept)
        onnx.save(model, str(run / "generator.onnx"))
        (run / "summary.json").write_text(json.dumps({**summary, "label_names": [str(i) for i in range(names)]}))
        with pytest.raises(RunError, match=message):
            OnnxGenerator.from_run(run)


@pytest.mark.slow
@pytest.mark.parametrize("change, note", [("swap generator.keras", "was exported from another generator.keras"),
                                          ("export without hash", "records no hash of generator.keras")])
def test_an_onnx_file_not_exported_from_the_keras_file_is_not_used(exported_run, tmp_path, change, note):
    """File times prove nothing (git does not keep them): the ONNX file records the Keras file's SHA-256."""
    import onnx

    run = tmp_path / "run"
    run.mkdir()
    for name in ("summary.json", "generator.keras", "generator.onnx"):
        (run / name).write_bytes((exported_run / name).read_bytes())
    if change == "swap generator.keras":
        tiny_generator(seed=1).save(run / "generator.keras")  # other weights, same architecture
    else:  # what `cgan export` wrote before it recorded hashes
        model = onnx.load(str(run / "generator.onnx"))
        del model.metadata_props[:]
        onnx.save(model, str(run / "generator.onnx"))
    os.utime(run / "generator.onnx", (time.time() + 60,) * 2)  # newer: the only check there used to be
    done = _cli("generate", "--run", run, "--label", "all", "--n", 2, "--seed", 4, "--out", tmp_path / "x.npz")
    assert done.returncode == 0, done.stderr[-2000:]
    notes = [line for line in done.stderr.splitlines() if "generator.onnx" in line]
    assert len(notes) == 1 and note in notes[0] and "generating with generator.keras" in notes[0], done.stderr
    expected, _ = Generator.from_run(run).generate(range(10), 2, 4)
    with np.load(tmp_path / "x.npz") as saved:
        assert_same_pixels_across_processes(saved["x"], expected)
    if change == "swap generator.keras":
        from_old_onnx, _ = OnnxGenerator.from_run(exported_run).generate(range(10), 2, 4)
        assert np.abs(from_old_onnx.astype(int) - expected.astype(int)).max() > 10


def test_committed_onnx_files_record_their_keras_file():
    """So that a fresh clone generates through ONNX Runtime (`cgan export --run <run>` after retraining). A run
    committed with generator.onnx alone names, in generator.onnx.json, the generator.keras it was made from."""
    import onnx

    exported = sorted(results_root().glob("*/*/generator.onnx"))
    assert exported, "the shipped runs have generator.onnx files"
    for path in exported:
        recorded = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        keras_file = path.parent / "generator.keras"
        expected = (file_sha256(keras_file) if keras_file.is_file()
                    else json.loads((path.parent / "generator.onnx.json").read_text())["keras_sha256"])
        assert recorded.get(KERAS_SHA256_KEY) == expected, path
        assert path.stat().st_size < 20 * 10**6, path


@pytest.mark.slow
# A tiny generator: most of its tensors are under MIN_ELEMENTS and stay float32, so the file shrinks by less than
# the 2x and 4x of the large tensors (tests/test_onnx_weights.py measures those).
@pytest.mark.parametrize("weights, smaller_than, grey_levels", [("float16", 1.0, 2), ("int8", 1.0, 40)])
def test_export_with_compact_weights(exported_run, tmp_path, weights, smaller_than, grey_levels):
    run = tmp_path / weights
    run.mkdir()
    for name in ("summary.json", "generator.keras"):
        (run / name).write_bytes((exported_run / name).read_bytes())
    done = _cli("export", "--run", run, "--weights", weights)
    assert done.returncode == 0 and f"{weights} weights" in done.stdout, done.stderr[-2000:]
    assert (run / "generator.onnx").stat().st_size < smaller_than * (exported_run / "generator.onnx").stat().st_size
    compact = OnnxGenerator.from_run(run)
    assert compact.source == f"generator.onnx ({weights} weights)"
    assert OnnxGenerator.from_run(exported_run).source == "generator.onnx (float32 weights)"
    a, _ = compact.generate(range(10), 2, 4)
    b, _ = Generator.from_run(run).generate(range(10), 2, 4)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= grey_levels


@pytest.mark.slow
def test_an_export_over_the_file_limit_keeps_its_weights_in_parts(exported_run, tmp_path):
    import onnx

    whole, parted = tmp_path / "whole", tmp_path / "parted"
    for run in (whole, parted):
        run.mkdir()
        for name in ("summary.json", "generator.keras"):
            (run / name).write_bytes((exported_run / name).read_bytes())
    assert _cli("export", "--run", whole, "--weights", "float16").returncode == 0
    sizes = [len(t.raw_data) for t in onnx.load(str(whole / "generator.onnx")).graph.initializer]
    limit = max(max(sizes), sum(sizes) // 3)  # room for the largest weight, too little for all of them
    done = _cli("export", "--run", parted, "--weights", "float16", "--max-file-mb", limit / 1e6)
    assert done.returncode == 0 and "files; max difference" in done.stdout, done.stderr[-2000:]
    parts = sorted(parted.glob("generator.onnx.*.part"))
    assert len(parts) >= 3 and all(part.stat().st_size <= limit for part in parts)
    assert sum(part.stat().st_size for part in parts) == sum(sizes)  # every weight moved out, none twice
    a, _ = OnnxGenerator.from_run(parted).generate(range(10), 2, 4)
    b, _ = OnnxGenerator.from_run(whole).generate(range(10), 2, 4)
    assert np.array_equal(a, b)  # the same numbers, stored elsewhere

    assert _cli("export", "--run", parted, "--weights", "int8").returncode == 0  # one file again: no part left
    assert not list(parted.glob("generator.onnx.*.part"))
    assert _cli("export", "--run", parted, "--weights", "float16", "--max-file-mb", limit / 1e6).returncode == 0
    next(parted.glob("generator.onnx.*.part")).unlink()  # a copy that lost a part: a one-line error, not a trace
    with pytest.raises(RunError, match="cannot load"):
        OnnxGenerator.from_run(parted)
    done = _cli("export", "--run", parted, "--max-file-mb", "0")
    assert done.returncode == 2 and "--max-file-mb must be a positive number of megabytes, not '0'" in done.stderr
