"""The committed domain classifiers, the real held-out ceiling, and the metrics on real MNIST images, noise and
mislabelled images."""
import json

import numpy as np
import pytest

from cgan.evaluation.classifier import RECIPES, WEIGHTS_DIR, card_path, load_classifier, weights_path
from cgan.evaluation.scoring import Scorer, split_test_set, stratified_sample

# The module fixture is expensive: under pytest-xdist (make test) these tests share one worker.
pytestmark = pytest.mark.xdist_group("evaluation/test_scoring")

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
    assert card["train_is_subset"] == (dataset == "cifar100")  # CIFAR-100's copy is a 12k subset; CIFAR-10's is full
    assert card["retrain_command"].startswith(f"cgan classifier train --dataset {dataset}")


@pytest.fixture(scope="module")
def mnist(data_dir):
    from cgan.data import load_dataset

    return load_dataset("mnist", data_dir)


@pytest.fixture(scope="module")
def split(mnist):
    """((real held-out images, labels), (reference images, labels)), as cgan evaluate splits the test set."""
    return split_test_set(mnist.x_test, mnist.y_test, PER_CLASS, seed=0)


@pytest.fixture(scope="module")
def scorer(split):
    _, (x_ref, y_ref) = split
    return Scorer(load_classifier("mnist"), x_ref, y_ref, kid_subsets=10)


def test_mnist_classifier_reaches_its_card_accuracy_in_this_backend(scorer, mnist):
    card = scorer.classifier.card
    _, probs = scorer.classifier.features_and_probs(mnist.x_test)
    accuracy = float(np.mean(probs.argmax(axis=1) == mnist.y_test))
    assert card["test_accuracy"] >= 0.99
    assert accuracy == pytest.approx(card["test_accuracy"], abs=0.002)


def test_the_held_out_images_are_test_images_outside_the_reference(mnist, split):
    (held, held_labels), (ref, ref_labels) = split
    assert len(held) + len(ref) == len(mnist.x_test)
    assert np.bincount(held_labels).tolist() == [PER_CLASS] * 10
    rows = lambda images: {row.tobytes() for row in images.reshape(len(images), -1)}  # noqa: E731
    assert rows(held) <= rows(mnist.x_test) and not rows(held) & rows(ref)
    # Never more than half a class: CIFAR-100 has 100 test images per class.
    tiny_class = np.repeat(np.arange(3), 10)
    (_, few), (_, rest) = split_test_set(np.zeros((30, 1)), tiny_class, 100, seed=0)
    assert np.bincount(few).tolist() == [5, 5, 5] and np.bincount(rest).tolist() == [5, 5, 5]


def test_the_real_ceiling_is_not_inflated_by_images_the_classifier_trained_on(data_dir):
    """The case that made us check: the CIFAR-100 classifier read 0.33 of its training images, 0.265 of test images."""
    from cgan.data import load_dataset

    data = load_dataset("cifar100", data_dir)
    classifier = load_classifier("cifar100")
    (held, held_labels), _ = split_test_set(data.x_test, data.y_test, 20, seed=0)
    _, held_probs = classifier.features_and_probs(held)
    _, train_probs = classifier.features_and_probs(data.x_train[:2000])
    held_accuracy = float(np.mean(held_probs.argmax(axis=1) == held_labels))
    assert held_accuracy == pytest.approx(classifier.card["test_accuracy"], abs=0.03)
    assert float(np.mean(train_probs.argmax(axis=1) == data.y_train[:2000])) > held_accuracy + 0.04


@pytest.fixture(scope="module")
def scores(scorer, mnist, split):
    """Real held-out images (the floor), a real train sample, other real images mislabelled, and noise."""
    (held, held_labels), _ = split
    real, labels = stratified_sample(mnist.x_train, mnist.y_train, PER_CLASS, seed=1)
    other, other_labels = stratified_sample(mnist.x_train, mnist.y_train, PER_CLASS, seed=2)
    noise = np.random.default_rng(0).uniform(-1, 1, size=real.shape).astype("float32")
    return {"floor": scorer.score(held, held_labels, seed=0),
            "real": scorer.score(real, labels, seed=1),
            "wrong_class": scorer.score(other, (other_labels + 1) % 10, seed=2),
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
    # Mislabelled real images (another sample) keep a real sample's pooled FD, but intra-class FD sees them.
    assert wrong["fd"] < 2 * real["fd"] + 0.5 and noise["fd"] > 10 * wrong["fd"]
    assert wrong["intra_class_fd"]["mean"] > 5 * real["intra_class_fd"]["mean"]


def test_weights_folder_holds_only_cards_and_weights():
    names = {p.name for p in WEIGHTS_DIR.iterdir()}
    assert names == {f"{d}{suffix}" for d in RECIPES for suffix in (".json", ".weights.h5")}


def test_cifar100_fine_classes_map_to_one_superclass_each(data_dir):
    from cgan.evaluation.scoring import fine_to_coarse_matrix

    matrix = fine_to_coarse_matrix(data_dir)
    assert matrix.shape == (100, 20)
    assert (matrix.sum(axis=1) == 1).all() and (matrix.sum(axis=0) == 5).all()  # 5 fine classes per superclass
