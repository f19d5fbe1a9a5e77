"""resultados/README.md is generated from the run folders: every fact and link comes from a folder."""
import json
import re
import subprocess

import pytest

from cgan.reports import index as results_index
from cgan.runs import REPO_ROOT, results_root
from markdown_tables import row_where, table_with, tables

SUMMARY = {
    "dataset": "cifar100", "model": "m3", "version": "v1", "status": "finished", "epochs_done": 3,
    "epochs_planned": 3, "params": {"generator": 4404427, "discriminator": 1105993, "total": 5510420},
    "data": {"train_images": 12000, "train_is_subset": True}, "eval_samples": 500, "wall_seconds": 7384.0,
    "mean_epoch_seconds": 2450.5, "updated_utc": "2026-11-28T10:00:00+00:00",
    "final_metrics": {"test_d_accuracy": 0.61234, "test_d_f1": 0.5, "train_d_accuracy": 0.7, "train_d_f1": 0.65},
    "environment": {"backend": "torch", "keras": "3.15.1", "processor": "AMD EPYC", "cpu_count": 2,
                    "accelerator": "none (CPU only)"},
}
METRICS = {"samples": {"generated": 1000}, "generator": {"epochs_done": 3},
           "generated": {"label_accuracy": 0.1234, "fd": 55.5, "kid": {"mean": 0.0421},
                         "prdc": {"precision": 0.3, "recall": 0.2, "density": 0.25, "coverage": 0.15},
                         "intra_class_fd": {"mean": 80.0}},
           "real_floor": {"label_accuracy": 0.9, "fd": 3.25, "kid": {"mean": 0.001},
                          "prdc": {"precision": 0.7, "recall": 0.7, "density": 1.0, "coverage": 0.9},
                          "intra_class_fd": {"mean": 20.0}},
           "inception_fid": {"skipped": "turned off"}}


HELD_OUT = {"per_class": 100, "generated": 1000, "real_floor_source": "real held-out: test images"}
# history.csv of a run with config quality_every = 2: the odd epochs leave the quality columns empty
MONITORED = "epoch,d_loss,quality_label_accuracy,quality_fd\n1,0.7,,\n2,0.6,0.25,40.0\n3,0.6,,\n4,0.5,0.5,20.0\n"
UNMONITORED = "epoch,d_loss\n1,0.7\n2,0.6\n"


def make_run(root, key, summary, metrics=None, files=("plots/loss_per_epoch.png", "evolution/epoch_001.png",
                                                       "evolution/epoch_003.png", "evolution.gif", "generator.keras"),
             history=None):
    folder = root / key
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")
    (folder / "summary.json").write_text(json.dumps(summary) if isinstance(summary, dict) else summary)
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    if history is not None:
        (folder / "history.csv").write_text(history)
    return folder


def run_of(dataset, name, **changes):
    model, version = name.split("_")
    return dict(SUMMARY, dataset=dataset, model=model, version=version, **changes)


def render(root):
    return results_index.render(results_index.collect(root), root)


@pytest.fixture
def root(tmp_path):
    make_run(tmp_path, "cifar100/m3_v1", SUMMARY, METRICS)
    make_run(tmp_path, "mnist/m1_v2", dict(SUMMARY, dataset="mnist", model="m1", version="v2", status="running",
                                           epochs_done=1, epochs_planned=20, wall_seconds=340.0,
                                           data={"train_images": 60000, "train_is_subset": False}))
    make_run(tmp_path, "cifar10/m5_v1", "{not json")
    return tmp_path


COMPARISON = ["model", "version", "epochs", "train images", "wall time", "hardware", "test D acc", "test D F1",
              "eval N, generator epoch, scored by", "label accuracy ↑", "FD ↓", "coverage ↑"]


def comparison(text, dataset):
    """The comparison table of one dataset's section."""
    return table_with(text.split(f"### {dataset}\n")[1], "model")


