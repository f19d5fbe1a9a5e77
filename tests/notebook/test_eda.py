"""cgan.notebook.eda: the tables and figures of the EDA notebooks, on real data and on data with known answers."""
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from cgan.data import proportional_indices
from cgan.notebook import eda

# The module fixture is expensive: under pytest-xdist (make test) these tests share one worker.
pytestmark = pytest.mark.xdist_group("notebook/test_eda")


def synthetic(n=600, shape=(8, 8, 1), classes=3, seed=0) -> eda.Images:
    """Images that vary along exactly two pixel patterns, so PCA must find two components."""
    rng = np.random.default_rng(seed)
    patterns = rng.standard_normal((2, int(np.prod(shape))))
    y = np.arange(n) % classes
    weights = rng.standard_normal((n, 2)) * 10 + y[:, None] * 8  # class shifts both coordinates
    flat = np.clip(np.rint(128 + weights @ patterns), 0, 255).astype("uint8")
    return eda.Images("synthetic", "train", flat.reshape(n, *shape), y, tuple(f"c{i}" for i in range(classes)),
                      False)


@pytest.fixture(scope="module")
def mnist(data_dir):
    return eda.load_images("mnist", "train", data_dir=data_dir)


@pytest.fixture(scope="module")
def cifar100(data_dir):
    return eda.load_images("cifar100", "train", sample=1000, data_dir=data_dir)


def test_frame_has_one_column_per_pixel_plus_label(mnist, cifar100):
    assert eda.images_frame(mnist).shape == (60000, 785)
    frame = eda.images_frame(cifar100)
    assert frame.shape == (1000, 3073) and frame.columns[-1] == "label"
    # Column names follow the flatten order: row 0, col 1, green is the 5th value of image 0.
    assert frame.columns[4] == "px_0_1_G" and frame.iloc[0, 4] == cifar100.x[0, 0, 1, 1]
    np.testing.assert_array_equal(frame.drop(columns="label").to_numpy(), cifar100.x.reshape(1000, -1))


def test_overview_and_channel_statistics_match_the_published_mnist_values(mnist):
    overview = eda.frame_overview(eda.images_frame(mnist)).iloc[0]
    assert (overview["rows"], overview["columns"], overview["missing_values"]) == (60000, 785, 0)
    assert (overview["min"], overview["max"]) == (0, 255)
    assert overview["always_zero_pixels"] == 67  # MNIST's blank border pixels
    stats = eda.channel_statistics(mnist.x)
    assert stats.loc["grey", "mean"] == pytest.approx(0.1307, abs=5e-5)
    assert stats.loc["grey", "std"] == pytest.approx(0.3081, abs=5e-5)
    assert eda.pixel_summary(eda.images_frame(mnist)).loc["count", "mean"] == 784


def test_cifar10_test_channel_statistics(data_dir):
    test = eda.load_images("cifar10", "test", data_dir=data_dir)
    stats = eda.channel_statistics(test.x)
    np.testing.assert_allclose(stats["mean"], [0.4942, 0.4851, 0.4504], atol=5e-5)
    assert not test.is_subset and len(test) == 10000


def test_label_table_counts_the_known_mnist_distribution(mnist, data_dir):
    test = eda.load_images("mnist", "test", data_dir=data_dir)
    table = eda.label_table(mnist, test)
    assert table["train"].tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert table["test"].sum() == 10000 and table["train_share"].sum() == pytest.approx(1, abs=1e-3)
    figure = eda.label_histogram(table, "MNIST")
    assert isinstance(figure, Figure) and len(figure.axes[0].patches) == 20


def test_proportional_indices_keep_class_shares(mnist):
    keep = proportional_indices(mnist.y, 2000, seed=1)
    assert len(keep) == 2000 and np.all(np.diff(keep) > 0)
    shares = np.bincount(mnist.y[keep]) / 2000
    np.testing.assert_allclose(shares, np.bincount(mnist.y) / len(mnist.y), atol=1e-3)


def test_superclasses_of_cifar100(cifar100, data_dir):
    mapping, names = eda.superclass_map(data_dir)
    assert len(mapping) == 100 and len(names) == 20
    assert np.all(np.bincount(mapping) == 5)  # five fine classes per superclass
    assert names[mapping[cifar100.names.index("whale")]] == "aquatic_mammals"
    assert names[mapping[cifar100.names.index("apple")]] == "fruit_and_vegetables"
    np.testing.assert_array_equal(cifar100.coarse_y, mapping[cifar100.y])


