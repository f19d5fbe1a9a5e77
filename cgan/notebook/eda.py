"""Exploratory data analysis behind the EDA/ notebooks: tables as DataFrames, figures as matplotlib Figures.

The notebooks only call these functions, show the results and save the figures, so every number they
print is produced (and unit-tested) here. Figures are built with `matplotlib.figure.Figure` rather than
pyplot, so nothing depends on the active backend (the package forces Agg) and no figure leaks.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from cgan.data import fine_to_coarse, label_names, load_dataset, proportional_indices, to_uint8

THRESHOLDS = (0.90, 0.95, 0.99)
# What the original project wrote about PCA (its EDA notebooks), checked against our measurement.
ORIGINAL_PCA_CLAIMS = {
    "mnist": (200, "cumulative explained variance close to 1 after about 200 components"),
    "cifar10": (400, "cumulative explained variance close to 1 after about 400 components"),
}
CHANNEL_NAMES = {1: ("grey",), 3: ("R", "G", "B")}
CHANNEL_COLOURS = {"grey": "0.3", "R": "tab:red", "G": "tab:green", "B": "tab:blue"}


@dataclass(frozen=True)
class Images:
    """One split of a dataset as uint8 pixels, with fine (and for CIFAR-100 coarse) labels."""

    dataset: str
    split: str
    x: np.ndarray
    y: np.ndarray
    names: tuple[str, ...]
    is_subset: bool
    coarse_y: np.ndarray | None = None
    coarse_names: tuple[str, ...] | None = None

    def __len__(self):
        return len(self.x)

    @property
    def caption(self) -> str:
        """Which images a figure was drawn from, for its title: 'train, 49,059 images' (', a subset')."""
        return f"{self.split}, {len(self):,} images" + (", a subset" if self.is_subset else "")


def load_images(dataset: str, split: str = "train", sample: int | None = None, data_dir=None,
                seed: int = 0) -> Images:
    """uint8 images of one split; `sample` keeps a class-stratified random subset (train or test)."""
    data = load_dataset(dataset, data_dir, train=split == "train")
    x, y = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
    keep = np.arange(len(x))
    if sample is not None and sample < len(x):
        keep = proportional_indices(y, sample, seed)
    is_subset = len(keep) < len(x) or (split == "train" and data.train_is_subset)
    coarse_y = coarse_names = None
    if dataset == "cifar100":  # the coarse copy lists the same images in the same order
        coarse = load_dataset(dataset, data_dir, label_mode="coarse", train=split == "train")
        coarse_y = (coarse.y_train if split == "train" else coarse.y_test)[keep]
        coarse_names = coarse.label_names
    return Images(dataset, split, to_uint8(x[keep]), y[keep], data.label_names, is_subset, coarse_y, coarse_names)


def superclass_map(data_dir=None) -> tuple[np.ndarray, tuple[str, ...]]:
    """CIFAR-100 fine class → superclass index, and the superclass names."""
    return fine_to_coarse(data_dir), label_names("cifar100", label_mode="coarse")


# -- pandas view ---------------------------------------------------------------
def pixel_columns(image_shape) -> list[str]:
    """Column names in the order of a C-order flatten of H×W×C: px_<row>_<col>[_<channel>]."""
    h, w, c = image_shape
    channels = CHANNEL_NAMES[c]
    if c == 1:
        return [f"px_{r}_{k}" for r in range(h) for k in range(w)]
    return [f"px_{r}_{k}_{ch}" for r in range(h) for k in range(w) for ch in channels]


def images_frame(images: Images) -> pd.DataFrame:
    """One row per image: every pixel value (uint8) and the label (785 columns for MNIST, 3073 for CIFAR)."""
    flat = images.x.reshape(len(images.x), -1)
    frame = pd.DataFrame(flat, columns=pixel_columns(images.x.shape[1:]))
    frame["label"] = images.y.astype("int16")
    return frame


def frame_overview(frame: pd.DataFrame) -> pd.DataFrame:
    """The facts `info()` prints, as a one-row table (so a test can read them)."""
    pixels = frame.drop(columns="label")
    values = pixels.to_numpy()
    return pd.DataFrame([{
        "rows": len(frame), "columns": frame.shape[1], "pixel_columns": pixels.shape[1],
        "dtypes": ", ".join(f"{k}×{v}" for k, v in frame.dtypes.astype(str).value_counts().items()),
        "memory_MB": round(frame.memory_usage(deep=True).sum() / 2**20, 1),
        "missing_values": int(frame.isna().sum().sum()),
        "min": int(values.min()), "max": int(values.max()), "mean": round(float(values.mean()), 2),
        "always_zero_pixels": int((pixels.max() == 0).sum()),
    }])


def pixel_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """`describe()` of the per-pixel statistics: how the 784/3072 columns' means, stds and maxima spread."""
    return frame.drop(columns="label").describe().T[["mean", "std", "min", "max"]].describe()


