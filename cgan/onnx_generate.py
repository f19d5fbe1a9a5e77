"""Generation through ONNX Runtime: no Keras, TensorFlow, PyTorch or JAX import.

`cgan generate` uses this when the run folder holds a `generator.onnx` written
by `cgan export` that is at least as new as `generator.keras`; a cold start
then costs the ONNX Runtime import (~0.1 s) instead of a framework's (5-9 s).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cgan.generate import Generator
from cgan.runs import RunError, RunFolder


def current_onnx(run_dir) -> Path | None:
    """The run's generator.onnx if it exists and is not older than generator.keras."""
    run = RunFolder(run_dir)
    onnx_file = run.path / "generator.onnx"
    if not onnx_file.is_file():
        return None
    keras_file = run.generator_keras
    if keras_file.is_file() and keras_file.stat().st_mtime > onnx_file.stat().st_mtime:
        return None  # training went on after the export: the ONNX file is stale
    return onnx_file


@dataclass
class OnnxGenerator(Generator):
    """A `Generator` whose model is an ONNX Runtime session; same `generate` results."""

    @classmethod
    def from_run(cls, run_dir) -> "OnnxGenerator":
        import onnxruntime

        run = RunFolder(run_dir)
        path = current_onnx(run.path)
        if path is None:
            raise RunError(f"{run.path} has no up-to-date generator.onnx (run `cgan export --run {run.path}`)")
        meta = run.read_summary()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        generator = cls(session, tuple(meta["label_names"]), int(meta["latent_dim"]), meta["dataset"], run.path)
        generator.check_matches(meta)
        return generator

    def check_matches(self, meta: dict) -> None:
        """Refuse an ONNX file whose image shape or noise size disagrees with its run's summary."""
        if "image_shape" in meta and list(self.image_shape) != list(meta["image_shape"]):
            raise RunError(f"generator.onnx in {self.run} makes {self.image_shape} images but the run says "
                           f"{tuple(meta['image_shape'])}")
        noise = {i.name: i.shape for i in self.model.get_inputs()}.get("noise")
        if noise is None or noise[-1] != self.latent_dim:
            raise RunError(f"generator.onnx in {self.run} does not take noise of size {self.latent_dim}")

    @property
    def image_shape(self):
        return tuple(self.model.get_outputs()[0].shape[1:])

    def generate(self, labels, n: int = 1, seed: int | None = None):
        from cgan.data import to_uint8

        noise, label_array = self.latents(labels, n, seed)
        images = self.model.run(None, {"noise": noise, "label": label_array})[0]
        return to_uint8(images), label_array.reshape(-1)
