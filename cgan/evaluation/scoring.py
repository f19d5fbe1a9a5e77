"""Scoring image sets in a domain classifier's feature space, against real test images prepared once.

`cgan evaluate` (evaluate.py) scores a finished run's generator with this; training's quality monitor
(cgan.training.quality) scores the generator every few epochs with the same code.
"""
from __future__ import annotations

import numpy as np

from cgan.data import balanced_indices, fine_to_coarse
from cgan.evaluation import metrics as m

# KID: half the literature's 100 subsets of 1000, for half the time; the std over subsets (reported) shows
# the spread. PRDC compares at most this many samples per
# side, so the distance matrix stays ≤ 200 MB (Naeem et al. used 10,000).
KID_SUBSETS = 50
PRDC_MAX = 5000
# The real held-out sample takes at most this share of each class's test images; the rest is the reference.
HELDOUT_MAX_SHARE = 0.5


def fine_to_coarse_matrix(data_dir=None) -> np.ndarray:
    """100×20 0/1 matrix mapping CIFAR-100 fine classes to superclasses: fine probabilities @ it = coarse ones."""
    return np.eye(20, dtype="float32")[fine_to_coarse(data_dir)]


class Scorer:
    """Real test data in one classifier's feature space, prepared once; scores image sets against it."""

    def __init__(self, classifier, x_test: np.ndarray, y_test: np.ndarray, label_map: np.ndarray | None = None,
                 kid_subsets: int = KID_SUBSETS):
        self.classifier, self.label_map, self.kid_subsets = classifier, label_map, kid_subsets
        self.test_features, self.test_probs = classifier.features_and_probs(x_test)
        self.test_labels = np.asarray(y_test).reshape(-1)
        self.test_stats = m.gaussian(self.test_features)

    def features_and_probs(self, images):
        features, probs = self.classifier.features_and_probs(images)
        if self.label_map is not None:  # a coarse-label run: sum the fine probabilities per superclass
            probs = probs @ self.label_map
        return features, probs

    def score(self, images, labels, seed: int = 0, intra: bool = True, prdc: bool = True) -> dict:
        labels = np.asarray(labels).reshape(-1)
        features, probs = self.features_and_probs(images)
        scores = {
            "label_accuracy": m.label_accuracy(probs, labels),
            "fd": m.frechet_from_stats(*m.gaussian(features), *self.test_stats),
            "kid": m.kid(features, self.test_features, subsets=self.kid_subsets, seed=seed),
        }
        if prdc:
            # Naeem et al. compare equal-sized sets: a random real test sample as large as the generated one.
            rng = np.random.default_rng(seed)
            n = min(len(features), len(self.test_features), PRDC_MAX)
            fake_pick = rng.choice(len(features), n, replace=False)
            real_pick = rng.choice(len(self.test_features), n, replace=False)
            scores["prdc"] = {**m.prdc(self.test_features[real_pick], features[fake_pick]), "n": n}
        if intra:
            scores["intra_class_fd"] = m.intra_class_fd(features, labels, self.test_features, self.test_labels)
        scores["per_class_label_accuracy"] = {
            int(c): float(np.mean(np.argmax(probs[labels == c], axis=1) == c)) for c in np.unique(labels)}
        return scores


def stratified_sample(x: np.ndarray, y: np.ndarray, per_class: int, seed: int):
    """Up to `per_class` random images of every class (all of a class when it has fewer)."""
    idx = balanced_indices(y, per_class, seed)
    return x[idx], y[idx]


def split_test_set(x_test: np.ndarray, y_test: np.ndarray, per_class: int, seed: int):
    """((real held-out images, labels), (reference images, labels)): disjoint parts of the test split.

    The held-out part is up to `per_class` random images of each class, at most half of the class.
    """
    held = balanced_indices(y_test, per_class, seed, HELDOUT_MAX_SHARE)
    reference = np.setdiff1d(np.arange(len(y_test)), held)
    return (x_test[held], y_test[held]), (x_test[reference], y_test[reference])
