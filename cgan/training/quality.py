"""Quality over training: score the generator every k epochs on a small sample.

Turned on by the config fields `quality_every` (k; 0 = off) and `quality_per_class` (n). The
scores go into the epoch logs, so the run's RunRecorder writes them to history.csv (empty on the
epochs that were not scored) and cgan.plots draws them. It must therefore come before the recorder.

To stay cheap, the reference is a class-balanced sample of REFERENCE_SIZE test images (not all of them).
The FD floor scores up to n real held-out test images per class, kept out of that reference and never seen
by the classifier (cgan.evaluation.evaluate.split_test_set), the same way.
The scores are those of the sampler (the EMA generator when there is one): what users generate with.
"""
from __future__ import annotations

import time

import keras
import numpy as np

from cgan.evaluation.scoring import Scorer, fine_to_coarse_matrix, split_test_set, stratified_sample

REFERENCE_SIZE = 2000
# Column names in history.csv.
COLUMNS = ("quality_label_accuracy", "quality_fd", "quality_fd_floor", "quality_kid", "quality_precision",
           "quality_recall", "quality_density", "quality_coverage")


class QualityMonitor(keras.callbacks.Callback):
    def __init__(self, dataset, every: int, per_class: int, latent_dim: int, seed: int = 0, data_dir=None,
                 label_mode: str = "fine"):
        super().__init__()
        self.dataset, self.every, self.per_class = dataset, every, per_class
        self.latent_dim, self.seed, self.data_dir, self.label_mode = latent_dim, seed, data_dir, label_mode
        self.scorer = None

    def on_train_begin(self, logs=None):
        if self.scorer is None:
            self.prepare()

    def prepare(self) -> None:
        """Load the classifier and the test-set features once, not every epoch. `cgan.training.train` calls it before
        anything in the run folder changes: missing or broken weights (EvaluationError) then cost nothing."""
        from cgan.evaluation.classifier import load_classifier

        label_map = fine_to_coarse_matrix(self.data_dir) if self.label_mode == "coarse" else None
        ds = self.dataset
        (real, labels), (x_rest, y_rest) = split_test_set(ds.x_test, ds.y_test, self.per_class, self.seed)
        x_ref, y_ref = stratified_sample(x_rest, y_rest, REFERENCE_SIZE // ds.num_classes, self.seed)
        self.scorer = Scorer(load_classifier(ds.name), x_ref, y_ref, label_map, kid_subsets=10)
        self.floor_fd = self.scorer.score(real, labels, self.seed, intra=False, prdc=False)["fd"]

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        from cgan.data import to_uint8
        from cgan.training.callbacks import generate_images

        start = time.perf_counter()
        # The same noise every time, so the curve shows the generator changing, not the sample.
        rng = np.random.default_rng(self.seed)
        labels = np.repeat(np.arange(self.dataset.num_classes, dtype="int32"), self.per_class).reshape(-1, 1)
        noise = rng.standard_normal((len(labels), self.latent_dim)).astype("float32")
        images = to_uint8(generate_images(self.model.sampler, noise, labels))
        scores = self.scorer.score(images, labels, self.seed, intra=False)
        logs.update({"quality_label_accuracy": scores["label_accuracy"], "quality_fd": scores["fd"],
                     "quality_fd_floor": self.floor_fd, "quality_kid": scores["kid"]["mean"]})
        logs.update({f"quality_{k}": scores["prdc"][k] for k in ("precision", "recall", "density", "coverage")})
        logs["quality_seconds"] = time.perf_counter() - start