def test_index_opens_with_one_comparison_table_per_dataset(root):
    text = render(root)
    # mnist and cifar100; the unreadable cifar10 folder has no table
    assert [list(table.columns) for table in tables(text)].count(COMPARISON) == 2
    # mnist first, then cifar10/cifar100, whatever the alphabet says; the tables come before the run sections
    assert text.index("### mnist\n") < text.index("### cifar100\n") < text.index("## Runs") < text.index("### mnist/m1_v2")
    # the old table (status and train D columns, run paths as the first column) is gone
    assert not any({"run", "dataset"} & set(table.columns) for table in tables(text))
    assert "[cifar100/m3_v1](cifar100/m3_v1/)" not in text
    # METRICS has no real_floor_source: its real column is training images, marked as an inflated ceiling
    assert row_where(comparison(text, "cifar100"), "model", "[m3](cifar100/m3_v1/)") == {
        "model": "[m3](cifar100/m3_v1/)", "version": "v1", "epochs": "3/3", "train images": "12k subset",
        "wall time": "2 h 03 min", "hardware": "2-core CPU, torch", "test D acc": "0.6123", "test D F1": "0.5000",
        "eval N, generator epoch, scored by": "1000, epoch 3", "label accuracy ↑": "0.123 (ceiling 0.900 †)",
        "FD ↓": "55.5 (floor 3.25 †)", "coverage ↑": "0.150 (real 0.900 †)"}
    assert "† real column scored on training images" in text
    assert row_where(comparison(text, "mnist"), "model", "[m1](mnist/m1_v2/)") == {
        "model": "[m1](mnist/m1_v2/)", "version": "v2", "epochs": "1/20 (running)", "train images": "60,000 (all)",
        "wall time": "5.7 min", "hardware": "2-core CPU, torch", "test D acc": "0.6123", "test D F1": "0.5000",
        # not evaluated
        "eval N, generator epoch, scored by": "–", "label accuracy ↑": "–", "FD ↓": "–", "coverage ↑": "–"}
    assert "cifar10/m5_v1: " in text and "is corrupt" in text  # unreadable folders are named, not skipped
    assert "G 4,404,427 + D 1,105,993 = 5,510,420" in text and "AMD EPYC, 2 cores; Keras 3.15.1 on torch" in text
    # the train D metrics were only in the old table: they stay in the run's section
    assert "test accuracy 0.6123, F1 0.5000; train accuracy 0.7000, F1 0.6500" in text.split("### cifar100/m3_v1")[1]


def test_table_gives_eval_n_hardware_and_fd_with_its_floor(tmp_path):
    gpu = dict(SUMMARY["environment"], accelerator="NVIDIA H200", backend="tensorflow")
    make_run(tmp_path, "cifar10/big_v1", run_of("cifar10", "big_v1", environment=gpu, label_mode="coarse"),
             dict(METRICS, samples=HELD_OUT, generator={"epochs_done": 2}))
    make_run(tmp_path, "svhn/a_v1", run_of("svhn", "a_v1"))
    text = render(tmp_path)
    assert row_where(comparison(text, "cifar10"), "model", "[big](cifar10/big_v1/) (coarse labels)") == {
        "model": "[big](cifar10/big_v1/) (coarse labels)", "version": "v1", "epochs": "3/3",
        "train images": "12k subset", "wall time": "2 h 03 min", "hardware": "NVIDIA H200, tensorflow",
        "test D acc": "0.6123", "test D F1": "0.5000",
        "eval N, generator epoch, scored by": "1000 (100/class), epoch 2",  # the eval is of epoch 2, the run reached 3
        "label accuracy ↑": "0.123 (ceiling 0.900)", "FD ↓": "55.5 (floor 3.25)", "coverage ↑": "0.150 (real 0.900)"}
    assert "one common N = 1000 generated images" in text and "†" not in text
    assert text.index("### cifar10\n") < text.index("### svhn\n")  # other datasets after the known ones
    assert "No run of this dataset has been evaluated yet" in text.split("### svhn\n")[1]


def test_runs_evaluated_at_different_n_are_flagged(tmp_path):
    make_run(tmp_path, "mnist/a_v1", run_of("mnist", "a_v1"), dict(METRICS, samples=HELD_OUT))
    make_run(tmp_path, "mnist/b_v1", run_of("mnist", "b_v1"),
             dict(METRICS, samples=dict(HELD_OUT, per_class=1000, generated=10000)))
    make_run(tmp_path, "mnist/c_v1", run_of("mnist", "c_v1"), dict(METRICS, samples=HELD_OUT))
    make_run(tmp_path, "mnist/d_v1", run_of("mnist", "d_v1"))  # not evaluated: in no N group
    make_run(tmp_path, "cifar10/e_v1", run_of("cifar10", "e_v1"), dict(METRICS, samples=HELD_OUT))
    text = render(tmp_path)
    mnist, cifar10 = text.split("### mnist\n")[1].split("### cifar10\n")
    assert "**Warning: the mnist runs were evaluated at different N** (N = 1000: a_v1, c_v1; N = 10000: b_v1)" in mnist
    evaluated = table_with(mnist, "model")
    assert row_where(evaluated, "model", "[b](mnist/b_v1/)")["eval N, generator epoch, scored by"] == (
        "10000 (1000/class), epoch 3")
    assert row_where(evaluated, "model", "[a](mnist/a_v1/)")["eval N, generator epoch, scored by"] == (
        "1000 (100/class), epoch 3")
    assert "different N" not in cifar10 and "one common N = 1000" in cifar10  # a single run is its own common N