def test_pca_finds_the_two_patterns_of_synthetic_data():
    images = synthetic()
    pca = eda.fit_pca(images)
    variance = eda.explained_variance(pca)
    assert variance["cumulative"].iloc[-1] == pytest.approx(1.0) and variance["ratio"].is_monotonic_decreasing
    needed = eda.components_needed(pca)["components"]
    assert needed["90%"] <= 2 and needed["99%"] <= 2
    assert eda.claim_check(pca, "synthetic") is None


def test_class_separation_is_one_for_separated_classes_and_near_zero_for_random_labels():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 250)
    separated = np.stack([y * 100 + rng.normal(size=1000), rng.normal(size=1000)], axis=1)
    eta = eda.class_separation(separated, y)
    assert eta["PC1"] > 0.999 and eta["PC2"] < 0.02
    assert eda.class_separation(separated, rng.permutation(y))["PC1"] < 0.02


def test_mnist_pca_against_the_original_claim(mnist):
    sample = eda.Images("mnist", "train", *[a[proportional_indices(mnist.y, 5000)] for a in (mnist.x, mnist.y)],
                        mnist.names, True)
    pca = eda.fit_pca(sample)
    claim = eda.claim_check(pca, "mnist")["mnist"]
    assert claim["claimed components"] == 200
    assert 0.9 < claim["measured variance at claimed components"] < 1.0
    needed = eda.components_needed(pca)["components"]
    assert needed["90%"] < needed["95%"] < needed["99%"] < 784
    assert "at 200 components" in eda.claim_sentence(pca, "mnist")
    figure = eda.cumulative_variance_figure(pca, "MNIST", claim=200)
    assert len(figure.axes[0].get_legend().get_texts()) == 4


def test_figures_are_drawn_and_saved(cifar100, tmp_path):
    points = eda.project(eda.fit_pca(synthetic()), synthetic())
    assert points.shape == (600, 2)
    figures = {
        "samples": eda.sample_images(cifar100, per_class=3, classes=range(5)),
        "intensity": eda.intensity_histograms(cifar100.x, "CIFAR-100"),
        "scatter": eda.pca_scatter(points, synthetic().y, synthetic().names, "synthetic"),
        "superclass": eda.pca_scatter(np.random.default_rng(0).normal(size=(1000, 2)), cifar100.coarse_y,
                                      cifar100.coarse_names, "by superclass"),
    }
    assert len(figures["samples"].axes) == 15
    assert len(figures["intensity"].axes[0].patches) == 3  # R, G and B curves
    assert "share of variance explained by class" in figures["scatter"].axes[0].get_title()
    for name, figure in figures.items():
        path = eda.save_figure(figure, tmp_path / "figures", name)
        assert path.stat().st_size > 5000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_label_distribution_includes_empty_classes():
    table = eda.label_distribution(np.array([0, 0, 2]), ["a", "b", "c"])
    assert table["count"].tolist() == [2, 0, 1] and isinstance(table, pd.DataFrame)


def test_component_correlations_name_what_an_axis_measures():
    rng = np.random.default_rng(0)
    brightness = rng.uniform(20, 230, size=400)
    x = np.clip(brightness[:, None, None, None] + rng.normal(0, 3, size=(400, 8, 8, 3)), 0, 255).astype("uint8")
    images = eda.Images("flat", "train", x, np.arange(400) % 4, ("a", "b", "c", "d"), False)
    points = eda.project(eda.fit_pca(images), images)
    correlations = eda.component_correlations(points, images)
    assert set(correlations.index) == {"brightness", "top_minus_bottom", "centre_minus_border", "blue_minus_red"}
    assert abs(correlations.loc["brightness", "PC1"]) > 0.99  # images that differ only in brightness


def test_extreme_classes_are_the_centroids_at_each_end():
    y = np.repeat(np.arange(5), 10)
    points = np.stack([y * 1.0, -y * 1.0], axis=1)
    ends = eda.extreme_classes(points, y, ["a", "b", "c", "d", "e"], k=2)
    assert ends.loc["PC1", "one end"] == "a, b" and ends.loc["PC1", "other end"] == "e, d"
    assert ends.loc["PC2", "one end"] == "e, d"
