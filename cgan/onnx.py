"""A run's generator as ONNX: `cgan export` writes it, `cgan generate` runs it through ONNX Runtime.

Generation then imports no Keras, TensorFlow, PyTorch or JAX: a cold start costs the ONNX Runtime import
instead of a framework's, and a generation-only install (numpy, pillow, onnxruntime) is enough.

The export uses Keras 3's exporter on the PyTorch backend (dynamic batch size) and keeps the file only if ONNX
Runtime reproduces the Keras generator's images for every class. It records in the file's metadata the SHA-256
of the generator.keras it came from, the class count, and the activation size per image (which sets
generate's batch size). File times cannot tell a stale export (git does not keep them), so a generator.keras
swapped in later is caught by its content, and generation falls back to Keras with a one-line note.
"""
from __future__ import annotations

import importlib.util
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cgan.batching import activation_bytes_per_image, batch_for
from cgan.errors import RunError, StaleOnnx
from cgan.generate import Generator, check_dataset_shape, check_writable_folder, read_generator_summary
from cgan.io import atomic_write, file_sha256
from cgan.runs import RunFolder

# Keys of the ONNX metadata_props entries `cgan export` writes: the hex SHA-256 of the generator.keras it was
# exported from, and the Keras model's activation bytes per image (which sets the batch size, cgan.batching).
KERAS_SHA256_KEY = "cgan.generator_keras_sha256"
ACTIVATION_BYTES_KEY = "cgan.activation_bytes_per_image"
NUM_CLASSES_KEY = "cgan.num_classes"
WEIGHTS_KEY = "cgan.weights"  # float32, float16 or int8: how the file stores its weights (cgan.onnx_weights)


def is_onnxruntime_error(exc: BaseException) -> bool:
    """ONNX Runtime's exceptions (InvalidProtobuf, InvalidArgument, Fail, ...) derive from Exception alone."""
    return type(exc).__module__.startswith("onnxruntime")


def current_onnx(run_dir) -> Path | None:
    """The run's generator.onnx if it exists (whether it matches generator.keras is checked on loading)."""
    onnx_file = RunFolder(run_dir).generator_onnx
    return onnx_file if onnx_file.is_file() else None


def open_generator(run_dir) -> Generator:
    """The run's generator through ONNX Runtime when its generator.onnx matches, else through Keras."""
    if current_onnx(run_dir) is not None and importlib.util.find_spec("onnxruntime") is not None:
        try:
            return OnnxGenerator.from_run(run_dir)
        except StaleOnnx as exc:
            print(f"cgan: {exc}", file=sys.stderr)
    from cgan.runtime import ensure_backend

    ensure_backend(verbose=True)
    return Generator.from_run(run_dir)


