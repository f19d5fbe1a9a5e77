"""The committed domain classifiers and the metrics on real MNIST images, noise and mislabelled images."""
import json

import numpy as np
import pytest

from cgan.evaluation.classifier import RECIPES, WEIGHTS_DIR, card_path, load_classifier, weights_path
from cgan.evaluation.evaluate import Scorer, stratified_sample

PER_CLASS = 100  # > 64 feature dimensions, so intra-class FD is scored


@pytest.mark.parametrize("dataset", sorted(RECIPES))
def test_every_dataset_has_a_small_classifier_with_a_complete_card(dataset):
    import hashlib

    card = json.loads(card_path(dataset).read_text())
    weights = weights_path(dataset)
    assert weights.stat().st_size < 5_000_000
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == card["weights_sha256"]  # card describes these weights
    for key in ("test_accuracy", "train_images", "train_is_subset", "data_note", "epochs", "backend",
                "wall_seconds", "retrain_command", "feature_dim"):
        assert key in card, key
    assert card["train_is_subset"] == (dataset != "mnist")  # the CIFAR train sets here are subsets
    assert card["retrain_command"].startswith(f"cgan classifier train --dataset {dataset}")


@pytest.fixture(scope="module")
def mnist(data_dir):
    from cgan.data import load_dataset

    return load_dataset("mnist", data_dir)


@pytest.fixture(scope="module")
def scorer(mnist):
    return Scorer(load_classifier("mnist"), mnist.x_test, mnist.y_test, kid_subsets=10)


def test_mnist_classifier_reaches_its_card_accuracy_in_this_backend(scorer, mnist):
    card = scorer.classifier.card
    accuracy = float(np.mean(scorer.test_probs.argmax(axis=1) == mnist.y_test))
    assert card["test_accuracy"] >= 0.99
    assert accuracy == pytest.approx(card["test_accuracy"], abs=0.002)


@pytest.fixture(scope="module")
def scores(scorer, mnist):
    """Real train images (the floor), another real sample, mislabelled real images, and noise."""
    real, labels = stratified_sample(mnist.x_train, mnist.y_train, PER_CLASS, seed=0)
    other, other_labels = stratified_sample(mnist.x_train, mnist.y_train, PER_CLASS, seed=1)
    noise = np.random.default_rng(0).uniform(-1, 1, size=real.shape).astype("float32")
    return {"floor": scorer.score(real, labels, seed=0),
            "real": scorer.score(other, other_labels, seed=1),
            "wrong_class": scorer.score(real, (labels + 1) % 10, seed=0),
            "noise": scorer.score(noise, labels, seed=0)}


def test_real_images_score_like_the_classifier_and_the_floor(scores, scorer):
    real, floor = scores["real"], scores["floor"]
    assert abs(real["label_accuracy"] - scorer.classifier.card["test_accuracy"]) < 0.02
    assert real["fd"] < 2 * floor["fd"] + 0.5
    assert real["intra_class_fd"]["classes_scored"] == 10
    assert real["prdc"]["precision"] > 0.6 and real["prdc"]["coverage"] > 0.6


def test_noise_and_wrong_classes_score_far_worse(scores):
    real, wrong, noise = scores["real"], scores["wrong_class"], scores["noise"]
    # Label accuracy: real ≫ noise, and mislabelled images are almost never "right".
    assert real["label_accuracy"] > 0.9 > 0.3 > noise["label_accuracy"]
    assert wrong["label_accuracy"] < 0.05
    # Noise is far from real data in every distribution metric.
    assert noise["fd"] > 10 * real["fd"] and noise["kid"]["mean"] > 10 * abs(real["kid"]["mean"])
    # Not precision: noise collapses to one spot in feature space that falls inside the inflated k-NN
    # balls of a few real outliers (precision ≈ 1 here). That weakness is why density and coverage exist;
    # density still counts the few balls it falls in (≈ 0.5), coverage and recall see the collapse.
    assert noise["prdc"]["density"] < real["prdc"]["density"]
    assert noise["prdc"]["coverage"] < real["prdc"]["coverage"] / 4
    assert noise["prdc"]["recall"] < real["prdc"]["recall"] / 4
    # Mislabelled real images keep the pooled FD of real data, but intra-class FD sees them.
    assert wrong["fd"] == pytest.approx(scores["floor"]["fd"])
    assert wrong["intra_class_fd"]["mean"] > 5 * real["intra_class_fd"]["mean"]


def test_weights_folder_holds_only_cards_and_weights():
    names = {p.name for p in WEIGHTS_DIR.iterdir()}
    assert names == {f"{d}{suffix}" for d in RECIPES for suffix in (".json", ".weights.h5")}


def test_cifar100_fine_classes_map_to_one_superclass_each(data_dir):
    from cgan.evaluation.evaluate import fine_to_coarse_matrix

    matrix = fine_to_coarse_matrix(data_dir)
    assert matrix.shape == (100, 20)
    assert (matrix.sum(axis=1) == 1).all() and (matrix.sum(axis=0) == 5).all()  # 5 fine classes per superclass
