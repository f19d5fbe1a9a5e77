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

from cgan.data import IMAGE_SHAPES
from cgan.errors import ConfigError
from cgan.models import MODELS, REGISTRY, ModelOptions

DATASETS = tuple(IMAGE_SHAPES)
# Models whose discriminator outputs an unbounded score rather than a probability (see cgan.training.gan.LOSSES).
SCORE_MODELS = tuple(name for name, spec in REGISTRY.items() if spec.d_output == "score")
CLASS_LOGIT_MODELS = tuple(name for name, spec in REGISTRY.items() if spec.d_class_logits)
AUGMENTATIONS = ("color", "translation", "cutout")
# Seeds go to numpy (default_rng, np.random.seed through keras.utils.set_random_seed), which takes 0..2**32 - 1.
MAX_SEED = 2**32 - 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# inf passes gt=0, and an infinite learning rate turns every weight into NaN at the first step.
LearningRate = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class RMSprop(_Strict):
    name: Literal["rmsprop"]
    learning_rate: LearningRate
    rho: Annotated[float, Field(gt=0, lt=1)] = 0.9
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.0


class Adam(_Strict):
    name: Literal["adam"]
    learning_rate: LearningRate
    beta_1: Annotated[float, Field(ge=0, lt=1)] = 0.5
    beta_2: Annotated[float, Field(ge=0, lt=1)] = 0.999


Optimizer = Annotated[Union[RMSprop, Adam], Field(discriminator="name")]


class LearningRateDecay(_Strict):
    """Both learning rates fall linearly, epoch by epoch, from `start` × the planned epochs to `final` × their
    value at the last planned epoch (a run still improving at its end gains from a cooler finish)."""

    start: Annotated[float, Field(ge=0, lt=1)]
    final: Annotated[float, Field(ge=0, lt=1)] = 0.0


class RunConfig(_Strict):
    dataset: Literal[DATASETS]
    model: Literal[MODELS]
    version: Annotated[str, Field(pattern=r"^v[0-9]+$")]
    description: str = ""
    label_mode: Literal["fine", "coarse"] = "fine"
    epochs: Annotated[int, Field(ge=1)]
    batch_size: Annotated[int, Field(ge=1)]
    latent_dim: Annotated[int, Field(ge=1)] = 100
    eval_samples: Annotated[int, Field(ge=10)] = 2000
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    subset: Annotated[int, Field(ge=1)] | None = None
    d_optimizer: Optimizer
    g_optimizer: Optimizer
    model_options: ModelOptions = ModelOptions()
    # "hinge" needs a model in SCORE_MODELS; "bce" is the original game.
    loss: Literal["bce", "hinge"] = "bce"
    # Sample from an exponential moving average of G's weights (0 = off).
    ema_decay: Annotated[float, Field(ge=0, lt=1)] = 0.0
    # DiffAugment policies applied to every image D sees (cgan.training.augment).
    augment: list[Literal[AUGMENTATIONS]] = []
    # LeCam regularisation of D (Tseng et al. 2021): pulls D's outputs on real images towards a moving average
    # of its outputs on fakes and back, which keeps D from running away on limited data (0 = off).
    lecam_weight: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    # Class loss (as in AC-GAN, Odena et al. 2017, on the projection D's own class logits): D learns to name the
    # class of real images, G to make D name the requested one (0 = off). Models with D_CLASS_LOGITS only.
    class_loss_weight: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    lr_decay: LearningRateDecay | None = None
    # D updates per G update (SNGAN-style recipes use more than one).
    d_steps: Annotated[int, Field(ge=1, le=10)] = 1
    # Quality over training (cgan.training.quality): score every k epochs on n images per class.
    quality_every: Annotated[int, Field(ge=0)] = 0
    quality_per_class: Annotated[int, Field(ge=2, le=1000)] = 50  # at most the test images per class

    @model_validator(mode="after")
    def _loss_fits_model(self):
        if self.loss == "hinge" and self.model not in SCORE_MODELS:
            raise ValueError(f"the hinge loss needs a discriminator that outputs a score "
                             f"({', '.join(SCORE_MODELS)}), and {self.model}'s outputs a probability")
        if self.lecam_weight and self.model not in SCORE_MODELS:
            raise ValueError(f"LeCam regularisation needs a discriminator that outputs a score "
                             f"({', '.join(SCORE_MODELS)})")
        if self.class_loss_weight and self.model not in CLASS_LOGIT_MODELS:
            raise ValueError(f"the class loss needs a discriminator with class logits "
                             f"({', '.join(CLASS_LOGIT_MODELS)}), and {self.model}'s has none")
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