@pytest.mark.slow
def test_label_accuracy_figure_only_for_datasets_with_monitored_runs(tmp_path):
    make_run(tmp_path, "cifar10/watched_v1", run_of("cifar10", "watched_v1"), dict(METRICS, samples=HELD_OUT),
             history=MONITORED)
    make_run(tmp_path, "cifar10/plain_v1", run_of("cifar10", "plain_v1"), history=UNMONITORED)
    make_run(tmp_path, "mnist/plain_v2", run_of("mnist", "plain_v2"), history=UNMONITORED)
    assert results_index.main(["--root", str(tmp_path)]) == 0
    figure = tmp_path / "cifar10_label_accuracy.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size < 100_000
    assert not (tmp_path / "mnist_label_accuracy.png").exists()
    text = (tmp_path / "README.md").read_text()
    cifar10 = text.split("### cifar10\n")[1].split("## Runs")[0]
    assert "![label accuracy per epoch, cifar10](cifar10_label_accuracy.png)" in cifar10
    assert "Dashed: real held-out ceiling (watched_v1 eval, N = 1000)" in cifar10
    assert "Monitored: watched_v1. Not monitored: plain_v1." in cifar10
    mnist = text.split("### mnist\n")[1].split("### cifar10\n")[0]
    assert "No label-accuracy figure" in mnist and "Not monitored: plain_v2." in mnist and ".png" not in mnist
    assert all((tmp_path / link).exists() for link in re.findall(r"\]\(([^)]+)\)", text))
    before = figure.read_bytes()
    results_index.main(["--root", str(tmp_path)])
    assert figure.read_bytes() == before  # deterministic: regenerating changes nothing


def test_the_figure_skips_unscored_epochs(tmp_path):
    make_run(tmp_path, "mnist/a_v1", SUMMARY, history=MONITORED)
    (curve,) = [r["label_accuracy"] for r in results_index.collect(tmp_path)]
    assert curve.to_dict() == {2: 0.25, 4: 0.5}


def test_quality_metrics_appear_only_where_evaluated(root):
    text = render(root)
    quality = table_with(text.split("### cifar100/m3_v1")[1], "metric")
    assert row_where(quality, "metric", "FD ↓") == {"metric": "FD ↓", "generated": "55.5000", "real train": "3.2500"}
    assert row_where(quality, "metric", "KID ↓") == {"metric": "KID ↓", "generated": "0.0421", "real train": "0.0010"}
    assert row_where(quality, "metric", "coverage ↑") == {"metric": "coverage ↑", "generated": "0.1500",
                                                           "real train": "0.9000"}
    assert "Inception FID" not in text
    mnist_section = text.split("### mnist/m1_v2")[1]
    assert "not evaluated yet" in mnist_section


def test_the_real_column_says_which_real_images_it_scored(tmp_path):
    held_out = dict(METRICS, samples={"generated": 1000, "real_floor_source": "real held-out: test images"})
    make_run(tmp_path, "mnist/new", SUMMARY, held_out)
    make_run(tmp_path, "mnist/old", SUMMARY, METRICS)  # written when the ceiling used training images
    text = results_index.render(results_index.collect(tmp_path), tmp_path)
    new, old = text.split("### mnist/new")[1].split("### mnist/old")
    assert list(table_with(new, "metric").columns) == ["metric", "generated", "real held-out"]
    assert "real train" not in new
    assert list(table_with(old, "metric").columns) == ["metric", "generated", "real train"] and "inflated" in old


def test_every_link_points_to_a_file_in_the_folder(root):
    text = results_index.render(results_index.collect(root), root)
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert "cifar100/m3_v1/evolution/epoch_003.png" in links  # the last grid, not the first
    assert "cifar100/m3_v1/evolution.gif" in links
    for link in links:
        assert (root / link).exists(), link


