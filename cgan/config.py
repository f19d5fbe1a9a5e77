"""Run configurations: one TOML file per dataset × model × version.

Loading is strict on purpose (StudioGAN-style): a misspelt key or a value of the
wrong type would otherwise silently fall back to a default and waste a long run.
pydantic does the validation; `ConfigError` turns its report into one line.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal, Union

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DATASETS = ("mnist", "cifar10", "cifar100")
MODELS = ("m1", "m3", "m4", "m5", "fast", "sngan", "fast32")
# Models whose discriminator outputs an unbounded score rather than a probability (see cgan.gan.LOSSES).
SCORE_MODELS = ("fast", "sngan", "fast32")
AUGMENTATIONS = ("color", "translation", "cutout")


class ConfigError(ValueError):
    """A configuration that cannot be used; the message is one line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RMSprop(_Strict):
    name: Literal["rmsprop"]
    learning_rate: Annotated[float, Field(gt=0)]
    rho: Annotated[float, Field(gt=0, lt=1)] = 0.9
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.0


class Adam(_Strict):
    name: Literal["adam"]
    learning_rate: Annotated[float, Field(gt=0)]
    beta_1: Annotated[float, Field(ge=0, lt=1)] = 0.5
    beta_2: Annotated[float, Field(ge=0, lt=1)] = 0.999


Optimizer = Annotated[Union[RMSprop, Adam], Field(discriminator="name")]


class ModelOptions(_Strict):
    """Architecture knobs that distinguish versions of one model.

    Unset fields take the defaults documented in each model module.
    """

    g_filters: list[Annotated[int, Field(gt=0)]] | None = None
    d_filters: list[Annotated[int, Field(gt=0)]] | None = None
    bn_momentum: Annotated[float, Field(gt=0, lt=1)] | None = None
    dropout_rate: Annotated[float, Field(ge=0, lt=1)] | None = None
    dropout_at: Literal["start", "end"] | None = None
    spectral_norm: bool | None = None
    # How the label enters G (fast32): class-conditional BatchNorm or an embedding concatenated with the noise.
    g_conditioning: Literal["cbn", "concat"] | None = None
    # fast32: also give D the label as an extra input channel, besides the projection.
    d_label_input: bool | None = None


class RunConfig(_Strict):
    dataset: Literal["mnist", "cifar10", "cifar100"]
    model: Literal[MODELS]
    version: Annotated[str, Field(pattern=r"^v[0-9]+$")]
    description: str = ""
    label_mode: Literal["fine", "coarse"] = "fine"
    epochs: Annotated[int, Field(ge=1)]
    batch_size: Annotated[int, Field(ge=1)]
    latent_dim: Annotated[int, Field(ge=1)] = 100
    eval_samples: Annotated[int, Field(ge=10)] = 2000
    seed: int = 0
    subset: Annotated[int, Field(ge=1)] | None = None
    d_optimizer: Optimizer
    g_optimizer: Optimizer
    model_options: ModelOptions = ModelOptions()
    # "hinge" needs a model in SCORE_MODELS; "bce" is the original game.
    loss: Literal["bce", "hinge"] = "bce"
    # Sample from an exponential moving average of G's weights (0 = off).
    ema_decay: Annotated[float, Field(ge=0, lt=1)] = 0.0
    # DiffAugment policies applied to every image D sees (cgan.augment).
    augment: list[Literal[AUGMENTATIONS]] = []
    # D updates per G update (SNGAN-style recipes use more than one).
    d_steps: Annotated[int, Field(ge=1, le=10)] = 1
    # Quality over training (cgan.evaluation.callback): score every k epochs on n images per class.
    quality_every: Annotated[int, Field(ge=0)] = 0
    quality_per_class: Annotated[int, Field(ge=2)] = 50

    @model_validator(mode="after")
    def _loss_fits_model(self):
        if self.loss == "hinge" and self.model not in SCORE_MODELS:
            raise ValueError(f"the hinge loss needs a discriminator that outputs a score "
                             f"({', '.join(SCORE_MODELS)}), and {self.model}'s outputs a probability")
        if len(set(self.augment)) != len(self.augment):
            raise ValueError("augment lists a policy twice")
        return self

    @property
    def run_name(self) -> str:
        return f"{self.model}_{self.version}"

    def with_overrides(self, **changes) -> "RunConfig":
        """A validated copy with some fields replaced (e.g. epochs for a quick run)."""
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return parse_config(data, source="overrides")


def _first_error(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "<root>"
    if err["type"] == "extra_forbidden":
        return f"{source}: unknown key '{where}'"
    if err["type"] == "missing":
        return f"{source}: missing key '{where}'"
    if err["type"] == "value_error" and where == "<root>":  # a rule across keys (model_validator)
        return f"{source}: {err['ctx']['error']}"
    return f"{source}: '{where}' {err['msg'].lower()} (got {err.get('input')!r})"


def parse_config(data: dict, source: str = "config") -> RunConfig:
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc, source)) from None


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(data, source=str(path))


def dump_config(cfg: RunConfig) -> str:
    """TOML text of a config, so a run folder records exactly what it ran.

    tomli-w does the quoting: any description (several lines, quotes, backslashes) reads back equal.
    """
    return tomli_w.dumps(cfg.model_dump(exclude_none=True))
