"""The GPU zoo (benchmarks/gpu_zoo.py): its CPU dry run (tiny models, a few hundred real images, PyTorch), what
it brings back within the device tool's limits, the import into a results folder, and the bundle's packing."""
import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import numpy as np
import pytest

from benchmarks import gpu_bundle
from benchmarks.gpu_zoo_return import GENERATOR_MIB, PART_BYTES, plan_pack

REPO = Path(__file__).resolve().parents[1]
RUNS = ["cifar10/m5_v3"]  # one config trains (each process costs ~15 s of CPU)


def zoo(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "benchmarks.gpu_zoo", *map(str, args)], cwd=REPO, timeout=timeout,
                          capture_output=True, text=True, env=dict(os.environ, KERAS_BACKEND="torch"))


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("zoo")
    done_before = root / "results" / "mnist" / "m1_v1"  # finished in the results folder: skipped
    done_before.mkdir(parents=True)
    (done_before / "summary.json").write_text(json.dumps({"status": "finished", "epochs_done": 10,
                                                          "epochs_planned": 10}))
    args = ["--dry-run", "--runs", *RUNS, "mnist/m1_v1", "--work", root / "work", "--results", root / "results",
            "--data-dir", data_dir]
    for out in ("out", "out2"):  # the second call finds the same work folder: nothing left to train
        done = zoo(*args, "--out", root / out)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root, *(json.loads((root / out / "zoo.json").read_text()) for out in ("out", "out2"))


def members(out: Path) -> dict:
    whole = b"".join(p.read_bytes() for p in sorted(out.glob("zoo.tar.*")))
    (out.parent / f"{out.name}.tar").write_bytes(whole)
    with tarfile.open(out.parent / f"{out.name}.tar") as tar:
        return {m.name: m.size for m in tar.getmembers()}


def test_dry_run_trains_evaluates_and_brings_back_the_run_folders(dry_run):
    root, facts, _ = dry_run
    rows = {r["run"]: r for r in facts["runs"]}
    assert rows["mnist/m1_v1"]["status"] == "skipped" and "finished in" in rows["mnist/m1_v1"]["note"]
    out = root / "out"
    # Within what the device tool brings back: 8 files, 16 MiB each, 64 MiB in all, plain names.
    files = list(out.iterdir())
    assert len(files) <= 8 and all(re.fullmatch(r"[A-Za-z0-9._-]+", f.name) for f in files)
    assert all(f.stat().st_size <= PART_BYTES for f in files) and sum(f.stat().st_size for f in files) < 64 * 2**20
    names = members(out)
    for run in RUNS:
        row = rows[run]
        assert row["status"] == "finished" and row["epochs_done"] == row["epochs_planned"] == 2, row
        assert row["evaluated"] and 0 <= row["evaluated"]["label_accuracy"] <= 1 and row["evaluated"]["fd"] > 0
        assert row["returned"]["folder"] and row["returned"]["generator"].startswith("back"), row
        for part in ("config.toml", "history.csv", "iterations.csv", "summary.json", "metrics.json",
                     "evolution.gif", "evolution/epoch_002.png", "plots/loss_per_epoch.png", "generator.keras"):
            assert f"{run}/{part}" in names, part
        assert not any(n.startswith(f"{run}/checkpoint") or n.endswith("generator.h5") for n in names)
        folder = root / "work" / "runs" / run
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["data"]["train_is_subset"] and summary["gpu_zoo"]["time_budget_s"] > 0
        assert summary["gpu_zoo"]["cut_short"] is False and "of the" in summary["gpu_zoo"]["data"]
        history = (folder / "history.csv").read_text().splitlines()
        assert "quality_label_accuracy" in history[0] and len(history) == 3  # quality scores every epoch
    report = (out / "zoo.md").read_text()
    assert "DRY RUN" in report and all(f"| {run} | finished | 2/2 |" in report for run in RUNS)


def test_a_second_call_trains_nothing_finished_and_brings_it_back_again(dry_run):
    root, _, again = dry_run
    rows = {r["run"]: r for r in again["runs"]}
    assert all(rows[run]["status"] == "finished" and rows[run]["note"] == "in an earlier call" for run in RUNS)
    assert set(members(root / "out2")) == set(members(root / "out"))