@pytest.mark.slow
def test_generators_that_git_ignores_are_named_not_linked(root):
    (root / "cifar100/m3_v1/generator.keras").write_bytes(b"\0" * (21 * 2**20))
    linked = "[generator.keras](cifar100/m3_v1/generator.keras)"
    assert linked in results_index.render(results_index.collect(root), root)  # outside git: a plain link
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("cifar100/m3_v1/generator.keras\n")
    text = results_index.render(results_index.collect(root), root)
    named = "`cifar100/m3_v1/generator.keras` kept out of git (over the repository's size budget); retrain to get it"
    assert named in text and linked not in text
    (root / "cifar100/m3_v1/generator.keras").unlink()  # a fresh clone: the index reads the same
    assert results_index.render(results_index.collect(root), root) == text
    # Its compact generator.onnx, committed instead, is linked with what its weight format changes.
    (root / "cifar100/m3_v1/generator.onnx").write_bytes(b"onnx")
    record = {"keras_bytes": 17_600_000, "chosen": "int8",
              "tried": {"float16": {"bytes": 8_800_000}, "int8": {
                  "bytes": 4_400_000, "grey_levels": {"max": 9, "mean": 0.61},
                  "gap": {"label_accuracy": 0.002, "fd": 0.04}, "noise": {"label_accuracy": 0.006, "fd": 0.09}}}}
    (root / "cifar100/m3_v1/generator.onnx.json").write_text(json.dumps(record))
    text = results_index.render(results_index.collect(root), root)
    assert ("[generator.onnx](cifar100/m3_v1/generator.onnx), int8 weights, 4.4 MB (`cifar100/m3_v1/generator.keras` "
            "kept out of git (over the repository's size budget), 17.6 MB): pixels within 9 grey levels of the "
            "Keras generator's (mean 0.61); label accuracy and FD move by 0.0020 and 0.040, within the 0.0060 and "
            "0.090 between two evaluation seeds") in text
    record.update(chosen="float16 in parts", tried={"float16 in parts": {
        "bytes": 8_800_000, "files": 2, "largest_file_bytes": 8_790_000, "grey_levels": {"max": 1, "mean": 0.02}}})
    (root / "cifar100/m3_v1/generator.onnx.json").write_text(json.dumps(record))
    assert ("generator.onnx), float16 in parts weights, 8.8 MB in 2 files (`cifar100/m3_v1/generator.keras` kept "
            "out of git (over the repository's size budget), 17.6 MB): pixels within 1 grey level of the Keras "
            "generator's (mean 0.02)") in results_index.render(results_index.collect(root), root)


@pytest.mark.slow
def test_command_writes_readme_and_rejects_a_missing_folder(root, tmp_path, capsys):
    assert results_index.main(["--root", str(root)]) == 0
    assert (root / "README.md").read_text().startswith("# Run folders")
    assert results_index.main(["--root", str(tmp_path / "nowhere")]) == 2
    assert "no results folder" in capsys.readouterr().err


def test_the_real_results_folder_renders():
    root = results_root()
    records = results_index.collect(root)
    text = results_index.render(records, root)  # read-only: README.md is written by the command, not here
    for record in records:
        assert f"[{record['path'].as_posix()}]" in text or record["path"].as_posix() in text


@pytest.mark.slow
def test_the_committed_index_links_only_committed_files():
    """resultados/README.md as committed: each relative link is a file git tracks, so a fresh clone has it
    (per-epoch grids of the long CIFAR runs are git-ignored, but not the last one, which the index links)."""
    import subprocess

    root = results_root()
    if root != REPO_ROOT / "resultados":
        pytest.skip("CGAN_RESULTS_DIR points elsewhere")
    tracked = subprocess.run(["git", "ls-files", "resultados"], cwd=root.parent, capture_output=True, text=True)
    if tracked.returncode:
        pytest.skip("not a git checkout")
    tracked = set(tracked.stdout.splitlines())
    text = (root / "README.md").read_text()
    links = [link for link in re.findall(r"\]\(([^)]+)\)", text) if "://" not in link and not link.startswith("#")]
    def committed(link: str) -> bool:  # a file, or a run folder that holds one
        path = f"resultados/{link}"
        return path in tracked or (path.endswith("/") and any(t.startswith(path) for t in tracked))

    assert links and not [link for link in links if not committed(link)]


def test_label_accuracy_axis_turns_logarithmic_when_runs_differ_tenfold_in_length():
    import pandas as pd

    from cgan.reports.tables import epoch_scale

    curve = lambda epochs: pd.Series(0.5, index=range(1, epochs + 1))  # noqa: E731
    assert epoch_scale({"fast32_v1": curve(325), "m3_v1": curve(30)}) == "log"
    assert epoch_scale({"m1_v2": curve(20), "m3_v1": curve(30)}) == "linear"
    assert epoch_scale({"watched": curve(3), "not scored yet": pd.Series(dtype=float)}) == "linear"


