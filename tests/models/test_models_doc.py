"""docs/models.md's tables of the models say what each config builds and trains, as the configs do."""
import re
from pathlib import Path

import pytest

from cgan.config import load_config
from cgan.data import IMAGE_SHAPES, label_names
from cgan.models import build_models

REPO = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| `(configs/[^`]+\.toml)`[^|]* \|(.*)\|$")


def table_rows() -> dict[str, list[str]]:
    rows = {}
    for line in (REPO / "docs" / "models.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def configs() -> list[str]:
    return sorted(str(path.relative_to(REPO)) for path in REPO.glob("configs/*/*.toml"))


def test_the_tables_have_a_row_per_config():
    assert sorted(table_rows()) == configs()


@pytest.mark.parametrize("config", configs())
def test_a_row_says_what_its_config_trains(config):
    model, dataset, *_, optimizer, batch, epochs = table_rows()[config]
    cfg = load_config(REPO / config)
    assert (model, dataset, optimizer.split()[0], int(batch), int(epochs.split()[0])) == \
        (cfg.model, cfg.dataset, cfg.g_optimizer.name, cfg.batch_size, cfg.epochs)


@pytest.mark.slow
@pytest.mark.parametrize("config", configs())
def test_a_row_counts_the_parameters_its_config_builds(config):
    _, _, g_params, d_params, total, *_ = table_rows()[config]
    cfg = load_config(REPO / config)
    classes = len(label_names(cfg.dataset, label_mode=cfg.label_mode))
    g, d = build_models(cfg.model, IMAGE_SHAPES[cfg.dataset], classes, cfg.latent_dim, cfg.model_options)
    counts = [int(cell.replace(",", "")) for cell in (g_params, d_params, total)]
    assert counts == [g.count_params(), d.count_params(), g.count_params() + d.count_params()]
