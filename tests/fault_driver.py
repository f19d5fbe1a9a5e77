"""`cgan train` with a fault injected, for tests/training/test_train_reliability.py.

FAULT_MODE=slow_save  touch $FAULT_MARKER and stall just before a checkpoint's
                      state.json is written (after G, D and optimizer files), so
                      the test can SIGKILL the process in the middle of a save.
FAULT_MODE=nan_after:N  D's loss becomes NaN from training step N+1 on.
"""
import os
import sys
import time
from pathlib import Path

mode = os.environ.get("FAULT_MODE", "")

if mode == "slow_save":
    from cgan import runs

    write_json = runs.write_json

    def stalled_write_json(path, data):
        if Path(path).name == "state.json":
            Path(os.environ["FAULT_MARKER"]).touch()
            time.sleep(120)
        write_json(path, data)

    runs.write_json = stalled_write_json

elif mode.startswith("nan_after:"):
    from cgan.training.gan import ConditionalGAN

    limit, calls = int(mode.split(":")[1]), [0]
    discriminator_loss = ConditionalGAN.discriminator_loss

    def poisoned(self, *args, **kwargs):
        loss = discriminator_loss(self, *args, **kwargs)
        if kwargs.get("training", True):
            calls[0] += 1
            if calls[0] > limit:
                return loss * float("nan")
        return loss

    ConditionalGAN.discriminator_loss = poisoned

from cgan.cli import main  # noqa: E402

sys.exit(main(["train", *sys.argv[1:]]))