def test_a_retrained_run_is_compared_with_the_run_it_replaced(tmp_path):
    scored = dict(METRICS, samples={"per_class": 100, "generated": 1000},
                  feature_space={"classifier_test_accuracy": 0.99})
    run = make_run(tmp_path, "cifar100/m3_v1", SUMMARY, dict(scored, generated=dict(METRICS["generated"], fd=40.0)))
    (run / "previous").mkdir()
    (run / "previous" / "summary.json").write_text(json.dumps(dict(SUMMARY, status="stopped", epochs_done=2)))
    (run / "previous" / "metrics.json").write_text(json.dumps(scored))
    text = render(tmp_path)
    assert ("- **Replaced run** (previous/, its generator never committed): stopped, 2 of 3 epochs in 2 h 03 min on "
            "12k subset; old → new at 100 per class: label accuracy 0.1234 → 0.1234, FD 55.500 → 40.000") in text, text
    old_classifier = dict(scored, feature_space={"classifier_test_accuracy": 0.5})
    (run / "previous" / "metrics.json").write_text(json.dumps(old_classifier))
    assert "scored at another N or with another classifier: not compared" in render(tmp_path)
    # tools.rescore_previous: the new generator scored with the old classifier compares, the newest run only
    rescored = dict(old_classifier, generated=dict(METRICS["generated"], fd=70.0), generator={"epochs_done": 2})
    (run / "previous" / "rescored.json").write_text(json.dumps(rescored))
    assert "not compared" in render(tmp_path)  # scored after epoch 2, metrics.json after epoch 3
    (run / "previous" / "rescored.json").write_text(json.dumps(dict(rescored, generator={"epochs_done": 3})))
    assert ("old → new at 100 per class, both with the old run's classifier (test accuracy 0.5, "
            "previous/rescored.json): label accuracy 0.1234 → 0.1234, FD 55.500 → 70.000") in render(tmp_path)


def test_a_run_resumed_on_another_machine_says_which_epochs_each_trained(tmp_path):
    machine = lambda cpu, first, last, seconds: {"processor": cpu, "cpu_count": 2, "backend": "tensorflow",
                                                 "accelerator": "none (CPU only)", "first_epoch": first,
                                                 "last_epoch": last, "wall_seconds": seconds}
    sessions = [machine("Intel Xeon", 1, 60, 4000.0), machine("Intel Xeon", 61, 120, 4492.0),
                machine("AMD EPYC", 121, 129, 2308.0)]
    make_run(tmp_path, "cifar10/a_v1", run_of("cifar10", "a_v1", sessions=sessions))
    make_run(tmp_path, "cifar10/b_v1", run_of("cifar10", "b_v1", sessions=sessions[:2]))
    text = render(tmp_path)
    assert ("Intel Xeon, 2 cores, tensorflow (epochs 1–120, 2 h 22 min); AMD EPYC, 2 cores, tensorflow "
            "(epochs 121–129, 38.5 min); Keras 3.15.1") in text.split("### cifar10/a_v1")[1]
    assert "AMD EPYC, 2 cores; Keras 3.15.1 on torch" in text.split("### cifar10/b_v1")[1]  # one machine: as before
    sessions[2]["vector_extension"] = "AVX2"  # recorded since runs say which vector extension their CPU had
    make_run(tmp_path, "cifar10/a_v1", run_of("cifar10", "a_v1", sessions=sessions))
    assert "; AMD EPYC (AVX2), 2 cores, tensorflow (epochs 121–129" in render(tmp_path)


def test_a_run_cut_short_inside_its_first_epoch_shows_the_fraction_it_trained(tmp_path):
    """A budget that stops a large model a quarter of the way through its only epoch: 0.25 epochs, not 1."""
    cut = dict(SUMMARY, dataset="cifar10", model="m5", version="v1", status="stopped", epochs_done=1,
               epochs_planned=30, images_seen=12_288, data={"train_images": 49_152, "train_is_subset": False})
    make_run(tmp_path, "cifar10/m5_v1", cut)
    make_run(tmp_path, "cifar10/m5_v2", dict(cut, version="v2", epochs_done=2, images_seen=2 * 49_152))
    text = render(tmp_path)
    table = comparison(text, "cifar10")
    assert row_where(table, "model", "[m5](cifar10/m5_v1/)")["epochs"] == "0.25/30 (stopped)"
    assert row_where(table, "version", "v2")["epochs"] == "2/30 (stopped)"  # whole epochs stay whole
    assert "- **Status:** stopped, 0.25 of 30 epochs" in text.split("### cifar10/m5_v1")[1]
