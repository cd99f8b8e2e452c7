"""Leaks and impossible labels: metadata that lists one file in both splits (a query inside the database),
one file twice in a split, or a label outside the dataset's classes is refused with one line, with or
without allow_missing. Damaged copies of the real metadata in ../shared/data (metadata copied to tmp_path,
images symlinked), plus every loader's tiny valid layout from test_data_fuzz.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from test_data_fuzz import VALID, _write_layout

from core.base.errors import DatasetError
from core.data.registry import load_dataset

CUB_META = ("images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt")
# id 1 is a test image, id 2 a train image, both present in the shared subset (class 001)
TEST_ID, TRAIN_ID = "1", "2"


def _cub_copy(shared_data: Path, tmp_path: Path) -> Path:
    """CUB metadata copied to tmp_path, the image folder symlinked from the shared subset."""
    src = shared_data / "CUB_200_2011"
    root = tmp_path / "cub"
    root.mkdir()
    for name in CUB_META:
        shutil.copy(src / name, root / name)
    (root / "images").symlink_to(src / "images")
    return root


def _edit_pairs(path: Path, key: str, value: str) -> str:
    """Set the value of `key` in a '<key> <value>' file; returns the old value."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        k, old = line.split(None, 1)
        if k == key:
            lines[i] = f"{key} {value}"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            return old
    raise KeyError(key)


def _value(path: Path, key: str) -> str:
    return next(line.split(None, 1)[1] for line in path.read_text(encoding="utf-8").splitlines()
                if line.split(None, 1)[0] == key)


def _refused(kind: str, root: Path, *patterns: str) -> str:
    """Both with and without allow_missing: DatasetError, one line, matching every pattern."""
    for allow_missing in (False, True):
        with pytest.raises(DatasetError) as info:
            load_dataset(kind, root, allow_missing=allow_missing)
        message = str(info.value)
        assert "\n" not in message
        for pattern in patterns:
            assert pattern in message, (pattern, message)
    return message


def test_cub_copy_loads_before_damage(shared_data, tmp_path):
    index = load_dataset("cub", _cub_copy(shared_data, tmp_path), allow_missing=True)
    assert index.listed == (300, 243) and len(index.records) == 543 and index.num_classes == 10


@pytest.mark.parametrize("spelling", ["same", "dot", "dotdot", "slashes"])
def test_cub_test_image_listed_as_a_train_file(shared_data, tmp_path, spelling):
    root = _cub_copy(shared_data, tmp_path)
    train_rel = _value(root / "images.txt", TRAIN_ID)
    folder, name = train_rel.split("/")
    alias = {"same": train_rel, "dot": f"./{folder}/./{name}", "dotdot": f"{folder}/../{folder}/{name}",
             "slashes": f"{folder}//{name}"}[spelling]
    _edit_pairs(root / "images.txt", TEST_ID, alias)
    message = _refused("cub", root, "1 file(s) in both the train (database) and the test (query) split",
                       name, "list each image once")
    assert ("which are the same file" in message) == (spelling != "same")


def test_cub_symlinked_file_in_both_splits(shared_data, tmp_path):
    """images/ a real folder of symlinked class folders, plus a symlink to a train image under another name."""
    src = shared_data / "CUB_200_2011"
    root = _cub_copy(shared_data, tmp_path)
    (root / "images").unlink()
    (root / "images").mkdir()
    for folder in (src / "images").iterdir():
        (root / "images" / folder.name).symlink_to(folder)
    train_rel = _value(root / "images.txt", TRAIN_ID)
    (root / "images" / "aliases").mkdir()
    (root / "images" / "aliases" / "alias.jpg").symlink_to(src / "images" / train_rel)
    _edit_pairs(root / "images.txt", TEST_ID, "aliases/alias.jpg")
    _refused("cub", root, "1 file(s) in both", "aliases/alias.jpg", "which are the same file")


def test_cub_file_twice_in_one_split_and_counts(shared_data, tmp_path):
    root = _cub_copy(shared_data, tmp_path)
    rels = [_value(root / "images.txt", str(i)) for i in range(1, 11)]
    flags = [_value(root / "train_test_split.txt", str(i)) for i in range(1, 11)]
    train = [i for i, f in enumerate(flags) if f == "1"]
    test = [i for i, f in enumerate(flags) if f == "0"]
    assert len(train) >= 3 and len(test) >= 2
    # file A: listed by two train ids and one test id; file B: by its train id and one test id
    _edit_pairs(root / "images.txt", str(train[1] + 1), rels[train[0]])
    _edit_pairs(root / "images.txt", str(test[0] + 1), rels[train[0]])
    _edit_pairs(root / "images.txt", str(test[1] + 1), rels[train[2]])
    _refused("cub", root, "2 file(s) in both the train", "1 file(s) twice in one split")


@pytest.mark.parametrize("label, shown", [("9999", "label 9999"), ("201", "label 201")])
def test_cub_label_beyond_the_200_classes(shared_data, tmp_path, label, shown):
    root = _cub_copy(shared_data, tmp_path)
    _edit_pairs(root / "image_class_labels.txt", TRAIN_ID, label)
    _refused("cub", root, shown, "outside 1..200", "the official dataset has 200 classes",
             "image_class_labels.txt:")  # the message names the file that holds the labels
    with pytest.raises(DatasetError) as err:
        load_dataset("cub", root, allow_missing=True)
    assert "images.txt:" not in str(err.value).replace("image_class_labels.txt:", "")


