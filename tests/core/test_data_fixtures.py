"""Loaders on small layouts written in tmp dirs: VegFru, Stanford Dogs (.mat and txt), folder; bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from core.base.errors import DatasetError
from core.data.registry import DATASET_KINDS, layout_of, load_dataset


def _img(path: Path, colour=(120, 60, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), colour).save(path)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- VegFru ------------------------------------------------------------------------------------------

def _vegfru(root: Path, missing: int = 0) -> None:
    rows = {"train": [], "test": [], "val": []}
    for label, rel in enumerate(["veg200_images/Chinese_artichoke", "fru92_images/Apple"]):
        for i in range(5):
            split = "train" if i < 2 else ("val" if i == 2 else "test")
            name = f"{rel}/{label}_{i}.jpg"
            rows[split].append(f"{name} {label}")
            if not (split == "test" and i == 4 and label < missing):
                _img(root / name)
    for split, lines in rows.items():
        _write(root / "vegfru_list" / f"vegfru_{split}.txt", "\n".join(lines))  # no final newline


def test_vegfru(tmp_path):
    _vegfru(tmp_path)
    with pytest.raises(DatasetError, match="official dataset has 292 classes"):
        load_dataset("vegfru", tmp_path)
    index = load_dataset("vegfru", tmp_path, allow_missing=True)
    assert index.class_names == ("Chinese_artichoke", "Apple")
    assert index.listed == (4, 4) and index.missing == 0  # val ignored
    assert [r.label for r in index.split("test")] == [0, 0, 1, 1]


def test_vegfru_missing_images_counted(tmp_path):
    _vegfru(tmp_path, missing=1)
    with pytest.raises(DatasetError, match="1 of 8 images") as info:
        load_dataset("vegfru", tmp_path)
    assert "Chinese_artichoke/0_4.jpg" in str(info.value) and "--allow-missing" in str(info.value)
    index = load_dataset("vegfru", tmp_path, allow_missing=True)
    assert index.missing == 1 and len(index.records) == 7 and not index.complete


def test_vegfru_bad_line_names_file_and_line(tmp_path):
    _vegfru(tmp_path)
    _write(tmp_path / "vegfru_list" / "vegfru_test.txt", "veg200_images/a/b.jpg 0\nveg200_images/a/c.jpg zero\n")
    with pytest.raises(DatasetError, match=r"vegfru_test.txt line 2: expected '<relative path> <integer label>'"):
        load_dataset("vegfru", tmp_path)


# --- Stanford Dogs -----------------------------------------------------------------------------------

_BREEDS = ["n02085620-Chihuahua", "n02085782-Japanese_spaniel", "n02085936-Maltese_dog"]


def _dog_files(root: Path) -> dict[str, list[tuple[str, int]]]:
    lists = {"train": [], "test": []}
    for label, breed in enumerate(_BREEDS, start=1):
        for i in range(3):
            rel = f"{breed}/{breed[:9]}_{i}.jpg"
            _img(root / "Images" / rel)
            lists["train" if i < 2 else "test"].append((rel, label))
    return lists


def test_dogs_official_mat(tmp_path):
    lists = _dog_files(tmp_path)
    for split, rows in lists.items():
        file_list = np.empty((len(rows), 1), dtype=object)
        for i, (rel, _) in enumerate(rows):
            file_list[i, 0] = np.array([rel])
        scipy.io.savemat(tmp_path / f"{split}_list.mat", {
            "file_list": file_list, "labels": np.array([[lab] for _, lab in rows], dtype=np.uint8)})
    index = load_dataset("dogs", tmp_path, allow_missing=True)
    assert index.class_names == ("Chihuahua", "Japanese_spaniel", "Maltese_dog")
    assert index.listed == (6, 3) and len(index.records) == 9 and index.missing == 0
    assert [r.label for r in index.split("test")] == [0, 1, 2]


@pytest.mark.parametrize("base, prefix", [(1, ""), (0, "Images/")])
def test_dogs_txt_lists(tmp_path, base, prefix):
    lists = _dog_files(tmp_path)
    for split, rows in lists.items():
        _write(tmp_path / f"{split}.txt", "".join(f"{prefix}{rel} {lab - 1 + base}\n" for rel, lab in rows))
    index = load_dataset("dogs", tmp_path, allow_missing=True)
    assert [r.label for r in index.split("train")] == [0, 0, 1, 1, 2, 2]
    assert all(Path(r.path).is_file() for r in index.records)


def test_dogs_corrupt_mat(tmp_path):
    _write(tmp_path / "train_list.mat", "this is not matlab")
    _write(tmp_path / "test_list.mat", "neither")
    with pytest.raises(DatasetError, match="train_list.mat"):
        load_dataset("dogs", tmp_path)


def test_dogs_mat_lacking_variables(tmp_path):
    for split in ("train", "test"):
        scipy.io.savemat(tmp_path / f"{split}_list.mat", {"something": np.zeros(3)})
    with pytest.raises(DatasetError, match="'file_list' or 'labels'"):
        load_dataset("dogs", tmp_path)


# --- folder layout -----------------------------------------------------------------------------------

def _folder(root: Path) -> None:
    for split, n in (("train", 3), ("test", 2)):
        for name in ("b_class", "a_class"):
            for i in range(n):
                _img(root / split / name / f"{i}.png")
    _write(root / "train" / "a_class" / "notes.txt", "not an image")


def test_folder_layout(tmp_path):
    _folder(tmp_path)
    index = load_dataset("folder", tmp_path)
    assert index.class_names == ("a_class", "b_class") and index.complete
    assert index.listed == (6, 4) and len(index.records) == 10


def test_folder_empty_class_folder(tmp_path):
    _folder(tmp_path)
    (tmp_path / "test" / "c_class").mkdir()
    with pytest.raises(DatasetError, match="c_class holds no images"):
        load_dataset("folder", tmp_path)


def test_folder_missing_split(tmp_path):
    _img(tmp_path / "train" / "a" / "0.png")
    with pytest.raises(DatasetError, match="test is missing"):
        load_dataset("folder", tmp_path)


# --- generic bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", [k for k in DATASET_KINDS if k != "demo"])
def test_wrong_root_and_empty_root(tmp_path, kind):
    with pytest.raises(DatasetError, match="does not exist") as info:
        load_dataset(kind, tmp_path / "nowhere")
    assert "Expected layout" in str(info.value)
    with pytest.raises(DatasetError) as info:
        load_dataset(kind, tmp_path)  # an empty folder: the first expected file is named
    assert str(tmp_path) in str(info.value) and "Expected layout" in str(info.value)


def test_missing_metadata_file_named(tmp_path):
    _write(tmp_path / "images.txt", "1 001.a/x.jpg\n")
    _write(tmp_path / "image_class_labels.txt", "1 1\n")
    with pytest.raises(DatasetError, match="train_test_split.txt is missing"):
        load_dataset("cub", tmp_path)


def test_unknown_kind_and_option(tmp_path):
    with pytest.raises(DatasetError, match="known kinds"):
        load_dataset("imagenet", tmp_path)
    with pytest.raises(DatasetError, match="unknown option"):
        load_dataset("cub", tmp_path, crop_banner=True)


def test_every_kind_has_a_layout():
    for kind in DATASET_KINDS:
        assert len(layout_of(kind)) > 80


def test_nabirds_remaps_sparse_leaf_ids(tmp_path):
    keys = ["aaaa-1", "bbbb-2", "cccc-3"]
    _write(tmp_path / "images.txt", "".join(f"{k} 0{c}/{k}.jpg\n" for k, c in zip(keys, (817, 295, 817))))
    _write(tmp_path / "image_class_labels.txt", "aaaa-1 817\nbbbb-2 295\ncccc-3 817")
    _write(tmp_path / "train_test_split.txt", "aaaa-1 1\nbbbb-2 1\ncccc-3 0\n")
    _write(tmp_path / "classes.txt", "0 Birds\n295 Wren\n817 Finch\n")
    for k, c in zip(keys, (817, 295, 817)):
        _img(tmp_path / "images" / f"0{c}" / f"{k}.jpg")
    index = load_dataset("nabirds", tmp_path, allow_missing=True)
    assert index.class_names == ("Wren", "Finch")
    assert [r.label for r in index.records] == [1, 0, 1] and index.missing == 0


# --- Food-101 without classes.txt --------------------------------------------------------------------

def test_food101_labels_txt_fallback_and_no_final_newline(tmp_path):
    for cls in ("apple_pie", "beef_tartare"):
        for i in range(2):
            _img(tmp_path / "images" / cls / f"{i}.jpg")
    _write(tmp_path / "meta" / "train.txt", "beef_tartare/0\napple_pie/0")  # no final newline
    _write(tmp_path / "meta" / "test.txt", "apple_pie/1\nbeef_tartare/1")
    _write(tmp_path / "meta" / "labels.txt", "Apple pie\nBeef tartare\n")  # display names only
    index = load_dataset("food101", tmp_path, allow_missing=True)
    assert index.class_names == ("apple_pie", "beef_tartare")
    assert [r.label for r in index.records] == [1, 0, 0, 1] and index.listed == (2, 2)
    _write(tmp_path / "meta" / "classes.txt", "apple_pie\n")
    with pytest.raises(DatasetError, match="'beef_tartare'"):
        load_dataset("food101", tmp_path, allow_missing=True)


def test_metadata_paths_outside_the_dataset_folder_are_refused(tmp_path):
    """A list file naming `../elsewhere/x.jpg` (or an absolute path) must not make fghash read that file."""
    root = tmp_path / "vegfru"
    _vegfru(root)
    _img(tmp_path / "elsewhere" / "secret.jpg")
    train = root / "vegfru_list" / "vegfru_train.txt"
    train.write_text(train.read_text() + "\n../elsewhere/secret.jpg 0", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"1 image path\(s\) in the metadata point outside .*secret\.jpg"):
        load_dataset("vegfru", root, allow_missing=True)
    train.write_text(train.read_text().replace("../elsewhere/secret.jpg", str(tmp_path / "elsewhere" / "secret.jpg")),
                     encoding="utf-8")
    with pytest.raises(DatasetError, match="point outside"):
        load_dataset("vegfru", root, allow_missing=True)


def test_a_symlinked_image_folder_still_loads(tmp_path):
    """The check is on the listed paths, not on where symlinks lead: images on another disk are fine."""
    real = tmp_path / "disk2"
    _vegfru(real)
    root = tmp_path / "vegfru"
    (root / "vegfru_list").mkdir(parents=True)
    for name in ("veg200_images", "fru92_images"):
        (root / name).symlink_to(real / name, target_is_directory=True)
    for f in (real / "vegfru_list").iterdir():
        (root / "vegfru_list" / f.name).write_bytes(f.read_bytes())
    assert len(load_dataset("vegfru", root, allow_missing=True).records) == 8
