"""Domain classifiers: one small CNN per dataset, trained on the real data available here.

Its penultimate layer (`features`, FEATURE_DIM units) is the feature space in which the
Fréchet distance, KID and precision/recall/density/coverage are measured. The weights
and a JSON card (accuracy, data seen, epochs, backend, wall time, retrain command) are
committed in `weights/`. Retrain one with

    cgan classifier train --dataset cifar10

The ImageNet-trained InceptionV3 of published FIDs cannot be downloaded here, so these
features are domain-specific: numbers are comparable between runs of this lab, not with papers.
"""
from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from cgan.batching import inference_batch
from cgan.errors import EvaluationError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
FEATURE_DIM = 64
# Small on purpose: weights of a few hundred KB (MNIST) to a few MB (CIFAR), minutes of CPU training each.
# MNIST: `blocks` are the conv widths of each block, each block ending in a 2×2 max-pool; batch
# normalisation slowed learning in a one-epoch trial (97.2 % vs 98.0 % test accuracy without it).
# CIFAR: the plain 16-32-64 CNN reached only 66 % (CIFAR-10) and 26 % (CIFAR-100) on the
# offline training subsets, too weak to judge generators by. A small ResNet (`stages`: one width per
# stage of two residual blocks, stride 2 between stages) with flips, shifts, SGD with Nesterov momentum,
# weight decay and a cosine schedule is what well-tuned small-data CIFAR baselines use. CIFAR-10 has
# about 4x the training images of the other copies, so fewer epochs reach the same number of steps and more.
RECIPES = {
    "mnist": {"blocks": ((32,), (64,)), "batchnorm": False, "augment": False, "dropout": 0.3, "epochs": 8,
              "batch_size": 128},
    "cifar10": {"stages": (32, 64, 128), "augment": True, "dropout": 0.0, "epochs": 14, "batch_size": 128,
                "learning_rate": 0.05, "weight_decay": 5e-4},
    "cifar100": {"stages": (32, 64, 128), "augment": True, "dropout": 0.0, "epochs": 50, "batch_size": 128,
                 "learning_rate": 0.05, "weight_decay": 5e-4},
}


def weights_path(dataset: str, folder: Path = WEIGHTS_DIR) -> Path:
    return Path(folder) / f"{dataset}.weights.h5"


def card_path(dataset: str, folder: Path = WEIGHTS_DIR) -> Path:
    return Path(folder) / f"{dataset}.json"


def build_classifier(dataset: str, image_shape, num_classes: int, recipe: dict | None = None):
    """Conv blocks (conv[-BN]-ReLU, then max-pool) → flatten → `features` (ReLU) → softmax."""
    import keras
    from keras import layers

    recipe = recipe or RECIPES[dataset]
    inputs = keras.Input(image_shape, name="image")  # pixels in [-1, 1], as cgan.data gives them
    x = inputs
    if recipe["augment"]:  # active in training only; CIFAR's train subsets are small
        x = layers.RandomFlip("horizontal", name="flip")(x)
        x = layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", name="shift")(x)
    if "stages" in recipe:
        x = _residual_stages(x, recipe["stages"])
    else:
        for block, widths in enumerate(recipe["blocks"]):
            for conv, filters in enumerate(widths):
                x = layers.Conv2D(filters, 3, padding="same", use_bias=not recipe["batchnorm"],
                                  name=f"conv{block}_{conv}")(x)
                if recipe["batchnorm"]:
                    x = layers.BatchNormalization(name=f"bn{block}_{conv}")(x)
                x = layers.ReLU(name=f"relu{block}_{conv}")(x)
            x = layers.MaxPooling2D(name=f"pool{block}")(x)
        x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(FEATURE_DIM, activation="relu", name="features")(x)
    if recipe["dropout"]:
        x = layers.Dropout(recipe["dropout"], name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name=f"{dataset}_classifier")