@pytest.mark.parametrize("label", ["0", "-3"])
def test_cub_label_below_one(shared_data, tmp_path, label):
    root = _cub_copy(shared_data, tmp_path)
    _edit_pairs(root / "image_class_labels.txt", TRAIN_ID, label)
    _refused("cub", root, "class ids starting at 1")


def test_food101_test_line_repeating_a_train_line(shared_data, tmp_path):
    src = shared_data / "food-101"
    root = tmp_path / "food"
    (root / "meta").mkdir(parents=True)
    for name in ("classes.txt", "train.txt", "test.txt"):
        shutil.copy(src / "meta" / name, root / "meta" / name)
    (root / "images").symlink_to(src / "images")
    first_train = (root / "meta" / "train.txt").read_text(encoding="utf-8").splitlines()[0]
    with open(root / "meta" / "test.txt", "a", encoding="utf-8") as f:
        f.write(f"\n{first_train}\n")
    _refused("food101", root, "1 file(s) in both", first_train)


def test_aircraft_metadata_only_leak_and_extra_variant(shared_data, tmp_path):
    """No images at all (metadata only): the leak is a metadata fact and is refused all the same."""
    src = shared_data / "metadata_only" / "fgvc-aircraft-2013b" / "data"
    data = tmp_path / "aircraft" / "data"
    shutil.copytree(src, data)
    first_train = (data / "images_variant_trainval.txt").read_text(encoding="utf-8").splitlines()[0]
    with open(data / "images_variant_test.txt", "a", encoding="utf-8") as f:
        f.write(f"{first_train}\n")
    _refused("aircraft", data.parent, "1 file(s) in both", f"{first_train.split()[0]}.jpg")

    shutil.copy(src / "images_variant_test.txt", data / "images_variant_test.txt")
    with open(data / "variants.txt", "a", encoding="utf-8") as f:
        f.write("Made-up 999\n")
    _refused("aircraft", data.parent, "the class list has 101 classes; the official dataset has 100")


def test_nabirds_metadata_only_non_leaf_class(shared_data, tmp_path):
    """A label naming an inner taxonomy node adds a 556th class: refused, also with allow_missing."""
    src = shared_data / "metadata_only" / "nabirds"
    root = tmp_path / "nabirds"
    root.mkdir()
    for name in ("images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt"):
        shutil.copy(src / name, root / name)
    key = (root / "images.txt").read_text(encoding="utf-8").split(None, 1)[0]
    _edit_pairs(root / "image_class_labels.txt", key, "0")  # 0 = the root of the taxonomy ("Birds")
    _refused("nabirds", root, "outside 0..554", "the official dataset has 555 classes")


def test_dogs_one_based_list_with_a_zero_label(tmp_path):
    """1-based text lists (labels up to 120) with one 0 are read as 0-based, which gives a 121st class."""
    meta, files = VALID["dogs"]()
    meta["train.txt"] = meta["train.txt"].replace(" 1\n", " 0\n", 1).replace(" 3\n", " 120\n", 1)
    _write_layout(tmp_path, files, {name: text.encode() for name, text in meta.items()})
    with pytest.raises(DatasetError, match="outside 0..119"):
        load_dataset("dogs", tmp_path, allow_missing=True)


def _test_line_names_a_train_file(kind: str, meta: dict[str, str]) -> dict[str, str]:
    """The tiny valid layout of `kind`, with its first test image replaced by its first train image."""
    out = dict(meta)
    if kind in ("cub", "nabirds"):  # keys 1-3 of class 1: j = 0, 1 train, j = 2 test
        rows = [line.split(" ", 1) for line in meta["images.txt"].splitlines()]
        rows[2][1] = rows[0][1]
        out["images.txt"] = "\n".join(" ".join(r) for r in rows) + "\n"
        return out
    train_name, test_name = {
        "aircraft": ("data/images_variant_trainval.txt", "data/images_variant_test.txt"),
        "food101": ("meta/train.txt", "meta/test.txt"),
        "vegfru": ("vegfru_list/vegfru_train.txt", "vegfru_list/vegfru_test.txt"),
        "dogs": ("train.txt", "test.txt"),
    }[kind]
    test_lines = meta[test_name].splitlines()
    test_lines[0] = meta[train_name].splitlines()[0]
    out[test_name] = "\n".join(test_lines) + "\n"
    return out


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_loader_refuses_a_file_in_both_splits(kind):
    meta, files = VALID[kind]()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write_layout(root, files, {name: text.encode() for name, text in
                                    _test_line_names_a_train_file(kind, meta).items()})
        _refused(kind, root, "1 file(s) in both the train (database) and the test (query) split")


def test_folder_layout_symlink_from_test_to_train(tmp_path):
    for split, cls in (("train", "a"), ("train", "b"), ("test", "a"), ("test", "b")):
        (tmp_path / split / cls).mkdir(parents=True)
        (tmp_path / split / cls / f"{split}.jpg").write_bytes(b"x")
    assert len(load_dataset("folder", tmp_path).records) == 4
    os.symlink(tmp_path / "train" / "b" / "train.jpg", tmp_path / "test" / "b" / "copy.jpg")
    _refused("folder", tmp_path, "1 file(s) in both", "copy.jpg")
