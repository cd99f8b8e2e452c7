"""Fuzzing the metadata parsers: arbitrary file contents give a DatasetIndex or a DatasetError, nothing else."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from core.data.records import DatasetIndex
from core.data.registry import load_dataset
from core.errors import DatasetError

# Metadata files per kind (all written with fuzzed text); chosen so every parser is reached.
FILES = {
    "cub": ["images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt"],
    "nabirds": ["images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt"],
    "aircraft": ["data/variants.txt", "data/images_variant_trainval.txt", "data/images_variant_test.txt"],
    "food101": ["meta/train.txt", "meta/test.txt", "meta/classes.txt"],
    "vegfru": ["vegfru_list/vegfru_train.txt", "vegfru_list/vegfru_test.txt"],
    "dogs": ["train.txt", "test.txt"],
}

# Tokens that look like the real thing, so fuzzing gets past the first check often.
token = st.one_of(
    st.integers(-3, 2_000_000_000).map(str),
    st.sampled_from(["0", "1", "2", "707-320", "F/A-18", "a/b.jpg", "apple_pie/1", "Images/x/y.jpg",
                     "0000139e-21dc", "Variant", "Image", "../../etc/passwd", "\x00", "\ufeff"]),
    st.text(max_size=12),
)
line = st.lists(token, min_size=0, max_size=4).map(" ".join)
content = st.lists(line, max_size=8).map("\n".join)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(sorted(FILES)), texts=st.lists(content, min_size=4, max_size=4),
       allow_missing=st.booleans())
def test_metadata_parsers_only_raise_dataset_error(kind, texts, allow_missing):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, text in zip(FILES[kind], texts):
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            index = load_dataset(kind, root, allow_missing=allow_missing)
        except DatasetError as exc:
            assert str(exc)
            return
        assert isinstance(index, DatasetIndex)
        assert all(0 <= r.label < index.num_classes for r in index.records)


@settings(max_examples=20, deadline=None)
@given(st.binary(max_size=300))
def test_non_utf8_metadata(data):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in FILES["cub"]:
            (root / name).write_bytes(data)
        try:
            load_dataset("cub", root, allow_missing=True)
        except DatasetError:
            pass


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.booleans()), min_size=1, max_size=30))
def test_cub_round_trip(rows):
    """Well-formed CUB metadata written from random (class, is_train) rows reads back exactly."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        images, labels, splits = [], [], []
        for i, (cls, is_train) in enumerate(rows, start=1):
            rel = f"{cls:03d}.c/img_{i}.jpg"
            (root / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / "images" / rel).write_bytes(b"x")
            images.append(f"{i} {rel}")
            labels.append(f"{i} {cls}")
            splits.append(f"{i} {int(is_train)}")
        for name, lines in (("images.txt", images), ("image_class_labels.txt", labels),
                            ("train_test_split.txt", splits)):
            (root / name).write_text("\r\n".join(lines), encoding="utf-8")
        index = load_dataset("cub", root, allow_missing=True)
        assert [(r.label, r.split) for r in index.records] == [
            (cls - 1, "train" if is_train else "test") for cls, is_train in rows]
        assert index.num_classes == max(cls for cls, _ in rows) and index.missing == 0
        assert index.listed == (sum(t for _, t in rows), sum(not t for _, t in rows))
