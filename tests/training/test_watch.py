"""Watching training: TensorBoard events that TensorBoard's own reader reads back, and the progress bar."""
import contextlib
import io

import pytest

from cgan.config import load_config
from cgan.training.train import train
from tiny_runs import STEPS_PER_EPOCH, SUBSET, tiny_config

# The module fixture is expensive: under pytest-xdist (make test) these tests share one worker.
pytestmark = pytest.mark.xdist_group("training/test_watch")


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory, data_dir):
    folder = tmp_path_factory.mktemp("tensorboard")
    cfg = load_config(tiny_config(folder, "quality_every = 1\nquality_per_class = 10")).with_overrides(epochs=1)
    shown = io.StringIO()
    with contextlib.redirect_stderr(shown):  # tqdm writes to stderr
        run = train(cfg, out=folder / "run", data_dir=data_dir, verbose=1)
    return run, shown.getvalue()


@pytest.mark.slow
def test_a_one_epoch_run_writes_scalars_and_the_grid(one_epoch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, _ = one_epoch
    events = EventAccumulator(str(run.tensorboard))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    expected = {"step/d_loss", "step/g_loss",                                        # every step
                "loss/d_loss", "loss/g_loss", "loss/val_d_loss", "loss/val_g_loss",  # every epoch
                "discriminator/train_d_accuracy", "discriminator/test_d_f1",
                "quality/quality_label_accuracy", "quality/quality_fd", "quality/quality_kid",
                "time/train_seconds", "time/images_per_second"}
    assert expected <= scalars, expected - scalars
    assert [e.step for e in events.Scalars("step/g_loss")] == list(range(1, STEPS_PER_EPOCH + 1))
    assert [e.step for e in events.Scalars("discriminator/test_d_accuracy")] == [STEPS_PER_EPOCH]
    assert 0 <= events.Scalars("discriminator/test_d_accuracy")[0].value <= 1
    assert events.Tags()["images"] == ["evolution"]
    (grid,) = events.Images("evolution")
    from PIL import Image

    with Image.open(run.evolution / "epoch_001.png") as png:
        assert (grid.width, grid.height) == png.size  # the named grid of the run folder, as PNG


@pytest.mark.slow
def test_the_progress_bar_shows_images_per_second_and_both_etas(one_epoch):
    _, shown = one_epoch
    final = [line for line in shown.replace("\r", "\n").splitlines() if line.startswith("epoch 1/1")][-1]
    assert f"{SUBSET}/{SUBSET}" in final and "img/s" in final and "run ETA=00:00" in final, final
    assert "[00:" in final and "<00:00" in final  # tqdm's elapsed<remaining for the epoch
    assert "d_loss=" in final and "D acc (test)=" in final


def test_long_epochs_log_the_mean_of_each_stride(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from cgan.runs import RunFolder
    from cgan.training.watch import TensorBoardLog

    board = TensorBoardLog(RunFolder(tmp_path), steps_per_epoch=250, first_epoch=0, train_size=250 * 32)
    board.on_epoch_begin(0)
    for batch in range(250):
        board.on_train_batch_end(batch, {"d_loss_step": float(batch), "g_loss_step": 1.0})
    board.close()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    d_loss = events.Scalars("step/d_loss")
    assert board.stride == 2 and [e.step for e in d_loss] == list(range(2, 251, 2))
    assert [e.value for e in d_loss[:2]] == [0.5, 2.5]  # the mean of steps 1-2 (losses 0, 1) and of 3-4
