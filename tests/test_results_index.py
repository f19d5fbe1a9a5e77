"""resultados/README.md is generated from the run folders: every fact and link comes from a folder."""
import json
import re

import pytest

from cgan import results_index
from cgan.runs import results_root

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


def make_run(root, key, summary, metrics=None, files=("plots/loss_per_epoch.png", "evolution/epoch_001.png",
                                                       "evolution/epoch_003.png", "evolution.gif", "generator.keras")):
    folder = root / key
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")
    (folder / "summary.json").write_text(json.dumps(summary) if isinstance(summary, dict) else summary)
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


@pytest.fixture
def root(tmp_path):
    make_run(tmp_path, "cifar100/m3_v1", SUMMARY, METRICS)
    make_run(tmp_path, "mnist/m1_v2", dict(SUMMARY, dataset="mnist", model="m1", version="v2", status="running",
                                           epochs_done=1, epochs_planned=20, wall_seconds=340.0,
                                           data={"train_images": 60000, "train_is_subset": False}))
    make_run(tmp_path, "cifar10/m5_v1", "{not json")
    return tmp_path


def test_index_lists_every_run_with_its_facts(root):
    text = results_index.render(results_index.collect(root), root)
    assert "| [cifar100/m3_v1](cifar100/m3_v1/) | cifar100 | m3 | v1 | finished | 3/3 | 12000 (subset) | 2 h 03 min " \
           "| 0.6123 | 0.5000 | 0.7000 | 0.6500 |" in text
    assert "| [mnist/m1_v2](mnist/m1_v2/) | mnist | m1 | v2 | running | 1/20 | 60000 | 5.7 min |" in text
    assert "cifar10/m5_v1: " in text and "is corrupt" in text  # unreadable folders are named, not skipped
    assert "G 4,404,427 + D 1,105,993 = 5,510,420" in text and "AMD EPYC, 2 cores; Keras 3.15.1 on torch" in text


def test_quality_metrics_appear_only_where_evaluated(root):
    text = results_index.render(results_index.collect(root), root)
    assert "| FD ↓ | 55.5000 | 3.2500 |" in text and "| KID ↓ | 0.0421 | 0.0010 |" in text
    assert "| coverage ↑ | 0.1500 | 0.9000 |" in text and "Inception FID" not in text
    mnist_section = text.split("### mnist/m1_v2")[1]
    assert "not evaluated yet" in mnist_section


def test_the_real_column_says_which_real_images_it_scored(tmp_path):
    held_out = dict(METRICS, samples={"generated": 1000, "real_floor_source": "real held-out: test images"})
    make_run(tmp_path, "mnist/new", SUMMARY, held_out)
    make_run(tmp_path, "mnist/old", SUMMARY, METRICS)  # written when the ceiling used training images
    text = results_index.render(results_index.collect(tmp_path), tmp_path)
    new, old = text.split("### mnist/new")[1].split("### mnist/old")
    assert "| metric | generated | real held-out |" in new and "real train" not in new
    assert "| metric | generated | real train |" in old and "inflated" in old


def test_every_link_points_to_a_file_in_the_folder(root):
    text = results_index.render(results_index.collect(root), root)
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert "cifar100/m3_v1/evolution/epoch_003.png" in links  # the last grid, not the first
    assert "cifar100/m3_v1/evolution.gif" in links
    for link in links:
        assert (root / link).exists(), link


def test_large_generators_are_marked_as_not_committed(root):
    (root / "cifar100/m3_v1/generator.keras").write_bytes(b"\0" * (21 * 2**20))
    text = results_index.render(results_index.collect(root), root)
    assert "(21 MB, kept out of git; retrain to get it)" in text


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
