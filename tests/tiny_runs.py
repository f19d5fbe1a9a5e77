"""A tiny MNIST config (m1 with a few filters) for tests that train through `cgan train` or `cgan.training.train.train`."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUBSET, BATCH = 320, 64
STEPS_PER_EPOCH = SUBSET // BATCH  # 5: the subset is class-balanced, 32 images per digit


def tiny_config(folder: Path, extra: str = "") -> Path:
    """configs/mnist/m1_v1.toml with 8-dimensional noise and 4-8 filters; `extra` adds top-level TOML keys."""
    # Quality scoring is off in tiny runs unless `extra` turns it on (the zoo configs score every epoch).
    text = "".join(line for line in (REPO / "configs/mnist/m1_v1.toml").read_text().splitlines(keepends=True)
                   if not line.startswith(("quality_every", "quality_per_class")))
    text = set_keys(text, latent_dim=8, batch_size=BATCH, eval_samples=f"50\nsubset = {SUBSET}\n{extra}")
    path = Path(folder) / "tiny.toml"
    path.write_text(text + "\n[model_options]\ng_filters = [8, 8, 4]\nd_filters = [4, 8]\n")
    return path


def set_keys(text: str, **values) -> str:
    """Set top-level keys of a TOML config whatever their current values; a key the config lacks is an error,
    so a retuned config cannot silently turn a test's edit into a no-op."""
    for key, value in values.items():
        text, count = re.subn(rf"(?m)^{key} = .*$", lambda _: f"{key} = {value}", text, count=1)
        assert count == 1, f"the config has no top-level key {key!r} to set"
    return text
