"""Misuse of the CLI ends in one line on stderr and exit code 2; a bug in cgan prints its traceback and exit 1.

In-process (`cgan.cli.main`), on copies of the shipped MNIST run in tmp_path: no training, no subprocess. Each
case stops before any slow work, which is part of what it checks.
"""
import errno
import json
import os
import shutil
import stat
import tempfile
import zipfile

import numpy as np
import pytest

from cgan import cli
from cgan.data import load_dataset
from cgan.errors import DataError
from cgan.generate import default_run

SHIPPED = default_run("mnist")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HUNDRED_NAMES = [str(i) for i in range(100)]


def _run_copy(tmp_path, files=("summary.json", "generator.onnx"), **summary):
    """A copy of the shipped MNIST run (ONNX only unless asked), its summary changed (None deletes a key)."""
    folder = tmp_path / "run"
    folder.mkdir()
    for name in files:
        shutil.copy2(SHIPPED / name, folder / name)
    meta = json.loads((SHIPPED / "summary.json").read_text())
    meta.update(summary)
    (folder / "summary.json").write_text(json.dumps({k: v for k, v in meta.items() if v is not None}))
    return folder


def _with_summary(tmp_path, text):
    folder = _run_copy(tmp_path)
    (folder / "summary.json").write_text(text)
    return folder


def _with_file(tmp_path, name, data: bytes, files=("summary.json",)):
    folder = _run_copy(tmp_path, files=files)
    (folder / name).write_bytes(data)
    return folder


def _truncated_keras(tmp_path):
    data = (SHIPPED / "generator.keras").read_bytes()
    return _with_file(tmp_path, "generator.keras", data[: len(data) // 2])


def _config(tmp_path, old, new):
    text = open(os.path.join(REPO, "configs/mnist/m1_v1.toml")).read()
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    return _train(tmp_path, "--config", path)


def _train(tmp_path, *args):
    return ["train", *args, "--out", tmp_path / "never", "--data-dir", tmp_path / "no data"]


def _read_only_file(tmp_path):
    path = tmp_path / "kept.png"
    path.write_bytes(b"someone's picture")
    path.chmod(0o400)
    return path


def _mnist_npz(tmp_path, change):
    """A small mnist.npz in tmp_path with one change; returns its folder."""
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (20, 28, 28, 1), dtype="uint8"), "y_train": np.arange(20) % 10,
              "x_test": rng.integers(0, 256, (10, 28, 28, 1), dtype="uint8"), "y_test": np.arange(10),
              "label_names": np.array([str(d) for d in range(10)])}
    change(arrays)
    np.savez(tmp_path / "mnist.npz", **arrays)
    return tmp_path


def _classifier_on(data_dir, tmp_path):
    return ["classifier", "train", "--dataset", "mnist", "--data-dir", data_dir, "--out", tmp_path / "weights"]


def _keras_run(tmp_path):
    return _run_copy(tmp_path, files=("summary.json", "generator.keras"))


def _folder(path):
    path.mkdir()
    return path


def _on_a_full_disk(monkeypatch, argv):
    """argv, to be run with 4 KB free on every disk."""
    usage = shutil.disk_usage(tempfile.gettempdir())
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=4096))
    return argv


def _on_a_read_only_mount(monkeypatch, argv):
    """argv, to be run where making a file answers as a read-only mount does, even to root (for whom no chmod
    makes a folder unwritable)."""
    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))
    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    return argv