def channel_statistics(x: np.ndarray) -> pd.DataFrame:
    """Mean and std of each channel on the [0, 1] scale (comparable to the usual published values)."""
    channels = CHANNEL_NAMES[x.shape[-1]]
    flat = x.reshape(-1, x.shape[-1]).astype("float64") / 255.0
    return pd.DataFrame({"mean": flat.mean(axis=0), "std": flat.std(axis=0)}, index=pd.Index(channels, name="channel"))


# -- labels ------------------------------------------------------------------
def label_distribution(y: np.ndarray, names) -> pd.DataFrame:
    counts = np.bincount(y, minlength=len(names))
    return pd.DataFrame({"name": list(names), "count": counts, "share": counts / counts.sum()},
                        index=pd.RangeIndex(len(names), name="label"))


def label_table(train: Images, test: Images) -> pd.DataFrame:
    """Counts and shares per class for both splits side by side."""
    a, b = label_distribution(train.y, train.names), label_distribution(test.y, test.names)
    return pd.DataFrame({"name": a["name"], "train": a["count"], "train_share": a["share"].round(4),
                         "test": b["count"], "test_share": b["share"].round(4)})


def label_histogram(table: pd.DataFrame, title: str) -> Figure:
    many = len(table) > 20
    fig = Figure(figsize=(14 if many else 8, 4))
    ax = fig.subplots()
    positions = np.arange(len(table))
    width = 0.4
    ax.bar(positions - width / 2, table["train_share"], width, label="train")
    ax.bar(positions + width / 2, table["test_share"], width, label="test")
    ax.set_xticks(positions, table["name"], rotation=90 if many else 45, ha="center" if many else "right",
                  fontsize=6 if many else 9)
    ax.set(title=title, ylabel="share of the split")
    ax.legend()
    fig.tight_layout()
    return fig


# -- images and intensities -----------------------------------------------------
def sample_images(images: Images, per_class: int = 8, classes=None, seed: int = 0) -> Figure:
    """A grid with one row per class (the first `classes` of them, default all up to 20)."""
    classes = list(range(min(len(images.names), 20))) if classes is None else list(classes)
    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(per_class * 0.6 + 1.2, len(classes) * 0.6 + 0.3))
    axes = fig.subplots(len(classes), per_class, squeeze=False)
    for row, label in zip(axes, classes):
        pool = np.flatnonzero(images.y == label)
        picks = rng.choice(pool, size=min(per_class, len(pool)), replace=False)
        for ax in row:
            ax.set_axis_off()
        for ax, index in zip(row, picks):
            image = images.x[index]
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255)
        row[0].text(-0.15, 0.5, images.names[label], transform=row[0].transAxes, ha="right", va="center",
                    fontsize=8)
    width = fig.get_figwidth()
    margin = 0.15 + 0.065 * max(len(images.names[c]) for c in classes)  # inches for the longest class name
    fig.subplots_adjust(left=margin / width, right=0.99, top=0.99, bottom=0.01, wspace=0.05, hspace=0.05)
    return fig


def intensity_histograms(x: np.ndarray, title: str) -> Figure:
    """Histogram of pixel values 0..255, one curve per channel (one panel for grey images)."""
    channels = CHANNEL_NAMES[x.shape[-1]]
    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    bins = np.arange(257)
    for i, channel in enumerate(channels):
        counts = np.bincount(x[..., i].ravel(), minlength=256)
        ax.stairs(counts / counts.sum(), bins, label=channel, color=CHANNEL_COLOURS[channel],
                  fill=len(channels) == 1, alpha=0.8)
    if len(channels) == 1:
        ax.set_yscale("log")  # MNIST is mostly 0 and 255; a log axis shows the grey levels in between
    ax.set(title=title, xlabel="pixel value", ylabel="share of pixels", xlim=(0, 256))
    ax.legend()
    fig.tight_layout()
    return fig


