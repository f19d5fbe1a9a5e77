"""The metric functions on small cases whose answers are worked out by hand (no models, fast)."""
import numpy as np
import pytest

from cgan.evaluation import metrics as m


def gaussian_sample(n, mean, scale=1.0, dim=4, seed=0):
    return np.random.default_rng(seed).normal(mean, scale, size=(n, dim))


def test_label_accuracy_counts_top1_matches():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert m.label_accuracy(probs, [0, 1, 1, 1]) == pytest.approx(0.75)


def test_fd_of_a_set_with_itself_is_zero():
    a = gaussian_sample(500, 0.0)
    assert m.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_fd_of_two_samples_of_one_gaussian_is_small_and_shrinks_with_n():
    small = m.frechet_distance(gaussian_sample(200, 0.0, seed=1), gaussian_sample(200, 0.0, seed=2))
    large = m.frechet_distance(gaussian_sample(20000, 0.0, seed=1), gaussian_sample(20000, 0.0, seed=2))
    assert large < small < 0.5 and large < 0.01


def test_fd_of_a_known_mean_shift_is_its_squared_length():
    a = gaussian_sample(300, 0.0)
    shift = np.array([1.0, -2.0, 0.5, 0.0])  # same covariance, so FD = |shift|² = 1 + 4 + 0.25
    assert m.frechet_distance(a, a + shift) == pytest.approx(5.25, abs=1e-6)


def test_fd_from_known_statistics():
    # N(0, 1) vs N(1, 4) in 1-D: (0-1)² + 1 + 4 - 2·√(1·4) = 2.
    assert m.frechet_from_stats(np.zeros(1), np.eye(1), np.ones(1), 4 * np.eye(1)) == pytest.approx(2.0)
    # I vs 4I in 3-D: 3·(1 + 4 - 2·2) = 3.
    assert m.frechet_from_stats(np.zeros(3), np.eye(3), np.zeros(3), 4 * np.eye(3)) == pytest.approx(3.0)


def test_fd_survives_singular_covariances():
    a = gaussian_sample(50, 0.0, dim=8)
    a[:, 3] = 0.0  # a dead feature, as a ReLU unit that never fires gives
    b = gaussian_sample(50, 1.0, dim=8, seed=3)
    b[:, 3] = 0.0
    assert np.isfinite(m.frechet_distance(a, b))
    assert m.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert m.frechet_distance(a, a + 1.0) == pytest.approx(8.0, abs=1e-6)  # all 8 means move by 1, the dead one too


def test_kid_on_a_hand_computed_case():
    # k(a, b) = (a·b / 1 + 1)³.  x = {0, 1}: k(0,1) = 1.  y = {2, 3}: k(2,3) = 343.
    # cross terms: k(0,2) = k(0,3) = 1, k(1,2) = 27, k(1,3) = 64, mean 23.25 → MMD² = 1 + 343 − 2·23.25.
    x, y = np.array([[0.0], [1.0]]), np.array([[2.0], [3.0]])
    result = m.kid(x, y, subset_size=2)
    assert result["mean"] == pytest.approx(297.5) and result["subsets"] == 1 and result["std"] == 0.0


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    a, b = gaussian_sample(400, 0.0, seed=1), gaussian_sample(400, 0.0, seed=2)
    same = m.kid(a, b, subset_size=200, subsets=20)
    shifted = m.kid(a, b + 1.0, subset_size=200, subsets=20)
    assert abs(same["mean"]) < 3 * same["std"] + 1e-3
    assert shifted["mean"] > 10 * abs(same["mean"]) and shifted["mean"] > 0.1
    assert same["subsets"] == 20 and same["subset_size"] == 200


def test_prdc_on_a_hand_computed_case():
    # k = 1: each real point's ball has radius 1 (its nearest real neighbour).
    # fake 0.5 lies in the balls of reals 0 and 1, fake 10 in none; the fakes' own radii are 9.5.
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    fake = np.array([[0.5], [10.0]])
    assert m.prdc(real, fake, k=1) == {"precision": 0.5, "recall": 1.0, "density": 1.0, "coverage": 0.5, "k": 1}


def test_prdc_tells_matching_far_and_collapsed_sets_apart():
    real = gaussian_sample(500, 0.0, seed=1)
    matching = m.prdc(real, gaussian_sample(500, 0.0, seed=2))
    far = m.prdc(real, gaussian_sample(500, 20.0, seed=2))
    collapsed = m.prdc(real, gaussian_sample(500, 0.0, scale=0.05, seed=2))  # every fake near one mode
    assert matching["precision"] > 0.7 and matching["recall"] > 0.7 and matching["coverage"] > 0.8
    assert 0.7 < matching["density"] < 1.3
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0, "k": 5}
    assert collapsed["precision"] > 0.95 and collapsed["recall"] < 0.1 and collapsed["coverage"] < 0.1


def test_prdc_needs_more_samples_than_k():
    with pytest.raises(ValueError, match="more than k=5"):
        m.prdc(np.zeros((5, 2)), np.zeros((10, 2)))


def test_intra_class_fd_sees_swapped_classes_that_pooled_fd_misses():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 300)
    centres = np.where(labels[:, None] == 0, -2.0, 2.0)
    real = centres + rng.normal(size=(600, 3))
    fake = centres + rng.normal(size=(600, 3))
    swapped = 1 - labels  # right images, wrong labels
    assert m.frechet_distance(fake, real) < 0.1  # the pooled distributions agree either way
    right = m.intra_class_fd(fake, labels, real, labels)
    wrong = m.intra_class_fd(fake, swapped, real, labels)
    assert right["classes_scored"] == 2 and "note" not in right
    assert right["mean"] < 0.1 and wrong["mean"] > 40  # a 4-unit shift in 3 dims: |Δμ|² = 48


def test_intra_class_fd_says_when_classes_are_too_small():
    rng = np.random.default_rng(0)
    # 8 generated per class in 8 dimensions: one too few for a full-rank covariance.
    result = m.intra_class_fd(rng.normal(size=(16, 8)), np.repeat([0, 1], 8), rng.normal(size=(40, 8)),
                              np.repeat([0, 1], 20))
    assert result["mean"] is None and result["classes_skipped"] == 2 and result["per_class"] == {}
    assert "needs more than 8 samples" in result["note"] and "8 generated, 20 real" in result["note"]