# id: (argv from (tmp_path, monkeypatch), a fragment of the one line on stderr)
CASES = {
    # Seeds: numpy takes 0..2**32 - 1, wherever the seed comes from.
    "generate seed negative": (lambda t, mp: ["generate", "--dataset", "mnist", "--seed", -1, "--out", t / "x.png"],
                               "--seed must be at least 0"),
    "generate seed 2**32": (lambda t, mp: ["generate", "--dataset", "mnist", "--seed", 2**32, "--out", t / "x.png"],
                            "--seed must be at most 4,294,967,295"),
    "generate seed not whole": (lambda t, mp: ["generate", "--dataset", "mnist", "--seed", "1.5", "--out",
                                               t / "x.png"], "--seed must be a whole number, not '1.5'"),
    "evaluate seed negative": (lambda t, mp: ["evaluate", "--run", _run_copy(t), "--seed", -3],
                               "--seed must be at least 0"),
    "classifier seed 2**32": (lambda t, mp: ["classifier", "train", "--dataset", "mnist", "--seed", 2**32,
                                             "--out", t], "--seed must be at most"),
    "config seed negative": (lambda t, mp: _config(t, "seed = 42", "seed = -1"), "'seed'"),
    "config seed 2**32": (lambda t, mp: _config(t, "seed = 42", f"seed = {2**32}"), "'seed'"),
    # Floats that parse but mean nothing.
    "config learning rate inf": (lambda t, mp: _config(t, "learning_rate = 0.0002", "learning_rate = inf"),
                                 "learning_rate' input should be a finite number"),
    "config lecam weight inf": (lambda t, mp: _config(t, "seed = 42", "seed = 42\nlecam_weight = inf"),
                                "lecam_weight' input should be a finite number"),
    "config quality per class 5000": (lambda t, mp: _config(t, "quality_per_class = 100", "quality_per_class = 5000"),
                                      "quality_per_class' input should be less than or equal to 1000"),
    "time budget nan": (lambda t, mp: _train(t, "--config", "configs/mnist/m1_v1.toml", "--time-budget", "nan"),
                        "--time-budget must be a positive number of seconds, not 'nan'"),
    "time budget inf": (lambda t, mp: _train(t, "--config", "configs/mnist/m1_v1.toml", "--time-budget", "inf"),
                        "--time-budget must be a positive number"),
    # Counts with bounds.
    "evaluate per class 10**9": (lambda t, mp: ["evaluate", "--run", _run_copy(t), "--per-class", 10**9],
                                 "--per-class must be at most 1,000"),
    "generate n 0": (lambda t, mp: ["generate", "--dataset", "mnist", "--n", 0, "--out", t / "x.png"],
                     "--n must be at least 1"),
    "generate scale 0": (lambda t, mp: ["generate", "--dataset", "mnist", "--scale", 0, "--out", t / "x.png"],
                         "--scale must be at least 1"),
    # Labels: str.isdigit says yes to these, int() to only some.
    "label arabic-indic 3": (lambda t, mp: ["generate", "--dataset", "mnist", "--label", "٣", "--out", t / "x.png"],
                             "unknown label '٣'"),
    "label superscript 2": (lambda t, mp: ["generate", "--dataset", "mnist", "--label", "²", "--out", t / "x.png"],
                            "unknown label '²'"),
    "label circled 1": (lambda t, mp: ["generate", "--dataset", "mnist", "--label", "①", "--out", t / "x.png"],
                        "unknown label '①'"),
    "labels coarse mnist": (lambda t, mp: ["labels", "--dataset", "mnist", "--coarse"], "only cifar100"),
    # Run folders that are not what they claim.
    "garbage generator.onnx": (lambda t, mp: ["generate", "--run", _with_file(t, "generator.onnx", b"\x08garbage" * 64),
                                              "--out", t / "x.png"], "generator.onnx (truncated or corrupt"),
    "summary lacks keys": (lambda t, mp: ["generate", "--run", _with_summary(t, '{"dataset": "mnist"}'),
                                          "--out", t / "x.png"], "summary.json lacks label_names, latent_dim"),
    "summary not an object": (lambda t, mp: ["generate", "--run", _with_summary(t, "[1, 2]"),
                                             "--out", t / "x.png"], "summary.json is corrupt (not a JSON object)"),
    "summary latent not a count": (lambda t, mp: ["generate", "--run", _run_copy(t, latent_dim="100"),
                                                  "--out", t / "x.png"], "latent_dim must be a positive integer"),
    "onnx-only class count": (lambda t, mp: ["generate", "--run", _run_copy(t, label_names=HUNDRED_NAMES),
                                             "--label", 50, "--out", t / "x.png"], "knows fewer classes than the 100"),
    "summary names another dataset": (lambda t, mp: ["generate", "--run", _run_copy(t, dataset="cifar10"),
                                                     "--out", t / "x.png"],
                                      "makes (28, 28, 1) images, but its summary names cifar10"),
    "truncated generator.keras": (lambda t, mp: ["generate", "--run", _truncated_keras(t), "--out", t / "x.png"],
                                  "generator.keras: the file is truncated or corrupt"),
    # Outputs that can't or mustn't be written; checked before the slow part.
    "generate onto a read-only file": (lambda t, mp: ["generate", "--dataset", "mnist", "--out", _read_only_file(t)],
                                       "kept.png is read-only; refusing to replace it"),
    "generate onto a folder": (lambda t, mp: ["generate", "--dataset", "mnist", "--out", _folder(t / "dir.png")],
                               "dir.png exists and is not a regular file"),
    "export to a read-only folder": (lambda t, mp: _on_a_read_only_mount(mp, ["export", "--run", _keras_run(t)]),
                                     "Read-only file system"),
    "export to a full disk": (lambda t, mp: _on_a_full_disk(mp, ["export", "--run", _keras_run(t)]),
                              "free, and this needs about 8.3 MiB"),
    "evaluate into a read-only folder": (lambda t, mp: _on_a_read_only_mount(mp, ["evaluate", "--run", _run_copy(t)]),
                                         "Read-only file system"),
    "evaluate into a full disk": (lambda t, mp: _on_a_full_disk(mp, ["evaluate", "--run", _run_copy(t)]),
                                  "its disk has 0.0 MiB free"),
    "classifier out is a file": (lambda t, mp: ["classifier", "train", "--dataset", "mnist", "--out",
                                                _read_only_file(t)], "kept.png is not a folder"),
    # Dataset files that are not what their name says.
    "npz missing keys": (lambda t, mp: _classifier_on(_mnist_npz(t, lambda a: a.pop("x_test")), t),
                         "mnist.npz lacks x_test"),
    "npz wrong image shape": (lambda t, mp: _classifier_on(_mnist_npz(t, lambda a: a.update(
        x_train=np.zeros((20, 32, 32, 3), "uint8"))), t), "x_train is uint8 (20, 32, 32, 3); mnist needs"),
}