# -- PCA -------------------------------------------------------------------------
def fit_pca(images: Images) -> PCA:
    """PCA with every component on pixels scaled to [0, 1] (centred by PCA, not standardised)."""
    flat = images.x.reshape(len(images.x), -1).astype("float32") / 255.0
    # covariance_eigh: one d×d eigendecomposition, much faster than an SVD when n >> d (here n > d always).
    solver = "covariance_eigh" if flat.shape[0] > flat.shape[1] else "full"
    return PCA(svd_solver=solver).fit(flat)


def explained_variance(pca: PCA) -> pd.DataFrame:
    ratio = pca.explained_variance_ratio_
    return pd.DataFrame({"ratio": ratio, "cumulative": np.cumsum(ratio)},
                        index=pd.RangeIndex(1, len(ratio) + 1, name="components"))


def components_needed(pca: PCA, thresholds=THRESHOLDS) -> pd.DataFrame:
    """Smallest number of components whose cumulative explained variance reaches each threshold."""
    cumulative = np.cumsum(pca.explained_variance_ratio_)
    needed = [int(np.searchsorted(cumulative, t - 1e-12) + 1) for t in thresholds]
    total = len(cumulative)
    return pd.DataFrame({"components": needed, "share_of_dimensions": [round(n / total, 3) for n in needed]},
                        index=pd.Index([f"{t:.0%}" for t in thresholds], name="explained variance"))


def claim_check(pca: PCA, dataset: str) -> pd.DataFrame | None:
    """The original project's PCA sentence next to what we measure (None where it made no claim)."""
    if dataset not in ORIGINAL_PCA_CLAIMS:
        return None
    claimed, sentence = ORIGINAL_PCA_CLAIMS[dataset]
    cumulative = np.cumsum(pca.explained_variance_ratio_)
    needed = components_needed(pca)["components"]
    return pd.DataFrame([{
        "original claim": sentence,
        "claimed components": claimed,
        "measured variance at claimed components": float(cumulative[claimed - 1]),
        **{f"measured components for {k}": int(v) for k, v in needed.items()},
    }]).T.rename(columns={0: dataset})


def claim_sentence(pca: PCA, dataset: str) -> str:
    claimed, sentence = ORIGINAL_PCA_CLAIMS[dataset]
    cumulative = np.cumsum(pca.explained_variance_ratio_)
    needed = components_needed(pca)["components"]
    return (f"original project: {sentence}; measured here: {cumulative[claimed - 1]:.1%} at {claimed} components, "
            f"{needed['90%']} / {needed['95%']} / {needed['99%']} components for 90 / 95 / 99 %")


def cumulative_variance_figure(pca: PCA, title: str, claim: int | None = None) -> Figure:
    cumulative = np.cumsum(pca.explained_variance_ratio_)
    needed = components_needed(pca)
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    ax.plot(np.arange(1, len(cumulative) + 1), cumulative, color="black", lw=1.5)
    for (label, count), colour in zip(needed["components"].items(), ("tab:blue", "tab:orange", "tab:green")):
        ax.axvline(count, color=colour, ls="--", lw=1, label=f"{label}: {count} components")
    if claim is not None:
        ax.plot([claim], [cumulative[claim - 1]], "o", color="tab:red",
                label=f"original claim: {claim} components ({cumulative[claim - 1]:.1%} measured)")
    ax.set_xscale("log")
    ax.set(title=title, xlabel="number of components (log scale)", ylabel="cumulative explained variance",
           ylim=(0, 1.01))
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def project(pca: PCA, images: Images, components: int = 2) -> np.ndarray:
    flat = images.x.reshape(len(images.x), -1).astype("float32") / 255.0
    return (flat - pca.mean_) @ pca.components_[:components].T


