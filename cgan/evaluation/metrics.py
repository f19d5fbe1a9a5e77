"""Distribution metrics on feature vectors (rows = samples), independent of any model.

* label accuracy: how often the classifier's top-1 class is the class that was asked for;
* Fréchet distance (Heusel et al. 2017): the distance between two Gaussians fitted to the features;
* KID (Bińkowski et al. 2018): unbiased MMD² with the cubic polynomial kernel, mean ± std over subsets;
* precision, recall, density, coverage (Naeem et al. 2020, k = 5): k-NN balls around samples;
* intra-class FD: the Fréchet distance per class, averaged over the classes.

scipy and scikit-learn do the linear algebra, kernels and neighbour searches.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg
from sklearn.metrics import accuracy_score, pairwise_distances
from sklearn.metrics.pairwise import polynomial_kernel
from sklearn.neighbors import NearestNeighbors

PRDC_K = 5


def label_accuracy(probs: np.ndarray, requested: np.ndarray) -> float:
    """Share of samples whose top-1 class (or fine→coarse-mapped class) is the requested one."""
    return float(accuracy_score(np.asarray(requested).reshape(-1), np.argmax(probs, axis=1)))


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype="float64")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_from_stats(mu1, sigma1, mu2, sigma2) -> float:
    """‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½)."""
    with warnings.catch_warnings():
        # Classifier features have dead ReLU units, so Σ1 Σ2 is often singular and scipy warns on every
        # call; its square root is still accurate (tests: FD of a set with itself stays ≈ 0).
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        # Near-singular covariances (dead ReLU units, few samples): nudge the diagonals, as
        # the reference FID code does, rather than return NaN.
        offset = np.eye(len(sigma1)) * 1e-6
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)  # rounding leaves tiny imaginary parts
    diff = np.asarray(mu1) - np.asarray(mu2)
    return float(max(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean), 0.0))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    return frechet_from_stats(*gaussian(a), *gaussian(b))


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    kxx = polynomial_kernel(x, degree=3, gamma=1.0 / d, coef0=1)
    kyy = polynomial_kernel(y, degree=3, gamma=1.0 / d, coef0=1)
    kxy = polynomial_kernel(x, y, degree=3, gamma=1.0 / d, coef0=1)
    m, n = len(x), len(y)
    # The unbiased estimator leaves out each sample's kernel with itself (the diagonals).
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def kid(fake: np.ndarray, real: np.ndarray, subset_size: int = 1000, subsets: int = 100, seed: int = 0) -> dict:
    """Kernel Inception Distance on any features: mean and std of the unbiased MMD² over random subsets.

    When both sets fit in one subset, it is computed once on all samples (std 0).
    """
    size = min(subset_size, len(fake), len(real))
    if size < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    if size == len(fake) == len(real):
        subsets = 1
    rng = np.random.default_rng(seed)
    values = [_mmd2_unbiased(fake[rng.choice(len(fake), size, replace=False)],
                             real[rng.choice(len(real), size, replace=False)]) for _ in range(subsets)]
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "subsets": subsets, "subset_size": size}


def _kth_neighbour_radii(features: np.ndarray, k: int) -> np.ndarray:
    # k + 1 neighbours because each point's nearest neighbour in its own set is itself.
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
    return distances[:, k]


def prdc(real: np.ndarray, fake: np.ndarray, k: int = PRDC_K) -> dict:
    """Precision, recall, density and coverage of `fake` against `real` (Naeem et al. 2020).

    precision: share of fake samples inside some real sample's k-NN ball (fidelity);
    recall:    share of real samples inside some fake sample's k-NN ball (diversity);
    density:   how many real balls hold each fake sample, divided by k (≈1 for matching sets, can exceed 1);
    coverage:  share of real samples whose ball holds at least one fake sample.
    """
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall/density/coverage need more than k={k} samples in each set")
    real_radii = _kth_neighbour_radii(real, k)
    fake_radii = _kth_neighbour_radii(fake, k)
    real_to_fake = pairwise_distances(real, fake)  # rows: real samples, columns: fake samples
    in_real_balls = real_to_fake < real_radii[:, None]
    return {
        "precision": float(in_real_balls.any(axis=0).mean()),
        "recall": float((real_to_fake < fake_radii[None, :]).any(axis=1).mean()),
        "density": float(in_real_balls.sum(axis=0).mean() / k),
        "coverage": float((real_to_fake.min(axis=1) < real_radii).mean()),
        "k": k,
    }


def intra_class_fd(fake: np.ndarray, fake_labels: np.ndarray, real: np.ndarray, real_labels: np.ndarray) -> dict:
    """Per-class Fréchet distance and its mean over the classes that have enough samples.

    A class is scored only when both sides have more samples than feature dimensions; with
    fewer, the covariance is singular and the distance mostly measures the sample size.
    """
    dim = fake.shape[1]
    per_class, too_small = {}, []
    for c in np.unique(fake_labels):
        f, r = fake[fake_labels == c], real[real_labels == c]
        if min(len(f), len(r)) <= dim:
            too_small.append((int(c), len(f), len(r)))
            continue
        per_class[int(c)] = frechet_distance(f, r)
    result = {"mean": float(np.mean(list(per_class.values()))) if per_class else None,
              "classes_scored": len(per_class), "classes_skipped": len(too_small), "per_class": per_class}
    if too_small:
        c, nf, nr = too_small[0]
        result["note"] = (f"{len(too_small)} class(es) not scored: a class needs more than {dim} samples "
                          f"(the feature dimension) on each side; e.g. class {c} has {nf} generated, {nr} real")
    return result
