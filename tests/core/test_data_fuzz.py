"""Fuzzing (hypothesis) of everything that parses outside data.

Metadata: every dataset loader, fed arbitrary or garbled metadata (random token lines; valid files with
lines deleted, duplicated, swapped, re-tokenised, cut or byte-flipped; .mat variables of the wrong type,
shape or value; folder trees with odd names), returns a consistent DatasetIndex or raises DatasetError.
Images: core.data.images.decode_rgb, fed random bytes or mutated valid PNG/JPEG/GIF/BMP/WebP/TIFF files
(including 16-bit, CMYK, animated, palette and EXIF ones and headers claiming huge sizes), returns an
RGB image or raises ImageDecodeError. Nothing else may escape.

Reproducible: every test runs derandomized (a fixed example sequence, no example database), and the
file runs in well under 30 s.
"""

from __future__ import annotations

import io
import json
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from badimages import gradient, grey_jpeg, image_bytes
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.base.errors import DatasetError, ImageDecodeError
from core.data.images import decode_rgb
from core.data.matfile import load_mat
from core.data.records import SPLITS, DatasetIndex
from core.data.registry import load_dataset


def fuzz(max_examples: int) -> settings:
    """Fixed-sequence hypothesis settings: the same examples on every machine and every run."""
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check_index(index: object) -> None:
    """What a loader that did not raise must return: a self-consistent DatasetIndex."""
    assert isinstance(index, DatasetIndex)
    assert index.num_classes == len(index.class_names) >= 1
    assert all(0 <= r.label < index.num_classes and r.split in SPLITS for r in index.records)
    assert sum(index.listed) == len(index.records) + index.missing
    assert all(isinstance(name, str) for name in index.class_names)


def load_or_refuse(kind: str, root: Path, allow_missing: bool = False):
    """load_dataset may only refuse with a DatasetError that says something, or return a self-consistent
    index (checked by check_index). Returns the index, or None when refused."""
    try:
        index = load_dataset(kind, root, allow_missing=allow_missing)
    except DatasetError as exc:
        assert str(exc)
        event("DatasetError")
        return None
    check_index(index)
    event("loaded an index")
    return index

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


@fuzz(60)
@given(kind=st.sampled_from(sorted(FILES)), texts=st.lists(content, min_size=4, max_size=4),
       allow_missing=st.booleans())
def test_metadata_parsers_only_raise_dataset_error(kind, texts, allow_missing):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, text in zip(FILES[kind], texts):
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        load_or_refuse(kind, root, allow_missing=allow_missing)


@fuzz(20)
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


@fuzz(25)
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


# ---- garbled valid metadata --------------------------------------------------------------------------------
# Each kind's metadata for a tiny valid dataset (3 classes, 2 train + 1 test image each): {file: text},
# and the image files it lists (written as 1-byte files: loaders check presence, they do not decode).
def _cub_like(uuid: bool) -> tuple[dict[str, str], list[str]]:
    images, labels, splits, classes, files = [], [], [], [], []
    for c in range(1, 4):
        cid = 294 + c if uuid else c
        classes.append(f"{cid} {c:03d}.Class_{c}")
        for j in range(3):
            key = f"0000{c}{j}9e-21dc-4a1b" if uuid else str(3 * (c - 1) + j + 1)
            rel = f"{c:03d}.Class_{c}/img_{c}_{j}.jpg"
            images.append(f"{key} {rel}")
            labels.append(f"{key} {cid}")
            splits.append(f"{key} {int(j < 2)}")
            files.append(f"images/{rel}")
    meta = {"images.txt": images, "image_class_labels.txt": labels, "train_test_split.txt": splits,
            "classes.txt": classes}
    return {k: "\n".join(v) + "\n" for k, v in meta.items()}, files


def _aircraft() -> tuple[dict[str, str], list[str]]:
    variants = ["707-320", "F/A-18", "Cessna 172"]
    rows = {"train": [], "test": []}
    files = []
    for c, name in enumerate(variants):
        for j in range(3):
            image_id = f"{1000000 + 10 * c + j:07d}"
            rows["train" if j < 2 else "test"].append(f"{image_id} {name}")
            files.append(f"data/images/{image_id}.jpg")
    return {"data/variants.txt": "\n".join(variants) + "\n",
            "data/images_variant_trainval.txt": "\n".join(rows["train"]) + "\n",
            "data/images_variant_test.txt": "\n".join(rows["test"]) + "\n"}, files


