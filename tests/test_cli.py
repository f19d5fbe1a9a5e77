"""`cgan generate` and `cgan labels` with the shipped MNIST generator."""
import numpy as np
import pytest
from PIL import Image

from cgan.errors import LabelError, RunError
from cgan.generate import default_run, resolve_labels

SHIPPED = default_run("mnist")


def test_shipped_generator_is_committed():
    assert (SHIPPED / "generator.keras").is_file() and (SHIPPED / "summary.json").is_file()


@pytest.mark.slow
def test_generate_png_for_one_label(cli, tmp_path):
    out = tmp_path / "seven.png"
    result = cli("generate", "--dataset", "mnist", "--label", "7", "--out", out)
    assert result.returncode == 0, result.stderr[-2000:]
    image = np.asarray(Image.open(out))
    assert image.shape == (28 * 4, 28 * 4) and image.std() > 10  # an image with content, not a blank


@pytest.mark.slow
def test_generate_npz_all_labels_is_reproducible(cli, tmp_path):
    paths = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for path in paths:
        result = cli("generate", "--dataset", "mnist", "--label", "all", "--n", 2, "--seed", 5, "--out", path)
        assert result.returncode == 0, result.stderr[-2000:]
    a, b = (np.load(p, allow_pickle=False) for p in paths)
    assert a["x"].dtype == np.uint8 and a["x"].shape == (20, 28, 28, 1)
    assert a["y"].tolist() == [d for d in range(10) for _ in range(2)]
    np.testing.assert_array_equal(a["x"], b["x"])


@pytest.mark.slow
def test_labels_lists_names(cli):
    result = cli("labels", "--dataset", "cifar100")
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0 and len(lines) == 100 and "82\tsunflower" in lines


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--dataset", "mnist", "--label", "12"], "out of range"),
    (["--dataset", "mnist", "--label", "seven"], "unknown label 'seven'"),
    (["--run", str(SHIPPED), "--dataset", "cifar10", "--label", "1"], "trained on mnist"),
    (["--dataset", "mnist", "--label", "1", "--out", "/nonexistent/dir/x.png"], "cannot write"),
    (["--dataset", "mnist", "--label", "1", "--out", "x.jpg"], "must end in .png or .npz"),
])
def test_bad_generate_input_is_one_line_exit_2(cli, tmp_path, args, message):
    if "--out" not in args:
        args = [*args, "--out", str(tmp_path / "x.png")]
    result = cli("generate", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.slow
def test_a_dataset_without_a_shipped_generator_is_a_clear_error(cli, tmp_path, monkeypatch):
    from cgan import generate
    monkeypatch.delitem(generate.SHIPPED_RUNS, "cifar100", raising=False)  # as before its run shipped
    with pytest.raises(RunError, match="no shipped generator for 'cifar100' yet; train one and pass --run"):
        generate.default_run("cifar100")
    # A results folder without the shipped run (CGAN_RESULTS_DIR elsewhere, a partial clone): one line, exit 2.
    result = cli("generate", "--dataset", "mnist", "--label", "1", "--out", tmp_path / "x.png",
                 env={"CGAN_RESULTS_DIR": str(tmp_path)})
    assert result.returncode == 2 and "is not a run folder" in result.stderr and "Traceback" not in result.stderr


def test_label_names_resolve_with_suggestions():
    names = ["apple", "sunflower", "sweet_pepper"]
    assert resolve_labels("sunflower", names) == [1]
    assert resolve_labels("all", names) == [0, 1, 2]
    assert resolve_labels("0,2", names) == [0, 2]
    with pytest.raises(LabelError, match="did you mean sunflower"):
        resolve_labels("sunflowr", names)


@pytest.mark.slow
def test_a_grid_of_several_classes_names_them(cli, tmp_path):
    """`--label all --n 1` is a named grid 10 wide; `--n 3` a row per class with its name at the left."""
    one = tmp_path / "one.png"
    assert cli("generate", "--dataset", "mnist", "--label", "all", "--n", 1, "--out", one).returncode == 0
    grid = np.asarray(Image.open(one).convert("L"))
    cell = (28 + 2) * 4
    assert grid.shape[1] == 10 * cell + 2 * 4 and grid.shape[0] > cell  # one row of ten, plus a caption strip
    assert (grid[cell:, :] < 128).any(), "the caption strip under the cells must hold the class names"
    rows = tmp_path / "rows.png"
    assert cli("generate", "--dataset", "mnist", "--label", "0,1", "--n", 3, "--out", rows).returncode == 0
    grid = np.asarray(Image.open(rows).convert("L"))
    assert grid.shape[1] > 3 * cell + 2 * 4 and (grid[:, :3] > 200).all()  # a white margin left for the names
    assert (grid[:, :30] < 128).any(), "the names are drawn in that margin"
