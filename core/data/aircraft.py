"""FGVC-Aircraft 2013b at the variant level (100 classes): data/variants.txt + images_variant_*.txt."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from core.base.errors import DatasetError
from core.data.common import Entry, Totals, bad_line, build_index, check_root, first_token_split, read_lines
from core.data.records import VALIDATION, DatasetIndex, ImageRecord

KIND = "aircraft"
TOTALS = Totals(classes=100, train=6667, test=3333)
BANNER_PIXELS = 20  # the copyright banner at the bottom of every image; the official protocol crops it
LAYOUT = (
    "ROOT (the fgvc-aircraft-2013b folder, or its data/ folder) holds data/variants.txt (one variant name a "
    "line; the order defines the labels), data/images_variant_trainval.txt (train = database) and "
    "data/images_variant_test.txt (test = queries), lines '<image id> <variant name>' split at the first "
    "space (names contain spaces and '/', e.g. 'F/A-18'), and data/images/<image id>.jpg. "
    "Official totals: 100 variants, 6,667 trainval, 3,333 test. The 20-pixel banner at the bottom of each "
    "image is cropped unless crop_banner=False."
)
SPLIT_FILES = (("train", "images_variant_trainval.txt"), ("test", "images_variant_test.txt"))


def official_validation(index: DatasetIndex, allow_missing: bool = False) -> tuple[ImageRecord, ...]:
    """The loaded trainval records that data/images_variant_val.txt lists (split "val"), in dataset order:
    the official val half of trainval."""
    path = Path(index.root)
    list_path = (path / "data" if (path / "data").is_dir() else path) / "images_variant_val.txt"
    ids = {pair[0] for _, line in read_lines(list_path, KIND, LAYOUT) if (pair := first_token_split(line))}
    return tuple(replace(r, split=VALIDATION) for r in index.split("train") if Path(r.path).stem in ids)


def load(root: str | Path | None, allow_missing: bool = False, crop_banner: bool = True) -> DatasetIndex:
    path = check_root(root, KIND, LAYOUT)
    data = path / "data" if (path / "data").is_dir() else path
    variants_txt = data / "variants.txt"
    lists = [(split, data / name) for split, name in SPLIT_FILES]
    parsed: list[tuple[str, str, str]] = []  # (image id, variant, split)
    for split, list_path in lists:
        for i, (lineno, line) in enumerate(read_lines(list_path, KIND, LAYOUT)):
            pair = first_token_split(line)
            if pair is None or not pair[0].isdigit():
                if i == 0 and (pair is None or not any(c.isdigit() for c in pair[0])):
                    continue  # a header line such as "Image variant" (seen in re-committed copies)
                raise bad_line(list_path, lineno, line, "'<numeric image id> <variant name>'", KIND, LAYOUT)
            parsed.append((pair[0], pair[1], split))
    used = {variant for _, variant, _ in parsed}
    variants = [line for _, line in read_lines(variants_txt, KIND, LAYOUT)]
    if variants and variants[0] not in used and variants[0].lower() in ("variant", "variants", "name"):
        variants = variants[1:]  # header line added by some copies of the dataset
    label_of: dict[str, int] = {}
    for name in variants:
        if name in label_of:
            raise DatasetError(f"{KIND}: {variants_txt} lists the variant {name!r} twice. Expected layout: {LAYOUT}")
        label_of[name] = len(label_of)
    unknown = sorted(used - set(label_of))
    if unknown:
        raise DatasetError(f"{KIND}: {len(unknown)} variant(s) in the image lists are not in {variants_txt} "
                           f"(for example {unknown[0]!r}). Expected layout: {LAYOUT}")
    entries = [Entry(f"{image_id}.jpg", label_of[variant], split) for image_id, variant, split in parsed]
    return build_index(KIND, path, data / "images", entries, variants, TOTALS, allow_missing, LAYOUT,
                       source=f"{lists[0][1]} and {lists[1][1].name}",
                       crop_bottom=BANNER_PIXELS if crop_banner else 0)