def _food101() -> tuple[dict[str, str], list[str]]:
    classes = ["apple_pie", "baby_back_ribs", "ramen"]
    rows = {"train": [], "test": []}
    files = []
    for c, name in enumerate(classes):
        for j in range(3):
            rows["train" if j < 2 else "test"].append(f"{name}/{100 + j}")
            files.append(f"images/{name}/{100 + j}.jpg")
    return {"meta/classes.txt": "\n".join(classes) + "\n", "meta/train.txt": "\n".join(rows["train"]) + "\n",
            "meta/test.txt": "\n".join(rows["test"]) + "\n"}, files


def _path_label_lists(kind: str) -> tuple[dict[str, str], list[str]]:
    rows = {"train": [], "test": []}
    files = []
    for c in range(3):
        for j in range(3):
            if kind == "vegfru":
                rel, label, prefix = f"veg200_images/veg_{c}/v_{c}_{j}.jpg", c, ""
            else:  # dogs: 1-based labels, relpaths with the Images/ prefix
                rel, label, prefix = f"Images/n0208{c}-Breed_{c}/n_{c}_{j}.jpg", c + 1, ""
            rows["train" if j < 2 else "test"].append(f"{prefix}{rel} {label}")
            files.append(rel)
    names = {"vegfru": ("vegfru_list/vegfru_train.txt", "vegfru_list/vegfru_test.txt"),
             "dogs": ("train.txt", "test.txt")}[kind]
    return {names[0]: "\n".join(rows["train"]) + "\n", names[1]: "\n".join(rows["test"]) + "\n"}, files


VALID = {
    "cub": lambda: _cub_like(uuid=False),
    "nabirds": lambda: _cub_like(uuid=True),
    "aircraft": _aircraft,
    "food101": _food101,
    "vegfru": lambda: _path_label_lists("vegfru"),
    "dogs": lambda: _path_label_lists("dogs"),
}

_index = st.integers(0, 40)
EDIT = st.one_of(
    st.tuples(st.just("delete"), _index),
    st.tuples(st.just("duplicate"), _index),
    st.tuples(st.just("swap"), _index, _index),
    st.tuples(st.just("token"), _index, st.integers(0, 3), token),
    st.tuples(st.just("insert"), _index, line),
    st.tuples(st.just("cut"), st.integers(0, 400)),
    st.tuples(st.just("byte"), st.integers(0, 400), st.integers(0, 255)),
)


def garble(text: str, edits: list[tuple]) -> bytes:
    """Apply line edits (delete / duplicate / swap / replace a token / insert) and byte edits (cut, set)."""
    lines = text.splitlines()
    data = None
    for op, *args in edits:
        if data is None and op in ("cut", "byte"):
            data = bytearray("\n".join(lines).encode("utf-8", errors="surrogatepass"))
        if op in ("cut", "byte"):
            if op == "cut":
                del data[args[0] % (len(data) + 1):]
            elif data:
                data[args[0] % len(data)] = args[1]
            continue
        if data is not None:  # line edits after byte edits work on whatever text survived
            lines, data = data.decode("utf-8", errors="replace").splitlines(), None
        if not lines and op != "insert":
            continue
        i = args[0] % max(1, len(lines))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = args[1] % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "token":
            parts = lines[i].split(" ")
            parts[args[1] % len(parts)] = args[2]
            lines[i] = " ".join(parts)
        else:
            lines.insert(i, args[1])
    if data is None:
        data = bytearray("\n".join(lines).encode("utf-8", errors="surrogatepass"))
    return bytes(data)


def _write_layout(root: Path, image_files, metadata: dict[str, bytes]) -> None:
    """A dataset folder: placeholder image files (their bytes do not matter to the parsers) and metadata."""
    for rel, data in [(rel, b"x") for rel in image_files] + list(metadata.items()):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


@fuzz(300)
@given(kind=st.sampled_from(sorted(VALID)), data=st.data(), allow_missing=st.booleans())
def test_garbled_valid_metadata_gives_index_or_dataset_error(kind, data, allow_missing):
    meta, files = VALID[kind]()
    targets = data.draw(st.lists(st.sampled_from(sorted(meta)), min_size=1, max_size=2, unique=True))
    edits = {name: data.draw(st.lists(EDIT, min_size=1, max_size=4)) for name in targets}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write_layout(root, files, {name: garble(text, edits[name]) if name in edits else text.encode()
                                    for name, text in meta.items()})
        load_or_refuse(kind, root, allow_missing=allow_missing)