@dataclass
class OnnxGenerator(Generator):
    """A `Generator` whose model is an ONNX Runtime session; same `generate` results."""

    @classmethod
    def from_run(cls, run_dir) -> "OnnxGenerator":
        run = RunFolder(run_dir)
        path = current_onnx(run.path)
        if path is None:
            raise RunError(f"{run.path} has no generator.onnx (run `cgan export --run {run.path}`)")
        meta = read_generator_summary(run)
        session = _open_session(path)
        _check_exported_from(session, path, run)
        generator = cls(session, tuple(meta["label_names"]), int(meta["latent_dim"]), meta["dataset"], run.path)
        generator.check_matches(meta)
        return generator

    def check_matches(self, meta: dict) -> None:
        """Refuse an ONNX file whose image shape or noise size disagrees with its run's summary."""
        if "image_shape" in meta and list(self.image_shape) != list(meta["image_shape"]):
            raise RunError(f"generator.onnx in {self.run} makes {self.image_shape} images but the run says "
                           f"{tuple(meta['image_shape'])}")
        inputs = {i.name: i.shape for i in self.model.get_inputs()}
        if inputs.get("noise") is None or inputs["noise"][-1] != self.latent_dim:
            raise RunError(f"generator.onnx in {self.run} does not take noise of size {self.latent_dim}")
        if "label" not in inputs:
            raise RunError(f"generator.onnx in {self.run} takes no label input; it is not a cgan generator")
        check_dataset_shape(self, "generator.onnx")
        self._check_classes()

    def _check_classes(self) -> None:
        """Refuse an ONNX file that knows another number of classes than the run names.

        `cgan export` records the count; for a file without it, one image of the last class the run names is
        made: a generator that knows fewer classes fails in its label lookup.
        """
        names = len(self.label_names)
        recorded = self.model.get_modelmeta().custom_metadata_map.get(NUM_CLASSES_KEY, "")
        if recorded.isdigit() and int(recorded) != names:
            raise RunError(f"generator.onnx in {self.run} knows {recorded} classes but the run names {names}")
        if recorded.isdigit():
            return
        try:
            self._run(np.zeros((1, self.latent_dim), "float32"), np.full((1, 1), names - 1, "int32"))
        except Exception as exc:
            if not is_onnxruntime_error(exc):
                raise
            raise RunError(f"generator.onnx in {self.run} cannot make class {names - 1}: it knows fewer "
                           f"classes than the {names} its run names") from None

    @property
    def image_shape(self):
        return tuple(self.model.get_outputs()[0].shape[1:])

    @property
    def weights(self) -> str:
        """How the file stores its weights: float32 (also for files exported before compact weights), float16, int8."""
        return self.model.get_modelmeta().custom_metadata_map.get(WEIGHTS_KEY, "float32")

    @property
    def source(self) -> str:
        return f"generator.onnx ({self.weights} weights)"

    def batch_size(self) -> int:
        recorded = self.model.get_modelmeta().custom_metadata_map.get(ACTIVATION_BYTES_KEY, "")
        return batch_for(int(recorded) if recorded.isdigit() else None)

    def _run(self, noise: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return self.model.run(None, {"noise": noise, "label": labels}, _quiet_run())[0]


def _open_session(path: Path):
    """An ONNX Runtime session on the CPU; RunError (one line) for a file it cannot load."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        if not is_onnxruntime_error(exc):
            raise
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise RunError(f"cannot load {path} (truncated or corrupt; `cgan export` rewrites it): "
                       f"{first[:160]}") from None


def _quiet_run():
    """Run options that leave errors to the exception: ONNX Runtime also logs them to stderr by default."""
    import onnxruntime

    options = onnxruntime.RunOptions()
    options.log_severity_level = 4
    return options


def _check_exported_from(session, path: Path, run: RunFolder) -> None:
    """StaleOnnx unless the ONNX file records the SHA-256 of the run's generator.keras (if there is one)."""
    if not run.generator_keras.is_file():
        return  # an ONNX-only folder: nothing it could be stale against
    recorded = session.get_modelmeta().custom_metadata_map.get(KERAS_SHA256_KEY)
    if recorded == file_sha256(run.generator_keras):
        return
    why = "records no hash of generator.keras" if recorded is None else "was exported from another generator.keras"
    raise StaleOnnx(f"{path} {why}; generating with generator.keras instead "
                    f"(`cgan export --run {run.path}` refreshes it)")


# -- `cgan export` ----------------------------------------------------------------------------------------
# Max |ONNX - Keras| on tanh outputs in [-1, 1], by weight format. float16 weights must stay within a grey level
# or two (one grey level is 1/127.5). int8 weights move pixels more; whether that matters is a question for
# label accuracy and FD (tools.compact_generator measures them), so its bound only catches a broken graph.
PARITY_TOLERANCE = {"float32": 1e-4, "float16": 2 / 127.5, "int8": 0.25}


def export_onnx(run_dir, weights: str = "float32", part_bytes: int | None = None) -> tuple[Path, float]:
    """Write <run>/generator.onnx with its weights stored as `weights`; returns its path and the max
    deviation from Keras. With `part_bytes`, a file that would be larger keeps its weights in part files of at
    most that size beside it (generator.onnx.<hash>.part)."""
    from cgan.onnx_weights import check_weight_format

    try:  # before the slow imports and any write
        check_weight_format(weights)
    except ValueError as exc:
        raise RunError(f"--{exc}") from None
    run = RunFolder(run_dir)
    if run.generator_keras.is_file():  # before the slow imports: the ONNX file and its temporary copy need room
        check_writable_folder(run.path, 2 * run.generator_keras.stat().st_size)
    import keras

    if keras.backend.backend() != "torch":
        raise RunError(f"ONNX export runs on the torch backend, not {keras.backend.backend()} "
                       f"(unset KERAS_BACKEND or set it to torch)")
    # Hashed before loading: if the file changes in between, the recorded hash is the old one and
    # `cgan generate` falls back to Keras, never the other way round.
    keras_sha256 = file_sha256(run.generator_keras) if run.generator_keras.is_file() else None
    generator = Generator.from_run(run.path)
    noise, labels = generator.latents(range(len(generator.label_names)), n=2, seed=0)
    reference = keras.ops.convert_to_numpy(generator.model([noise, labels], training=False))
    deviation = None

    def write(tmp):
        nonlocal deviation
        with warnings.catch_warnings():  # the TorchScript tracer's notes on Python control flow in Keras layers
            warnings.simplefilter("ignore")
            generator.model.export(tmp, format="onnx", verbose=False)
        _record(tmp, weights, {KERAS_SHA256_KEY: keras_sha256,
                               ACTIVATION_BYTES_KEY: str(activation_bytes_per_image(generator.model)),
                               NUM_CLASSES_KEY: str(len(generator.label_names)), WEIGHTS_KEY: weights}, part_bytes)
        deviation = float(np.abs(run_onnx(tmp, noise, labels) - reference).max())
        if deviation > PARITY_TOLERANCE[weights]:  # raised before the rename: a previous generator.onnx stays
            raise RunError(f"ONNX export with {weights} weights differs from Keras by {deviation:.2g} "
                           f"(> {PARITY_TOLERANCE[weights]:.2g}); not kept")

    target = run.generator_onnx
    try:
        atomic_write(target, write)
    except OSError as exc:  # its own file name would be the temporary file's
        raise RunError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        drop_unused_parts(run.path)
    return target, deviation


def onnx_files(run_dir) -> list[Path]:
    """The run's generator.onnx and the part files it reads its weights from (none if it has no generator.onnx)."""
    import onnx

    from cgan.onnx_weights import part_names

    path = RunFolder(run_dir).generator_onnx
    if not path.is_file():
        return []
    return [path] + sorted(path.parent / name for name in part_names(onnx.load(str(path), load_external_data=False)))


def drop_unused_parts(run_dir) -> None:
    """Delete the part files that the run's generator.onnx (if any) does not read: those of an earlier export."""
    run = RunFolder(run_dir)
    try:
        used = set(onnx_files(run.path))
    except Exception:  # a generator.onnx that does not parse: which parts it needs is unknown, so all stay
        return
    for part in run.path.glob(f"{run.generator_onnx.name}.*.part"):
        if part not in used:
            part.unlink()


def _record(path, weights: str, metadata: dict, part_bytes: int | None = None) -> None:
    """Store the file's weights as `weights` (in parts of at most `part_bytes` where one file would be larger) and
    add string entries to its metadata_props (read back by ONNX Runtime's custom_metadata_map)."""
    import onnx

    from cgan.onnx_weights import compress, store_in_parts

    model = compress(onnx.load(str(path)), weights)
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    if part_bytes is not None and model.ByteSize() > part_bytes:
        path = Path(path)
        try:
            store_in_parts(model, path.parent, RunFolder(path.parent).generator_onnx.name, part_bytes)
        except ValueError as exc:
            raise RunError(f"generator.onnx cannot be stored in parts of {part_bytes} bytes: {exc}") from None
    onnx.save(model, str(path))


def run_onnx(path, noise: np.ndarray, labels: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"noise": noise.astype("float32"), "label": labels.astype("int32")})[0]
