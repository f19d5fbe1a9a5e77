from pathlib import Path

import pytest

from cgan.config import dump_config, load_config, parse_config
from cgan.errors import ConfigError

CONFIGS = sorted(Path(__file__).resolve().parents[1].glob("configs/*/*.toml"))


def test_every_original_run_version_has_a_config():
    names = {f"{p.parent.name}/{p.stem}" for p in CONFIGS}
    assert names == {"mnist/m1_v1", "mnist/m1_v2", "mnist/m3_v1", "cifar100/m3_v1", "cifar100/m4_v1",
                     "cifar100/m5_v1", "cifar10/m5_v1", "cifar10/m5_v2", "cifar10/m5_v3", "cifar10/m5_v4",
                     "mnist/fast_v1", "cifar10/sngan_v1", "cifar10/fast32_v1", "cifar10/fast32_v2", "cifar10/fast32_v3",
                     "cifar100/fast32_v1"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_configs_load_and_match_their_path(path):
    cfg = load_config(path)
    assert (cfg.dataset, cfg.run_name) == (path.parent.name, path.stem)
    assert parse_config(__import__("tomllib").loads(dump_config(cfg))) == cfg  # round trip


def test_version_specifics_follow_the_original():
    v = {n: load_config(f"configs/cifar10/m5_{n}.toml") for n in ("v1", "v2", "v3", "v4")}
    assert v["v1"].model_options.g_filters == [512, 256, 128, 64] and v["v1"].model_options.bn_momentum == 0.8
    assert v["v1"].model_options.dropout_at == "end" and v["v2"].model_options.dropout_at == "start"
    assert v["v2"].model_options.g_filters == [256, 128, 64, 32]
    assert v["v3"].d_optimizer.name == "adam" and v["v3"].batch_size == 50
    assert v["v4"].d_optimizer.name == "rmsprop" and v["v4"].batch_size == 50
    assert load_config("configs/mnist/m1_v2.toml").epochs == 20


def _base():
    return __import__("tomllib").loads(Path("configs/mnist/m1_v1.toml").read_text())


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(epochz=3), "unknown key 'epochz'"),
    (lambda d: d["d_optimizer"].update(lr=0.1), "unknown key 'd_optimizer.rmsprop.lr'"),
    (lambda d: d.update(epochs="10"), "'epochs'"),
    (lambda d: d.update(batch_size=0), "'batch_size'"),
    (lambda d: d.update(epochs=-1), "'epochs'"),
    (lambda d: d.update(dataset="svhn"), "'dataset'"),
    (lambda d: d.update(model="m2"), "'model'"),
    (lambda d: d.pop("epochs"), "missing key 'epochs'"),
])
def test_strict_loading_gives_one_clear_line(change, message):
    data = _base()
    change(data)
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="x.toml")
    text = str(err.value)
    assert message in text and "\n" not in text


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