def _main(argv) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return exc.code


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_misuse_is_one_line_and_exit_2(case, tmp_path, monkeypatch, capfd):
    make_argv, fragment = CASES[case]
    # Should a check ever let a case through, it fails at once for want of data instead of training:
    # no default data, and a dead proxy for the keras.datasets download.
    monkeypatch.setenv("CGAN_DATA_DIR", str(tmp_path / "no data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    for proxy in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")
    argv = make_argv(tmp_path, monkeypatch)
    code = _main(argv)
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and fragment in lines[0], err[-3000:]


@pytest.mark.slow
def test_generate_replaces_a_file_keeping_its_mode_and_says_so(tmp_path, capsys):
    """`make generate` twice: the second run replaces the picture, says so, and leaves its permissions."""
    out = tmp_path / "seven.png"
    assert _main(["generate", "--dataset", "mnist", "--label", 7, "--seed", 1, "--out", out]) == 0
    assert "replacing" not in capsys.readouterr().out
    out.chmod(0o640)
    before = out.read_bytes()
    assert _main(["generate", "--dataset", "mnist", "--label", 7, "--seed", 2, "--out", out]) == 0
    said = capsys.readouterr()
    assert f"wrote {out}, replacing the file that was there" in said.out and not said.err
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and out.read_bytes() != before


@pytest.mark.slow
def test_generate_writes_through_a_symbolic_link(tmp_path, capsys):
    target = tmp_path / "target.png"
    target.write_bytes(b"old")
    (tmp_path / "link.png").symlink_to(target)
    assert _main(["generate", "--dataset", "mnist", "--label", 1, "--out", tmp_path / "link.png"]) == 0
    assert (tmp_path / "link.png").is_symlink() and target.read_bytes().startswith(b"\x89PNG")
    assert "replacing" in capsys.readouterr().out


def _onnxruntime_error():
    import onnxruntime

    try:
        onnxruntime.InferenceSession(b"not a model", providers=["CPUExecutionProvider"])
    except Exception as exc:
        return exc
    raise AssertionError("ONNX Runtime accepted garbage")


@pytest.mark.slow
@pytest.mark.parametrize("error, fragment", [
    (OSError(errno.ENOSPC, "No space left on device", "/runs/a/metrics.json"),
     "/runs/a/metrics.json: No space left on device"),
    (PermissionError(errno.EACCES, "Permission denied", "/runs/a"), "/runs/a: Permission denied"),
    (ValueError("first line\nsecond line"), "first line (ValueError)"),
    (zipfile.BadZipFile("File is not a zip file"), "File is not a zip file (BadZipFile)"),
    (EOFError(), "EOFError"),
    ("onnxruntime", "INVALID_PROTOBUF"),
])
def test_the_last_line_of_defence_makes_errors_one_line(error, fragment, monkeypatch, capfd):
    error = _onnxruntime_error() if error == "onnxruntime" else error

    def failing(args):
        raise error
    monkeypatch.setitem(cli.COMMANDS, "labels", failing)
    assert _main(["labels", "--dataset", "mnist"]) == 2
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("cgan labels: error: ") and fragment in lines[0], lines


@pytest.mark.slow
def test_a_bug_keeps_its_traceback_and_says_it_is_one(monkeypatch, capfd):
    def buggy(args):
        return {}["missing"]
    monkeypatch.setitem(cli.COMMANDS, "labels", buggy)
    assert _main(["labels", "--dataset", "mnist"]) == 1
    err = capfd.readouterr().err
    assert "Traceback" in err and "KeyError: 'missing'" in err
    assert err.strip().splitlines()[-1].startswith("cgan labels: this is a bug in cgan")


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(monkeypatch, capfd):
    """`cgan labels --dataset cifar100 | head -3`: no traceback and no error line."""
    def closed(args):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")
    monkeypatch.setitem(cli.COMMANDS, "labels", closed)
    assert _main(["labels", "--dataset", "mnist"]) == 141
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("label_names"), "lacks label_names"),
    (lambda a: a.update(x_test=a["x_test"].astype("float32")), "x_test is float32"),
    (lambda a: a.update(y_train=np.arange(19) % 10), "one integer label for each of the 20 images"),
    (lambda a: a.update(y_test=np.arange(10) + 5), "labels 5..14, outside 0..9"),
    (lambda a: a.update(label_names=np.array(["a", "b"])), "not the 10 names of mnist"),
])
def test_a_dataset_file_is_checked_on_loading(change, message, tmp_path):
    with pytest.raises(DataError, match=message):
        load_dataset("mnist", _mnist_npz(tmp_path, change))
    unchanged = tmp_path / "unchanged"
    unchanged.mkdir()
    assert load_dataset("mnist", _mnist_npz(unchanged, lambda a: None)).num_classes == 10


