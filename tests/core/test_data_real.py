"""Every official loader against the real files in ../shared/data (skipped cleanly when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.base.errors import DatasetError
from core.data.registry import load_dataset


def test_cub_subset(shared_data):
    root = shared_data / "CUB_200_2011"
    with pytest.raises(DatasetError, match="allow_missing"):
        load_dataset("cub", root)
    index = load_dataset("cub", root, allow_missing=True)
    assert index.listed == (300, 243) and len(index.records) == 543
    assert not index.complete and index.missing == 0
    assert index.class_names[0] == "001.Black_footed_Albatross"
    assert {r.label for r in index.records} == set(range(10))
    assert all(os.path.isfile(r.path) for r in index.records[:20])
    # Official split flag: Black_Footed_Albatross_0046_18 is id 1, a test image (flag 0).
    first = next(r for r in index.records if r.path.endswith("Black_Footed_Albatross_0046_18.jpg"))
    assert first.split == "test" and first.label == 0


def test_food101_subset(shared_data):
    index = load_dataset("food101", shared_data / "food-101", allow_missing=True)
    assert index.num_classes == 10 and index.listed == (250, 250) and len(index.records) == 500
    assert index.class_names[:2] == ("apple_pie", "baby_back_ribs")
    assert all(r.path.endswith(".jpg") for r in index.records)
    # Labels follow classes.txt: every image's folder is its class name.
    assert all(Path(r.path).parent.name == index.class_names[r.label] for r in index.records)


def test_flowers_subset(shared_data):
    root = shared_data / "flowers-102"
    with pytest.raises(DatasetError, match="7,667 of 8,189 images") as info:
        load_dataset("flowers", root)
    assert "--allow-missing" in str(info.value) and "image_" in str(info.value)
    index = load_dataset("flowers", root, allow_missing=True)
    assert index.num_classes == 102 and index.listed == (2040, 6149)
    assert len(index.records) == 522 and index.missing == 8189 - 522 and not index.complete
    assert index.class_names[0] == "pink primrose"  # from cat_to_name.json


def test_aircraft_metadata_only(shared_data):
    root = shared_data / "metadata_only" / "fgvc-aircraft-2013b"
    with pytest.raises(DatasetError, match="10,000 of 10,000"):
        load_dataset("aircraft", root)
    index = load_dataset("aircraft", root, allow_missing=True)
    assert index.num_classes == 100 and index.listed == (6667, 3333) and index.missing == 10000
    assert "F/A-18" in index.class_names and "BAE 146-200" in index.class_names
    assert index.class_names[0] == "707-320" and len(set(index.class_names)) == 100


def test_aircraft_copies_with_added_headers(shared_data, tmp_path):
    src = shared_data / "metadata_only" / "fgvc-aircraft-2013b" / "data_as_committed_with_added_headers"
    if not src.is_dir():
        pytest.skip("no header copies")
    (tmp_path / "data").symlink_to(src)
    index = load_dataset("aircraft", tmp_path, allow_missing=True)
    assert index.num_classes == 100 and "Variant" not in index.class_names
    assert index.listed == (6667, 3333)


def test_aircraft_banner_crop_travels_with_records(shared_data, tmp_path):
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    src = shared_data / "metadata_only" / "fgvc-aircraft-2013b" / "data"
    for name in ("variants.txt", "images_variant_trainval.txt", "images_variant_test.txt"):
        (data / name).symlink_to(src / name)
    from PIL import Image

    Image.new("RGB", (60, 50), (0, 0, 0)).save(data / "images" / "1025794.jpg")
    index = load_dataset("aircraft", tmp_path, allow_missing=True)
    assert len(index.records) == 1 and index.records[0].crop_bottom == 20
    assert load_dataset("aircraft", tmp_path, allow_missing=True, crop_banner=False).records[0].crop_bottom == 0
    from core.data.dataset import load_record_image

    assert load_record_image(index.records[0]).size == (60, 30)


def test_nabirds_metadata_only(shared_data):
    root = shared_data / "metadata_only" / "nabirds"
    with pytest.raises(DatasetError, match="allow_missing"):
        load_dataset("nabirds", root)
    index = load_dataset("nabirds", root, allow_missing=True)
    assert index.num_classes == 555 and index.listed == (23929, 24633) and index.missing == 48562
    assert not index.records


def test_stanford_dogs_metadata_only_gives_clear_error(shared_data):
    with pytest.raises(DatasetError, match="train_list.mat") as info:
        load_dataset("dogs", shared_data / "metadata_only" / "stanford_dogs")
    assert "Expected layout" in str(info.value)
