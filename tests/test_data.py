import numpy as np
import pytest

from cgan import data as data_mod
from cgan.data import label_names, load_dataset
from cgan.errors import DataError


def test_mnist_from_data_dir_is_scaled_and_named(data_dir):
    ds = load_dataset("mnist", data_dir, subset=500)
    assert ds.image_shape == (28, 28, 1) and ds.num_classes == 10
    assert ds.x_train.dtype == np.float32 and -1.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    assert ds.x_train.min() == -1.0 and ds.x_train.max() == 1.0
    assert len(ds.x_train) == 500 and np.bincount(ds.y_train).tolist() == [50] * 10  # stratified
    assert len(ds.x_test) == 10_000 and ds.source == str(data_dir / "mnist.npz")


def test_environment_variable_is_the_default_location(data_dir, monkeypatch):
    monkeypatch.setenv("CGAN_DATA_DIR", str(data_dir))
    # run records name the variable, not this machine's folder
    assert load_dataset("mnist", subset=100).source == "$CGAN_DATA_DIR/mnist.npz"


def test_cifar100_fine_and_coarse_labels(data_dir):
    fine = load_dataset("cifar100", data_dir, subset=200)
    coarse = load_dataset("cifar100", data_dir, subset=200, label_mode="coarse")
    assert fine.num_classes == 100 and coarse.num_classes == 20
    assert "sunflower" in fine.label_names and "flowers" in coarse.label_names
    assert fine.train_is_subset  # the shared CIFAR training sets are subsets
    assert label_names("cifar100") == fine.label_names


def test_no_data_anywhere_is_one_clear_line(tmp_path, monkeypatch):
    def offline(name, label_mode):
        raise DataError(f"no {name} data: set $CGAN_DATA_DIR or --data-dir")

    monkeypatch.setattr(data_mod, "_from_keras", offline)
    with pytest.raises(DataError, match="no mnist data"):
        load_dataset("mnist", tmp_path)


def test_falls_back_to_keras_datasets_when_folder_lacks_file(tmp_path, monkeypatch):
    calls = []

    def fake_keras(name, label_mode):
        calls.append(name)
        x = np.zeros((20, 28, 28), "uint8")
        y = np.arange(20) % 10
        return {"x_train": x, "y_train": y, "x_test": x, "y_test": y, "label_names": np.array(data_mod.MNIST_NAMES)}

    monkeypatch.setattr(data_mod, "_from_keras", fake_keras)
    ds = load_dataset("mnist", tmp_path)
    assert calls == ["mnist"] and ds.source == "keras.datasets" and ds.image_shape == (28, 28, 1)


def test_unknown_dataset_and_corrupt_file(tmp_path):
    with pytest.raises(DataError, match="unknown dataset 'svhn'"):
        load_dataset("svhn")
    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError, match="cannot read"):
        load_dataset("mnist", tmp_path)


def test_a_copy_is_named_by_how_much_of_the_official_set_it_holds():
    from cgan.data import data_label, describe_train_split

    assert describe_train_split("cifar10", 49059) == (
        False, "the full recovered set: 49,059 of the 50,000 official training images")
    assert describe_train_split("cifar100", 12000)[0] and not describe_train_split("mnist", 60000)[0]
    assert data_label({"train_images": 11500, "train_is_subset": True}, "cifar10") == "11.5k subset"
    assert data_label({"train_images": 49059, "train_is_subset": False}, "cifar10") == "49,059 (full recovered set)"
    assert data_label({"train_images": 60000}, "mnist") == "60,000 (all)"


def test_train_false_keeps_the_test_split_and_no_training_images(data_dir):
    full, test_only = load_dataset("mnist", data_dir, subset=100), load_dataset("mnist", data_dir, train=False)
    assert test_only.x_train.shape == (0, 28, 28, 1) and test_only.image_shape == (28, 28, 1)
    assert np.array_equal(test_only.x_test, full.x_test) and test_only.label_names == full.label_names