def test_import_copies_the_runs_rebuilds_generator_h5_and_the_index(dry_run, tmp_path):
    root, _, _ = dry_run
    results = tmp_path / "resultados"
    done = zoo("--import", root / "out", "--results", results, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for run in RUNS:
        assert (results / run / "generator.h5").stat().st_size > 0 and (results / run / "metrics.json").is_file()
        assert not (results / run / "checkpoint").exists()
    index = (results / "README.md").read_text()
    assert "m5_v3" in index and "cgan evaluate --run" in done.stdout
    # Never over a run already there, unless asked; then the old one is moved aside, not lost.
    (results / RUNS[0] / "note.txt").write_text("mine")
    refused = zoo("--import", root / "out", "--results", results, timeout=120)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "already in" in refused.stderr and (results / RUNS[0] / "note.txt").is_file()
    replaced = zoo("--import", root / "out", "--results", results, "--replace", timeout=300)
    assert replaced.returncode == 0, replaced.stderr[-2000:]
    backup = Path(re.search(r"the folders they replace are in (\S+)", replaced.stdout).group(1))
    assert (backup / RUNS[0] / "note.txt").read_text() == "mine" and not (results / RUNS[0] / "note.txt").exists()


def test_import_refuses_what_is_not_a_zoo_result(dry_run, tmp_path):
    root, _, _ = dry_run
    empty = zoo("--import", tmp_path, "--results", tmp_path / "r", timeout=120)
    assert empty.returncode == 2 and "no zoo.tar.NN" in empty.stderr and len(empty.stderr.splitlines()) == 1
    into_repo = zoo("--import", root / "out", timeout=120)  # a dry run never goes into resultados/
    assert into_repo.returncode == 2 and "dry run" in into_repo.stderr
    unknown = zoo("--runs", "mnist/nope", timeout=120)
    assert unknown.returncode == 2 and len(unknown.stderr.splitlines()) == 1


def test_the_pack_keeps_every_folder_then_the_generators_that_fit(tmp_path):
    runs = tmp_path / "runs"
    for run, generator_mib in (("mnist/m1_v2", 4), ("cifar10/m5_v1", GENERATOR_MIB + 1), ("mnist/m3_v1", 16)):
        folder = runs / run
        (folder / "checkpoint").mkdir(parents=True)
        (folder / "summary.json").write_text("{}")
        with open(folder / "generator.keras", "wb") as f:  # sparse: the size counts, not the bytes
            f.truncate(generator_mib * 2**20)
        with open(folder / "checkpoint" / "optimizers.npz", "wb") as f:
            f.truncate(2**20)
    files, notes = plan_pack(["mnist/m1_v2", "cifar10/m5_v1", "mnist/m3_v1"], runs, 10 * 2**20)
    assert {name for _, name in files} == {"mnist/m1_v2/summary.json", "cifar10/m5_v1/summary.json",
                                           "mnist/m3_v1/summary.json", "mnist/m1_v2/generator.keras"}
    assert notes["mnist/m1_v2"]["generator"].startswith("back")
    assert "over 20" in notes["cifar10/m5_v1"]["generator"] and "no room" in notes["mnist/m3_v1"]["generator"]


def test_bundle_plan_keeps_datasets_in_order_while_each_gets_its_minimum():
    cost, available = {"mnist": 140, "cifar100": 2000, "cifar10": 2000}, {"mnist": 60000, "cifar100": 12000,
                                                                         "cifar10": 11500}
    images, dropped = gpu_bundle.plan_images(5e6, cost, available, test_images=1000, min_train=1000)
    assert dropped == ["cifar10"] and images["cifar100"] >= 1000 and images["mnist"] >= 1000
    assert sum((images[n] + 1000) * cost[n] for n in images) <= 5e6
    images, dropped = gpu_bundle.plan_images(1e9, cost, available, test_images=1000)
    assert images == available and not dropped  # everything fits: whole splits


def test_bundle_subset_is_stratified_and_keeps_every_label_with_its_image(data_dir):
    source = gpu_bundle.load_source(data_dir / "cifar100.npz")
    packed = gpu_bundle.subset(source, 300, 200)
    assert np.bincount(packed["y_test"], minlength=100).min() == 2 and len(packed["y_train"]) == 300
    position = {int(i): k for k, i in enumerate(source["train_index"])}
    for k in range(0, 300, 37):  # coarse labels and the original index follow the images they belong to
        j = position[int(packed["train_index"][k])]
        assert (packed["x_train"][k] == source["x_train"][j]).all()
        assert packed["y_train_coarse"][k] == source["y_train_coarse"][j]


def test_bundle_packages_cover_what_cgan_imports_beyond_the_gpu_image():
    """The H200 image lacks these; without tomli-w (cgan.config imports it) nothing ran there."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    needed = project["dependencies"] + project["optional-dependencies"]["train"]
    names = {re.split(r"[<>=\[ ;]", spec)[0].lower() for spec in needed} - {"tensorboardx"}  # optional in cgan
    bundled = {w.split("==")[0] for w in gpu_bundle.WHEELS}
    image = {"numpy", "pillow", "onnxruntime", "pandas", "scikit-learn", "scipy", "matplotlib", "h5py", "onnx", "tqdm"}
    assert names - image <= bundled, names - image - bundled
