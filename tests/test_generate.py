"""Large `cgan generate` requests: batched and streamed to the .npz in flat memory, or refused in one line."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cgan.data import to_uint8
from cgan.errors import RunError
from cgan.generate import MAX_GRID_PIXELS, Generator, check_output, write_output
from tests.tiny_generator import tiny_generator_run

# The module fixture is expensive: under pytest-xdist (make test) these tests share one worker.
pytestmark = pytest.mark.xdist_group("test_generate")

REPO = Path(__file__).resolve().parents[1]
# How much more the peak RSS may grow for 10,000 images (5,000 for the slower Keras path) than for 500 (one
# batch). Streamed, 10,000 images grew it by a few MB; unstreamed, by about a gigabyte on the ONNX path (one
# session call on all images) and over a hundred MB on the Keras path (every image as float32 and uint8).
EXTRA_GROWTH_LIMIT_MB = 30


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same tiny generator twice: Keras only, and exported to ONNX."""
    root = tmp_path_factory.mktemp("streaming")
    keras_run = tiny_generator_run(root / "keras")
    onnx_run = tiny_generator_run(root / "onnx")
    done = subprocess.run([sys.executable, "-m", "cgan", "export", "--run", str(onnx_run)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, KERAS_BACKEND="torch"))
    assert done.returncode == 0, done.stderr[-2000:]
    return {"keras": keras_run, "onnx": onnx_run}


# Peak RSS (VmHWM) growth of one `cgan generate` call, after resetting the peak to the current RSS (Linux's
# /proc/self/clear_refs): the peak of the process so far says nothing, imports set it high.
PEAK_GROWTH = """
import sys
from cgan.cli import main
run, out, count = sys.argv[1:]

def growth_mb(per_label):
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _hwm()
    assert main(["generate", "--run", run, "--label", "all", "--n", per_label, "--out", out]) == 0
    return (_hwm() - before) / 1024

def _hwm():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))

growth_mb("100")  # imports, first session
print("GROWTH_MB", growth_mb("50"), growth_mb(count))
"""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux's peak-RSS reset")
@pytest.mark.parametrize("engine, per_label", [("onnx", 1000), ("keras", 500)])
def test_a_large_npz_is_written_in_flat_memory(runs, engine, per_label, tmp_path):
    out = tmp_path / "big.npz"
    done = subprocess.run([sys.executable, "-c", PEAK_GROWTH, str(runs[engine]), str(out), str(per_label)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    if engine == "onnx":
        assert "cgan:" not in done.stderr, done.stderr  # no fallback note: the ONNX path ran
    one_batch, large = map(float, done.stdout.split("GROWTH_MB")[1].split())
    assert large - one_batch < EXTRA_GROWTH_LIMIT_MB, \
        f"{one_batch:.0f} MB for 500 images, {large:.0f} MB for {10 * per_label:,}"
    with np.load(out, allow_pickle=False) as saved:
        assert saved["x"].shape == (10 * per_label, 28, 28, 1) and saved["x"].dtype == np.uint8
        assert saved["y"].tolist() == np.repeat(np.arange(10), per_label).tolist()


@pytest.mark.slow
def test_streamed_npz_holds_what_generate_returns(runs, tmp_path):
    generator = Generator.from_run(runs["keras"])
    images, labels = generator.generate([3, 0, 7], n=401, seed=5)  # 1,203 images: 3 batches, the last partial
    write_output(generator, [3, 0, 7], 401, 5, tmp_path / "s.npz", per_row=401)
    with np.load(tmp_path / "s.npz", allow_pickle=False) as saved:
        np.testing.assert_array_equal(saved["x"], images)
        np.testing.assert_array_equal(saved["y"], labels)
    # Reproducible across versions: the noise drawn batch by batch is the noise of one draw for the request.
    noise, label_array = generator.latents([3, 0, 7], 401, 5)
    direct = np.concatenate([generator._run(noise[i:i + 500], label_array[i:i + 500]) for i in range(0, 1203, 500)])
    np.testing.assert_array_equal(to_uint8(direct), images)


@pytest.mark.slow
def test_batch_size_keeps_activations_within_budget(runs, monkeypatch):
    import cgan.batching as batching
    from cgan.onnx import OnnxGenerator

    keras_generator = Generator.from_run(runs["keras"])
    per_image = batching.activation_bytes_per_image(keras_generator.model)
    assert 28 * 28 * 4 < per_image < 2**20  # more than the output alone, less than 1 MB for this tiny G
    assert OnnxGenerator.from_run(runs["onnx"]).batch_size() == keras_generator.batch_size() == 500
    monkeypatch.setattr(batching, "ACTIVATION_BUDGET", 100 * per_image)  # both engines follow the budget
    for generator in (keras_generator, OnnxGenerator.from_run(runs["onnx"])):
        assert [len(b[1]) for b in generator.batches([1, 2], n=150)] == [100, 100, 100]


@pytest.mark.slow
@pytest.mark.parametrize("out, message", [("huge.npz", "free; ask for fewer"), ("huge.png", "-pixel limit")])
def test_a_request_too_large_is_one_line_exit_2(out, message, tmp_path, cli):
    done = cli("generate", "--dataset", "mnist", "--n", 100_000_000, "--out", tmp_path / out)  # 10^9 images
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and message in lines[0], done.stderr[-2000:]
    assert not (tmp_path / out).exists()


def test_disk_and_grid_limits(tmp_path, monkeypatch):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=10 * 2**20))
    check_output(tmp_path / "ok.npz", 10_000, (28, 28, 1), 10, 4)  # 7.6 MiB fits in 10 MiB
    with pytest.raises(RunError, match=r"need up to 15.1 MiB .* has 10.0 MiB free"):
        check_output(tmp_path / "big.npz", 20_000, (28, 28, 1), 10, 4)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=2**40))
    assert MAX_GRID_PIXELS == 8192 * 8192
    check_output(tmp_path / "ok.png", 240 * 240, (32, 32, 3), 240, 1)  # 8,162 × 8,162 pixels
    with pytest.raises(RunError, match="8,502 × 8,502 pixels, over the 67,108,864-pixel limit"):
        check_output(tmp_path / "big.png", 250 * 250, (32, 32, 3), 250, 1)
    with pytest.raises(RunError, match="pixel limit"):
        check_output(tmp_path / "big.png", 61 * 61, (32, 32, 3), 61, 4)  # 8,304 × 8,304 pixels at --scale 4