def _residual_stages(x, stages):
    """A 3×3 stem, then two pre-activation-free residual blocks per stage (He et al. 2016), then global pooling."""
    from keras import layers

    def conv_bn(x, filters, strides, name, relu=True):
        x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x) if relu else x

    x = conv_bn(x, stages[0], 1, "stem")
    for stage, filters in enumerate(stages):
        for block in range(2):
            name, strides = f"s{stage}b{block}", 2 if stage and not block else 1
            shortcut = x
            if strides != 1 or x.shape[-1] != filters:
                shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False, name=f"{name}_sc_conv")(x)
                shortcut = layers.BatchNormalization(name=f"{name}_sc_bn")(shortcut)
            x = conv_bn(conv_bn(x, filters, strides, f"{name}_a"), filters, 1, f"{name}_b", relu=False)
            x = layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([x, shortcut]))
    return layers.GlobalAveragePooling2D(name="pool")(x)


@dataclass
class DomainClassifier:
    """A trained classifier with one pass giving both penultimate features and class probabilities."""

    dataset: str
    model: object
    card: dict

    def __post_init__(self):
        import keras

        self._both = keras.Model(self.model.input, [self.model.get_layer("features").output, self.model.output])

    @property
    def num_classes(self) -> int:
        return int(self.model.output_shape[-1])

    def features_and_probs(self, images: np.ndarray, batch_size: int | None = None):
        """Images in [-1, 1] (float) or uint8 → (N×FEATURE_DIM features, N×classes probabilities).

        `batch_size` None: as many images a call as cgan.batching allows for this network."""
        import keras

        from cgan.data import to_unit_range

        images = to_unit_range(images) if images.dtype == np.uint8 else np.asarray(images, "float32")
        batch_size = batch_size or inference_batch(self.model)
        feats, probs = [], []
        for i in range(0, len(images), batch_size):
            f, p = self._both(images[i:i + batch_size], training=False)
            feats.append(keras.ops.convert_to_numpy(f))
            probs.append(keras.ops.convert_to_numpy(p))
        return np.concatenate(feats).astype("float64"), np.concatenate(probs)


def read_card(dataset: str, folder: Path = WEIGHTS_DIR) -> dict:
    path = card_path(dataset, folder)
    if not path.is_file():
        raise EvaluationError(f"no domain classifier for '{dataset}' ({path} missing); "
                              f"train one with: cgan classifier train --dataset {dataset}")
    retrain = f"retrain with: cgan classifier train --dataset {dataset}"
    try:
        card = json.loads(path.read_text())
    except ValueError:  # not UTF-8, or not JSON
        raise EvaluationError(f"{path} is corrupt (not valid JSON); {retrain}") from None
    missing = [k for k in ("image_shape", "num_classes") if k not in card] if isinstance(card, dict) else None
    if missing is None or missing:
        raise EvaluationError(f"{path} is corrupt (no {', '.join(missing or ['JSON object'])}); {retrain}")
    return card


def load_classifier(dataset: str, folder: Path = WEIGHTS_DIR) -> DomainClassifier:
    card = read_card(dataset, folder)
    weights = weights_path(dataset, folder)
    if not weights.is_file():
        raise EvaluationError(f"{weights} missing; retrain with: {card.get('retrain_command')}")
    # The card records the architecture its weights belong to, which may predate today's recipe.
    model = build_classifier(dataset, tuple(card["image_shape"]), card["num_classes"], card.get("architecture"))
    try:
        model.load_weights(weights)
    except Exception as exc:  # h5py's OSError for a truncated file, Keras's ValueError for other weights
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise EvaluationError(f"cannot load {weights} (truncated, corrupt or for another architecture): "
                              f"{first[:160]}; retrain with: {card.get('retrain_command')}") from None
    return DomainClassifier(dataset, model, card)


def _without_optimizer(model, dataset: str):
    """An uncompiled copy: save_weights of a compiled model also stores Adam's moments (3× the size)."""
    bare = build_classifier(dataset, model.input_shape[1:], model.output_shape[-1])
    bare.set_weights(model.get_weights())
    return bare