def class_separation(points: np.ndarray, y: np.ndarray) -> pd.Series:
    """η² per axis: the share of each component's variance explained by the class (0 = none, 1 = all)."""
    frame = pd.DataFrame(points, columns=[f"PC{i + 1}" for i in range(points.shape[1])])
    class_means = frame.groupby(y).transform("mean")
    between = ((class_means - frame.mean()) ** 2).sum()
    total = ((frame - frame.mean()) ** 2).sum()
    return (between / total).rename("eta_squared")


def class_centroids(points: np.ndarray, y: np.ndarray, names) -> pd.DataFrame:
    centroids = pd.DataFrame(points[:, :2], columns=["PC1", "PC2"]).groupby(y).mean()
    centroids.index = [names[i] for i in centroids.index]
    return centroids


def extreme_classes(points: np.ndarray, y: np.ndarray, names, k: int = 3) -> pd.DataFrame:
    """The k classes whose centroids lie at each end of PC1 and PC2 (the sign of a component is arbitrary)."""
    centroids = class_centroids(points, y, names)
    rows = {pc: {"one end": ", ".join(centroids[pc].nsmallest(k).index),
                 "other end": ", ".join(centroids[pc].nlargest(k).index)} for pc in ("PC1", "PC2")}
    return pd.DataFrame(rows).T


def image_features(images: Images) -> pd.DataFrame:
    """Simple per-image quantities that a principal component may track (pixel values on [0, 1])."""
    x = images.x.astype("float32") / 255.0
    h, w = x.shape[1:3]
    features = {"brightness": x.mean(axis=(1, 2, 3)),
                "top_minus_bottom": x[:, : h // 2].mean(axis=(1, 2, 3)) - x[:, h // 2:].mean(axis=(1, 2, 3)),
                "centre_minus_border": x[:, h // 4: -h // 4, w // 4: -w // 4].mean(axis=(1, 2, 3))
                - x.mean(axis=(1, 2, 3))}
    if x.shape[-1] == 3:
        features["blue_minus_red"] = x[..., 2].mean(axis=(1, 2)) - x[..., 0].mean(axis=(1, 2))
    return pd.DataFrame(features)


def component_correlations(points: np.ndarray, images: Images) -> pd.DataFrame:
    """Pearson correlation of PC1 and PC2 with each image feature: what the two axes measure."""
    features = image_features(images)
    return pd.DataFrame({f"PC{i + 1}": features.corrwith(pd.Series(points[:, i])) for i in range(2)}).round(3)


def pca_scatter(points: np.ndarray, y: np.ndarray, names, title: str, max_points: int = 6000,
                seed: int = 0) -> Figure:
    """First two components, one colour per class; centroids marked, named for up to 10 classes
    (else only the classes at the ends of each axis, so the names stay readable)."""
    rng = np.random.default_rng(seed)
    shown = rng.permutation(len(points))[:max_points]
    cmap = "tab10" if len(names) <= 10 else "tab20" if len(names) <= 20 else "hsv"
    fig = Figure(figsize=(9, 7))
    ax = fig.subplots()
    scatter = ax.scatter(points[shown, 0], points[shown, 1], c=y[shown], cmap=cmap, s=3, alpha=0.5,
                         vmin=-0.5, vmax=len(names) - 0.5, rasterized=True)
    centroids = class_centroids(points, y, names)
    ax.scatter(centroids["PC1"], centroids["PC2"], marker="x", color="black", s=12, lw=0.8)
    named = set(centroids.index) if len(names) <= 10 else {
        n for ends in extreme_classes(points, y, names, k=2).to_numpy().ravel() for n in ends.split(", ")}
    for name in named:
        ax.annotate(name, centroids.loc[name], fontsize=8, ha="center", va="bottom", weight="bold",
                    xytext=(0, 3), textcoords="offset points")
    if len(names) <= 20:
        handles = [ax.scatter([], [], color=scatter.cmap(scatter.norm(i)), s=20) for i in range(len(names))]
        ax.legend(handles, names, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    eta = class_separation(points[:, :2], y)
    ax.set(title=f"{title}\nshare of variance explained by class: PC1 {eta['PC1']:.2f}, PC2 {eta['PC2']:.2f}",
           xlabel="PC1", ylabel="PC2")
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, folder, name: str, dpi: int = 90) -> Path:
    """Write `fig` to folder/name.png and return the path (the notebooks display this file)."""
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