def test_truncated_classifier_weights_are_named(tmp_path):
    from cgan.errors import EvaluationError
    from cgan.evaluation.classifier import WEIGHTS_DIR, card_path, load_classifier, weights_path

    shutil.copy2(card_path("mnist"), card_path("mnist", tmp_path))
    data = weights_path("mnist").read_bytes()
    weights_path("mnist", tmp_path).write_bytes(data[: len(data) // 2])
    with pytest.raises(EvaluationError, match=r"cannot load .*mnist.weights.h5 \(truncated, corrupt"):
        load_classifier("mnist", tmp_path)
    card_path("mnist", tmp_path).write_text('{"dataset": "mnist"}')
    with pytest.raises(EvaluationError, match=r"mnist.json is corrupt \(no image_shape, num_classes\)"):
        load_classifier("mnist", tmp_path)
    assert (WEIGHTS_DIR / "mnist.weights.h5").read_bytes() == data  # the committed weights are untouched


def test_metrics_on_a_full_disk_name_metrics_json(tmp_path, monkeypatch):
    from cgan import io
    from cgan.errors import RunError
    from cgan.evaluation.evaluate import write_metrics

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / ".metrics.abc123.json"))
    monkeypatch.setattr(io, "write_json", full)
    with pytest.raises(RunError, match=r"cannot write .*/metrics.json: No space left on device"):
        write_metrics(tmp_path, {})
