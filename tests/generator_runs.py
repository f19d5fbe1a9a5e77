"""Results folders for the widget and browser tests, built in a temporary directory.

The shipped MNIST and CIFAR-10 generators are copied (resultados/ stays read-only and a run that is still
training can't change under a test). The second dataset of the widget and browser tests is the shipped,
trained CIFAR-10 generator (`fast32`), so the page is tested on real CIFAR images.
"""
import json
import shutil
from pathlib import Path

from cgan.generate import SHIPPED_RUNS
from cgan.onnx import onnx_files
from cgan.runs import results_root

RUN_FILES = ("summary.json", "generator.keras")


def copy_run(source: Path, root: Path, key: str | None = None) -> str:
    """Copy a run's summary and generator (generator.keras, else the generator.onnx git carries for the zoo's large
    models, with its weight part files) to root/key, by default root/<dataset>/<run>."""
    key = key or f"{source.parent.name}/{source.name}"
    target = root / key
    target.mkdir(parents=True)
    shutil.copy2(source / "summary.json", target)
    generator = [source / "generator.keras"] if (source / "generator.keras").is_file() else onnx_files(source)
    for path in generator:
        shutil.copy2(path, target)
    return key


def shipped_mnist(root: Path) -> str:
    source = results_root() / SHIPPED_RUNS["mnist"]
    missing = [n for n in RUN_FILES if not (source / n).is_file()]
    assert not missing, f"the shipped MNIST generator is missing {missing} in {source}"
    return copy_run(source, root)


def untrained_run(root: Path, dataset: str = "cifar10") -> str:
    from cgan.data import IMAGE_SHAPES, label_names
    from cgan.models import build_models

    names = label_names(dataset)
    generator, _ = build_models("m1", IMAGE_SHAPES[dataset], len(names), latent_dim=16)
    folder = root / dataset / "m1_untrained"
    folder.mkdir(parents=True)
    generator.save(folder / "generator.keras")
    summary = {"dataset": dataset, "model": "m1", "version": "untrained", "status": "untrained test fixture",
               "image_shape": list(IMAGE_SHAPES[dataset]), "num_classes": len(names), "label_names": list(names),
               "latent_dim": 16}
    (folder / "summary.json").write_text(json.dumps(summary))
    return f"{dataset}/m1_untrained"


def second_dataset(root: Path) -> tuple[str, str]:
    """(run key, how it was obtained) for the shipped CIFAR-10 generator, copied into `root`."""
    source = results_root() / SHIPPED_RUNS["cifar10"]
    missing = [n for n in RUN_FILES if not (source / n).is_file()]
    assert not missing, f"the shipped CIFAR-10 generator is missing {missing} in {source}"
    return copy_run(source, root), f"trained run {source}"