def test_unedited_valid_metadata_loads():
    """The fuzz starts from metadata every loader accepts (else the garbling tests prove little)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for split in ("train", "test"):
            _write_mat(root / f"{split}_list.mat", {"file_list": _dogs_file_list(split),
                                                    "labels": np.asarray([[1], [1], [2]], dtype=float)}, None)
        index = load_dataset("dogs", root, allow_missing=True)
        assert index.class_names == ("Chihuahua", "Shih-Tzu") and index.listed == (3, 3)
    for kind, make in VALID.items():
        meta, files = make()
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            _write_layout(root, files, {name: text.encode() for name, text in meta.items()})
            index = load_dataset(kind, root, allow_missing=True)
            check_index(index)
            assert (index.num_classes, len(index.records), index.missing) == (3, 9, 0), kind


# ---- .mat metadata (Oxford Flowers, Stanford Dogs) -------------------------------------------------------
def _mat_value():
    ints = st.lists(st.integers(-3, 12), min_size=0, max_size=12)
    return st.one_of(
        ints.map(lambda v: np.asarray(v, dtype=np.float64).reshape(1, -1)),  # MATLAB row vector
        ints.map(lambda v: np.asarray(v, dtype=np.int32).reshape(-1, 1)),
        st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=6).map(np.asarray),
        st.lists(st.text(max_size=8), min_size=1, max_size=4).map(lambda v: np.asarray(v, dtype=object)),
        st.just(np.zeros((2, 3, 2))),
        st.just(np.asarray([[1, 2], [3, 4]], dtype=np.uint8)),
        st.just(np.zeros((0, 0))),
    )


def _write_mat(path: Path, variables: dict, damage: tuple[int, int, int] | None) -> None:
    """savemat, then optionally damage the file: (position, 0 = cut there | 1 = xor 0xFF | 2 = set, value)."""
    import scipy.io

    scipy.io.savemat(str(path), variables, do_compression=bool(damage and damage[1] == 2 and damage[2] % 2))
    if damage is not None:
        data = bytearray(path.read_bytes())
        pos, how, value = damage
        pos %= len(data)
        if how == 0:
            del data[pos:]
        elif how == 1:
            data[pos] ^= 0xFF
        else:
            data[pos] = value
        path.write_bytes(bytes(data))


# Single-byte damage like this made scipy.io.loadmat segfault (a set "complex" flag without an imaginary
# part; an unknown data type code): core.data.matfile.check_mat5 now refuses such files first.
DAMAGE = st.one_of(st.none(), st.tuples(st.integers(0, 2000), st.integers(0, 2), st.integers(0, 255)))


FLOWERS_BASE = {"labels": np.asarray([[1, 1, 2, 2, 3, 3, 1, 2, 3, 1, 2, 3]], dtype=float),
                "trnid": np.asarray([[1, 3, 5]]), "valid": np.asarray([[2, 4, 6]]),
                "tstid": np.asarray([[7, 8, 9, 10, 11, 12]])}
_OVERRIDE = st.one_of(st.none(), _mat_value())  # None: drop the variable


@fuzz(150)
@given(overrides=st.dictionaries(st.sampled_from(sorted(FLOWERS_BASE)), _OVERRIDE, max_size=2),
       damage=st.one_of(st.none(), st.none(), DAMAGE), names=st.one_of(
           st.none(), st.text(max_size=40), st.just('{"1": "rose", "2": 3, "x": [], "99": "far"}'),
           st.just("[1, 2]")), allow_missing=st.sampled_from([True, True, False]))
def test_flowers_mat_files(overrides, damage, names, allow_missing):
    """Valid Flowers .mat files with up to two variables dropped or replaced, or a file damaged."""
    variables = {**FLOWERS_BASE, **overrides}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "jpg").mkdir()
        for i in range(1, 13):
            (root / "jpg" / f"image_{i:05d}.jpg").write_bytes(b"x")
        labels = {k: v for k, v in variables.items() if k == "labels" and v is not None}
        sets = {k: v for k, v in variables.items() if k != "labels" and v is not None}
        _write_mat(root / "imagelabels.mat", labels or {"x": np.zeros(1)}, None)
        _write_mat(root / "setid.mat", sets or {"x": np.zeros(1)}, damage)
        if names is not None:
            (root / "cat_to_name.json").write_text(names, encoding="utf-8", errors="surrogatepass")
        load_or_refuse("flowers", root, allow_missing=allow_missing)


def test_flowers_valid_mat_loads():
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "jpg").mkdir()
        for i in range(1, 7):
            (root / "jpg" / f"image_{i:05d}.jpg").write_bytes(b"x")
        _write_mat(root / "imagelabels.mat", {"labels": np.asarray([[1, 1, 2, 2, 3, 3]], dtype=float)}, None)
        _write_mat(root / "setid.mat", {"trnid": np.asarray([[1, 3, 5]]), "valid": np.asarray([[2]]),
                                        "tstid": np.asarray([[4, 6]])}, None)
        (root / "cat_to_name.json").write_text(json.dumps({"1": "rose", "2": "lily"}))
        index = load_dataset("flowers", root, allow_missing=True)
        check_index(index)
        assert index.class_names == ("rose", "lily", "class_003") and index.listed == (4, 2)
        from core.data.flowers import official_split_counts

        assert official_split_counts(index) == (("train", 3), ("valid", 1), ("test", 2))


def test_flowers_standard_names_are_the_default():
    from core.data.flowers import _class_names
    from core.data.flowers_names import FLOWER_NAMES

    names = _class_names(Path("/nonexistent/cat_to_name.json"), 102)
    assert names[0] == "pink primrose" and names[101] == "blackberry lily" and len(set(FLOWER_NAMES)) == 102
    assert _class_names(Path("/nonexistent/cat_to_name.json"), 3) == ["class_001", "class_002", "class_003"]


DOGS_FILES = ["n02085620-Chihuahua/a.jpg", "n02085620-Chihuahua/b.jpg", "n02086240-Shih-Tzu/c.jpg"]


def _dogs_file_list(split: str) -> np.ndarray:
    """DOGS_FILES for train and other names for test (one file in both splits is refused as a leak)."""
    names = DOGS_FILES if split == "train" else [x.replace(".jpg", "_t.jpg") for x in DOGS_FILES]
    return np.asarray([[x] for x in names], dtype=object)

_FILE_LIST = st.one_of(
    st.lists(st.one_of(st.sampled_from(DOGS_FILES + ["Images/n2-Pug/b.jpg", "", "../x.jpg"]), st.text(max_size=10)),
             min_size=1, max_size=5).map(lambda v: np.asarray([[x] for x in v], dtype=object)),
    _mat_value())


@fuzz(120)
@given(file_list=st.one_of(st.none(), st.none(), _FILE_LIST), labels=st.one_of(st.none(), st.none(), _mat_value()),
       drop=st.sampled_from([None, None, None, "file_list", "labels"]), damage=st.one_of(st.none(), DAMAGE))
def test_dogs_mat_files(file_list, labels, drop, damage):
    """Valid Stanford Dogs .mat lists with the file list and/or labels replaced, one dropped, or damaged."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for split in ("train", "test"):
            variables = {
                "file_list": _dogs_file_list(split) if file_list is None else file_list,
                "labels": np.asarray([[1], [1], [2]], dtype=float) if labels is None else labels,
            }
            variables.pop(drop, None)
            _write_mat(root / f"{split}_list.mat", variables, damage if split == "test" else None)
        load_or_refuse("dogs", root, allow_missing=True)


