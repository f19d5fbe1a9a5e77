"""The model zoo: one module per architecture, found by its file name.

m1, m3, m4 and m5 rebuild the original project's models; `fast`, `fast32` and `sngan` are new. A module builds
G and D for any image shape and class count (`build_generator`, `build_discriminator`) and declares, as plain
literals at its top, what the rest of cgan needs to know about it:

    D_OUTPUT        "probability" (a sigmoid, the original zoo) or "score" (a logit, for hinge or logit BCE)
    D_CLASS_LOGITS  True where D's features times its label embedding give a logit per class (a projection D
                    built by common.strided_projection_score), which the class loss trains; absent: False
    NOMINAL_PARAMS  G + D parameters the original project reports; absent for a model it did not have
    CPU_BACKEND     the Keras backend that trains it fastest on a CPU, where that is not the general order: a
                    name, or {vector extension: name, "default": name} where CPUs ranked the backends differently
    SUMMARY         one line that says what the model is, for the notebooks and the docs
    NOTEBOOKS       {dataset: config version} of the training notebooks that open it

The declarations are read from the source, not imported: a backend must be chosen before Keras is imported,
and a generation-only install has no Keras at all. Adding a model is one module plus its configs.
"""
from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class ModelSpec:
    name: str
    summary: str
    d_output: str = "probability"
    d_class_logits: bool = False
    nominal_params: float | None = None
    cpu_backend: str | dict | None = None
    notebooks: dict = field(default_factory=dict)

    def fastest_cpu_backend(self, vector_extension: str) -> str | None:
        """CPU_BACKEND on a CPU whose widest vector extension is `vector_extension` ('AVX2', 'AVX-512', ...)."""
        if isinstance(self.cpu_backend, dict):
            return self.cpu_backend.get(vector_extension, self.cpu_backend.get("default"))
        return self.cpu_backend

    @property
    def original(self) -> bool:
        """One of the original project's models (it reports their sizes)."""
        return self.nominal_params is not None


DECLARATIONS = ("SUMMARY", "D_OUTPUT", "D_CLASS_LOGITS", "NOMINAL_PARAMS", "CPU_BACKEND", "NOTEBOOKS")
_NOT_MODELS = ("common",)


def _read_spec(path: Path) -> ModelSpec:
    declared = {}
    for node in ast.parse(path.read_text()).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in DECLARATIONS):
            declared[node.targets[0].id.lower()] = ast.literal_eval(node.value)
    if "summary" not in declared:
        raise ValueError(f"{path} declares no SUMMARY; every model module says what it is")
    return ModelSpec(path.stem, **declared)


REGISTRY = {spec.name: spec for spec in (_read_spec(path) for path in sorted(Path(__file__).parent.glob("*.py"))
                                         if not path.stem.startswith("_") and path.stem not in _NOT_MODELS)}
MODELS = tuple(REGISTRY)
NOMINAL_PARAMS = {name: spec.nominal_params for name, spec in REGISTRY.items() if spec.original}


class ModelOptions(BaseModel):
    """Architecture knobs that distinguish versions of one model (a config's [model_options]).

    Unset fields take the defaults documented in each model module.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

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


def _spec(name: str) -> ModelSpec:
    if name not in REGISTRY:
        raise ValueError(f"unknown model '{name}' (choose from {', '.join(MODELS)})")
    return REGISTRY[name]


def _module(name: str):
    return importlib.import_module(f"cgan.models.{_spec(name).name}")


def build_models(name: str, image_shape, num_classes: int, latent_dim: int = 100,
                 options: ModelOptions | None = None):
    """(generator, discriminator) of one model for any image shape and class count."""
    module = _module(name)
    options = options or ModelOptions()
    generator = module.build_generator(tuple(image_shape), num_classes, latent_dim, options)
    discriminator = module.build_discriminator(tuple(image_shape), num_classes, options)
    return generator, discriminator


def discriminator_output(name: str) -> str:
    """'probability' (sigmoid, the original zoo) or 'score' (a logit, for hinge or logit BCE)."""
    return _spec(name).d_output  # read from the declarations: no model code is imported
