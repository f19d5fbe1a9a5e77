"""`cgan evaluate`: score a run's generator against real data and write metrics.json.

Every metric is computed twice: on the generated images and on "real held-out" images, a
stratified sample of the real test split that the classifier never trained on and that is kept out of
the reference. The real column is the floor (FD, KID, intra-class FD) or the ceiling (label accuracy,
precision, recall, coverage) that a perfect generator would reach with this classifier; both columns
are scored against the same reference, the rest of the test split. (Real *training* images would
inflate the ceiling: the classifier has seen them; we found CIFAR-100 label accuracy 0.33 on
them against the classifier's 0.265 on test images.) The held-out sample has the generated sample's size unless that would take
more than half of a class's test images (CIFAR-100 has 100 per class); then it is smaller.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from cgan.errors import EvaluationError
from cgan.evaluation import MAX_PER_CLASS
from cgan.evaluation.scoring import HELDOUT_MAX_SHARE, Scorer, fine_to_coarse_matrix, split_test_set

DEFAULT_PER_CLASS = 100
HELDOUT_NAME = "real held-out"


def evaluate_run(run_dir, per_class: int = DEFAULT_PER_CLASS, seed: int = 0, data_dir=None,
                 inception: bool = True, inception_weights: str | None = None, generator=None,
                 classifier_folder=None) -> dict:
    """Score the run's generator.keras, or `generator` (a `cgan.generate.Generator` of that run, such as its
    ONNX file with compact weights), with the classifier in `classifier_folder` (default: the package's)."""
    from cgan.data import load_dataset, to_uint8
    from cgan.evaluation.classifier import WEIGHTS_DIR, load_classifier, weights_path
    from cgan.evaluation.inception import inception_fid, locate_weights
    from cgan.generate import Generator, read_generator_summary
    from cgan.runs import RunFolder
    from cgan.runtime import environment_facts

    if not 2 <= per_class <= MAX_PER_CLASS:
        raise EvaluationError(f"--per-class must be from 2 to {MAX_PER_CLASS}")
    started = time.perf_counter()
    # Before the slow part, so a wrong weights path fails at once.
    located = locate_weights(inception_weights) if inception else (None, "turned off (--no-inception)")
    run = RunFolder(run_dir)
    summary = read_generator_summary(run)
    dataset, label_mode = summary["dataset"], summary.get("label_mode", "fine")
    if generator is None:
        generator = Generator.from_run(run.path)  # first: it checks the summary against the generator file
    data = load_dataset(dataset, data_dir, label_mode=label_mode, train=False)
    if len(generator.label_names) != data.num_classes:
        raise EvaluationError(f"{run.summary} names {len(generator.label_names)} classes, but {dataset} "
                              f"({label_mode} labels) has {data.num_classes}")
    classifier = load_classifier(dataset, classifier_folder or WEIGHTS_DIR)
    label_map = fine_to_coarse_matrix(data_dir) if label_mode == "coarse" else None
    (real, real_labels), (x_ref, y_ref) = split_test_set(data.x_test, data.y_test, per_class, seed)
    scorer = Scorer(classifier, x_ref, y_ref, label_map)

    fake, fake_labels = generator.generate(list(range(data.num_classes)), per_class, seed)
    generated = scorer.score(fake, fake_labels, seed)
    floor = scorer.score(real, real_labels, seed)
    test_pick = np.random.default_rng(seed).choice(len(x_ref), min(len(fake), len(x_ref)), False)
    inception_result = inception_fid(fake, to_uint8(x_ref[test_pick]), located)
    names = list(data.label_names)
    for scores in (generated, floor):
        scores["per_class_label_accuracy"] = {names[c]: v for c, v in scores["per_class_label_accuracy"].items()}
        scores["intra_class_fd"]["per_class"] = {names[c]: v for c, v in scores["intra_class_fd"]["per_class"].items()}
    card = classifier.card
    return {
        "run": run.path.name,  # the folder that holds this file; its path differs per machine
        "dataset": dataset, "label_mode": label_mode,
        "generator": {"status": summary.get("status"), "epochs_done": summary.get("epochs_done"),
                      "epochs_planned": summary.get("epochs_planned"), "file": generator.source},
        "samples": {
            "per_class": per_class, "classes": data.num_classes, "generated": int(len(fake)),
            "real_floor": int(len(real)),
            "real_floor_source": f"{HELDOUT_NAME}: random stratified sample of the test split (at most "
                                 f"{HELDOUT_MAX_SHARE:.0%} of each class), not in the reference, never seen by the "
                                 "classifier",
            "reference": f"real test set without the held-out images, {len(x_ref)} images", "seed": seed,
            "prdc_reference": f"random {generated['prdc']['n']} test images vs {generated['prdc']['n']} generated"},
        "feature_space": {
            "classifier": (weights_path(dataset, classifier_folder).as_posix() if classifier_folder
                           else f"cgan/evaluation/weights/{dataset}.weights.h5"), "feature_dim": card["feature_dim"],
            "classifier_test_accuracy": card["test_accuracy"],
            "classifier_trained_on": f"{card['train_images']} train images ({card['data_note']})",
            "note": "domain-classifier features, not ImageNet InceptionV3: not comparable to published FIDs"},
        "generated": generated,
        "real_floor": floor,
        "inception_fid": inception_result,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "backend": environment_facts()["backend"],
        "evaluated_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_metrics(run_dir, metrics: dict) -> Path:
    from cgan.errors import RunError
    from cgan.io import write_json
    from cgan.runs import RunFolder

    path = RunFolder(run_dir).metrics
    try:
        write_json(path, metrics)
    except OSError as exc:  # its own file name would be the temporary file's
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def format_table(metrics: dict) -> str:
    """The printed summary: one row per metric, generated vs the real held-out images."""
    s, gen, real = metrics["samples"], metrics["generated"], metrics["real_floor"]
    g = metrics["generator"]
    lines = [
        f"{metrics['run']}: {metrics['dataset']} generator after epoch {g['epochs_done']} "
        f"of {g['epochs_planned']} ({g['status']})",
        f"n = {s['per_class']} per class × {s['classes']} classes = {s['generated']} generated, "
        f"{s['real_floor']} {HELDOUT_NAME} images; reference: {s['reference']}; seed {s['seed']}",
        f"features: {metrics['feature_space']['feature_dim']}-d domain classifier "
        f"(test accuracy {metrics['feature_space']['classifier_test_accuracy']:.4f}), not Inception",
        f"{HELDOUT_NAME}: real test images that neither the classifier nor the reference saw, scored the same "
        "way: the best a generator can expect",
        "",
        f"{'metric':<24}{'generated':>14}{HELDOUT_NAME:>15}",
    ]
    rows = [("label accuracy ↑", gen["label_accuracy"], real["label_accuracy"], ".4f"),
            ("FD ↓", gen["fd"], real["fd"], ".3f"),
            ("KID ↓", gen["kid"]["mean"], real["kid"]["mean"], ".4g")]
    rows += [(f"{k} ↑", gen["prdc"][k], real["prdc"][k], ".4f") for k in ("precision", "recall", "density", "coverage")]
    rows.append(("intra-class FD ↓ (mean)", gen["intra_class_fd"]["mean"], real["intra_class_fd"]["mean"], ".3f"))
    lines += [f"{name:<24}{_fmt(a, spec):>14}{_fmt(b, spec):>15}" for name, a, b, spec in rows]
    if gen["intra_class_fd"].get("note"):
        lines.append(f"  intra-class FD: {gen['intra_class_fd']['note']}")
    fid = metrics["inception_fid"]
    lines.append("Inception FID: " + (f"skipped ({fid['skipped']})" if "skipped" in fid
                                      else f"{fid['value']:.3f} (n = {fid['n_generated']} vs {fid['n_real']})"))
    return "\n".join(lines)