# ---- folder layout ---------------------------------------------------------------------------------------
_name = st.one_of(st.sampled_from(["a", "b", ".hidden", "with space", "ünï", "x.JPG", "noext", "c.png", "..."]),
                  st.text(alphabet=st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
                          min_size=1, max_size=8))


_file = st.one_of(_name, _name.map(lambda n: n + ".jpg"), st.sampled_from(["1.png", "2.JPEG", "3.webp"]))


@fuzz(100)
@given(tree=st.lists(st.tuples(st.sampled_from(["train", "test", "train", "test", "other"]), _name, _file,
                               st.booleans()), max_size=8))
def test_folder_layout_with_odd_names(tree):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for split in ("train", "test"):  # a valid base, which the random entries may break
            (root / split / "base").mkdir(parents=True)
            (root / split / "base" / "1.jpg").write_bytes(b"x")
        for split, cls, file, as_dir in tree:
            try:
                folder = root / split / cls
                folder.mkdir(parents=True, exist_ok=True)
                target = folder / (file if not file.startswith(".") else "x" + file)
                target.mkdir(exist_ok=True) if as_dir else target.write_bytes(b"x")
            except OSError:
                continue  # a name the file system refuses (e.g. too long): not the loader's problem
        index = load_or_refuse("folder", root)
        if index is not None:
            assert index.class_names == tuple(sorted(index.class_names))