def _optimizer(recipe: dict, epochs: int, train_images: int):
    """Adam 1e-3 (MNIST); SGD + Nesterov, weight decay and a cosine schedule to zero (the CIFAR ResNets)."""
    import keras

    if "learning_rate" not in recipe:
        return keras.optimizers.Adam(1e-3)
    steps = epochs * -(-train_images // recipe["batch_size"])
    schedule = keras.optimizers.schedules.CosineDecay(recipe["learning_rate"], steps)
    return keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=recipe["weight_decay"])


def _optimizer_note(recipe: dict) -> str:
    if "learning_rate" not in recipe:
        return "adam, learning rate 1e-3"
    return (f"sgd, nesterov momentum 0.9, learning rate {recipe['learning_rate']} with cosine decay to 0, "
            f"weight decay {recipe['weight_decay']}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def train_classifier(dataset: str, epochs: int | None = None, data_dir=None, seed: int = 0,
                     folder: Path = WEIGHTS_DIR, verbose: int = 2) -> dict:
    """Train on the whole train split available, score on the whole test split, write weights + card."""
    import keras

    from cgan.data import OFFICIAL_TEST_IMAGES, load_dataset
    from cgan.io import atomic_write, write_json
    from cgan.runtime import environment_facts

    if dataset not in RECIPES:
        raise EvaluationError(f"unknown dataset '{dataset}' (choose from {', '.join(RECIPES)})")
    recipe = RECIPES[dataset]
    epochs = recipe["epochs"] if epochs is None else epochs
    if epochs < 1:
        raise EvaluationError("--epochs must be at least 1")
    data = load_dataset(dataset, data_dir)  # first: a bad file fails before set_random_seed starts up TensorFlow
    keras.utils.set_random_seed(seed)
    model = build_classifier(dataset, data.image_shape, data.num_classes)
    # Test data is only scored after the last epoch: no early stopping or model choice on it.
    model.compile(optimizer=_optimizer(recipe, epochs, len(data.x_train)), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    started = time.perf_counter()
    history = model.fit(data.x_train, data.y_train, batch_size=recipe["batch_size"], epochs=epochs,
                        shuffle=True, verbose=verbose)
    wall = time.perf_counter() - started
    _, test_accuracy = model.evaluate(data.x_test, data.y_test, batch_size=500, verbose=0)

    weights = weights_path(dataset, folder)
    atomic_write(weights, _without_optimizer(model, dataset).save_weights)
    env = environment_facts()
    card = {
        "dataset": dataset,
        "test_accuracy": round(float(test_accuracy), 4),
        "test_images": int(len(data.x_test)),
        "train_accuracy_last_epoch": round(float(history.history["accuracy"][-1]), 4),
        "train_images": int(len(data.x_train)),
        "train_is_subset": data.train_is_subset,
        "data_note": (f"{data.train_note}; test set complete" if len(data.x_test) == OFFICIAL_TEST_IMAGES[dataset]
                      else data.train_note),
        "data_source": data.source,
        "image_shape": list(data.image_shape),
        "num_classes": data.num_classes,
        "feature_layer": "features", "feature_dim": FEATURE_DIM,
        "architecture": json.loads(json.dumps(recipe)),
        "params": int(model.count_params()),
        "epochs": epochs, "seed": seed,
        "optimizer": _optimizer_note(recipe),
        "backend": env["backend"],
        "hardware": f"{env['processor']} ({env['cpu_count']} logical CPUs, shared), {env['accelerator']}",
        "wall_seconds": round(wall, 1),
        "weights_file": weights.name, "weights_sha256": _sha256(weights),
        "retrain_command": f"cgan classifier train --dataset {dataset}" + (
            f" --epochs {epochs}" if epochs != recipe["epochs"] else "") + (f" --seed {seed}" if seed else ""),
        "trained_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(), "keras": env["keras"],
    }
    write_json(card_path(dataset, folder), card)
    return card


def prefer_tensorflow() -> None:
    """Train with TensorFlow unless KERAS_BACKEND says otherwise: on a CPU its convolutions ran these models
    about 5× faster than PyTorch's (docs/evaluation.md). The saved weights load under any backend."""
    import importlib.util
    import os

    if not os.environ.get("KERAS_BACKEND") and importlib.util.find_spec("tensorflow"):
        os.environ["KERAS_BACKEND"] = "tensorflow"
