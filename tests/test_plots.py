"""The run folder's plots (cgan/plots.py): the D-metrics panels."""
import numpy as np
import pandas as pd
from PIL import Image

from cgan.plots import moving_average_window, plot_d_metrics


def test_the_moving_average_grows_with_the_run_and_stays_centred():
    assert moving_average_window(5) == 1  # a short run is drawn raw
    assert moving_average_window(20) == 3 and moving_average_window(338) == 33
    assert all(moving_average_window(n) % 2 == 1 for n in range(10, 400))


def test_d_metrics_are_drawn_in_panels_from_any_subset_of_columns(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"{split}_d_{m}": rng.uniform(size=60) for split in ("train", "test")
                          for m in ("accuracy", "precision", "recall", "f1")}, index=pd.Index(range(1, 61), name="epoch"))
    plot_d_metrics(frame, tmp_path / "all.png")
    plot_d_metrics(frame[["train_d_accuracy"]], tmp_path / "one.png")  # an old history with fewer columns
    assert Image.open(tmp_path / "all.png").size == Image.open(tmp_path / "one.png").size == (900, 540)