# ---- image decoding --------------------------------------------------------------------------------------
def _check_decode(data: bytes) -> None:
    try:
        img = decode_rgb(data, name="fuzz", max_side=256)
    except ImageDecodeError as exc:
        assert str(exc).startswith("cannot decode image fuzz")
        event("ImageDecodeError")
        return
    event("decoded")
    assert img.mode == "RGB" and 1 <= min(img.size) and max(img.size) <= 256
    img.tobytes()  # fully decoded: no lazy error left for the caller


@fuzz(150)
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(data):
    _check_decode(data)


def _encoded(fmt: str) -> bytes:
    buf = io.BytesIO()
    gradient(24, 16).save(buf, format=fmt)
    return buf.getvalue()


_SEED_MAKERS = {
    **{fmt: (lambda f=fmt: _encoded(f)) for fmt in ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF")},
    **{name: (lambda n=name: image_bytes(n)) for name in ("gray16.png", "cmyk.jpg", "animated.gif",
                                                          "palette_alpha.png", "la.png", "exif_rotated.jpg")},
    "grey_jpeg": lambda: grey_jpeg(64, 48),
}
_SEEDS: dict[str, bytes] = {}


def _seed(name: str) -> bytes:
    if name not in _SEEDS:
        _SEEDS[name] = _SEED_MAKERS[name]()
    return _SEEDS[name]


MUTATION = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 10_000), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 10_000), st.integers(1, 16)),
    st.tuples(st.just("cut"), st.integers(0, 10_000)),
)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's TIFF plugin warns on the damage we inject
@fuzz(300)
@given(st.sampled_from(sorted(_SEED_MAKERS)), st.lists(MUTATION, min_size=1, max_size=4))
def test_fuzz_mutated_real_images(seed, mutations):
    data = bytearray(_seed(seed))
    for op, pos, *arg in mutations:
        if not data:
            break
        pos %= len(data)
        if op == "set":
            data[pos] = arg[0]
        elif op == "insert":
            data[pos:pos] = arg[0]
        elif op == "delete":
            del data[pos:pos + arg[0]]
        else:
            del data[max(1, pos):]
    _check_decode(bytes(data))


def _png_with_size(width: int, height: int, bit_depth: int, colour: int) -> bytes:
    """A PNG whose checksummed header claims any size and pixel format, with one row of data."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(64)))
            + chunk(b"IEND", b""))


@fuzz(60)
@given(width=st.integers(0, 2 ** 31), height=st.integers(0, 2 ** 31), fmt=st.sampled_from(["png", "jpeg"]),
       bit_depth=st.sampled_from([1, 8, 16]), colour=st.sampled_from([0, 2, 3, 4, 6]))
def test_fuzz_claimed_sizes(width, height, fmt, bit_depth, colour):
    """Headers claiming any size: refused from the header or decoded at reduced size, never a bomb."""
    width, height = min(width, 2 ** 31 - 1) or 1, min(height, 2 ** 31 - 1) or 1
    if fmt == "jpeg":
        data = grey_jpeg(min(width, 65535), min(height, 65535), scan_bytes=64)
    else:
        data = _png_with_size(width, height, bit_depth, colour)
    _check_decode(data)


def test_every_single_byte_flip_of_a_mat_file_is_refused_or_read():
    """Regression: some of these flips made scipy.io.loadmat segfault (the whole pytest process died)."""
    import scipy.io

    with tempfile.TemporaryDirectory() as tmp:
        for compressed in (False, True):
            buf = io.BytesIO()
            scipy.io.savemat(buf, {"trnid": np.asarray([[1, 3, 5]]), "tstid": np.asarray([[2.0, 4.0]]),
                                   "file_list": np.asarray([["a/b.jpg"], ["c.jpg"]], dtype=object)},
                             do_compression=compressed)
            base = buf.getvalue()
            path = Path(tmp) / "x.mat"
            refused = 0
            for pos in range(len(base)):
                data = bytearray(base)
                data[pos] ^= 0xFF
                path.write_bytes(bytes(data))
                try:
                    load_mat(path, "fuzz", "layout")
                except DatasetError as exc:
                    assert str(path) in str(exc)
                    refused += 1
            assert refused > len(base) // 10  # most damage is caught (the rest reads as other numbers)
