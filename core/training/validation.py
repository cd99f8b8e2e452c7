"""The validation split for model selection, never the test split.

Without validation (TrainConfig.validation = "none", the default) a run reports the final model on the test
queries, as the FCAENet protocol does (a fixed schedule). With it, the driver evaluates the validation images
as queries against the REST of the training split as database after every evaluation, and reports the epoch
with the best validation mAP@all together with that epoch's test mAP@all. The validation images are taken
out of the training split before the method is built, so the network never trains on them and they are not
in the database: ADSH / FCAENet learn database codes V for the rest only, and those V rows are the database
of both evaluations (validation and test), exactly as the test evaluation uses V.

Where the validation images come from:
  "official": the dataset's own validation list (Flowers `valid`, Aircraft `val`: both part of the default
              training split and taken out of it; VegFru `val`: a separate list, the training split is kept);
  "fraction": a stratified, seeded fraction of the training split: round(val_fraction * n_c) images of each
              class c (at least 1 where the class has 2 or more images, always leaving 1 to train on), drawn
              with numpy's default_rng((seed, 0x7A1)) so the split depends only on the run's seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from core.base.errors import DatasetError
from core.config.train_config import TrainConfig
from core.data.records import VALIDATION, DatasetIndex, ImageRecord

_SPLIT_STREAM = 0x7A1  # second seed word: the validation draw never shares a stream with training


@dataclass(frozen=True)
class ValidationSplit:
    """Validation queries (split "val", dataset order) and a phrase saying where they come from."""

    records: tuple[ImageRecord, ...]
    source: str


def split_for_validation(dataset: DatasetIndex, cfg: TrainConfig,
                         ) -> tuple[DatasetIndex, ValidationSplit | None]:
    """(the dataset the method trains on, the validation split or None).

    The returned dataset equals `dataset` without validation; with it, its training split lacks the validation
    images (the test split is untouched). ConfigError / DatasetError when no usable split can be made."""
    if cfg.validation == "none":
        return dataset, None
    train = dataset.split("train")
    if cfg.validation == "official":
        from core.data.registry import official_validation

        val = official_validation(dataset, allow_missing=cfg.allow_missing)
        source = f"the official validation split of {dataset.kind}"
    else:
        val = _stratified_fraction(train, cfg.val_fraction, cfg.seed)
        source = f"{cfg.val_fraction:g} of the training split per class (seed {cfg.seed})"
    if not val:
        raise DatasetError(f"the {cfg.validation} validation split of {dataset.kind} at {dataset.root} holds no "
                           f"images that are present")
    val_paths = {r.path for r in val}
    clashes = [r.path for r in dataset.split("test") if r.path in val_paths]
    if clashes:
        raise DatasetError(f"{len(clashes)} validation image(s) are also test queries (e.g. {clashes[0]}): the "
                           f"validation list of {dataset.kind} overlaps its test list")
    rest = tuple(r for r in dataset.records if not (r.split == "train" and r.path in val_paths))
    if not any(r.split == "train" for r in rest):
        raise DatasetError(f"taking the {len(val)} validation images out of the training split of {dataset.kind} "
                           f"leaves no image to train on")
    taken = len(dataset.records) - len(rest)
    source += (f": {len(val)} images, taken out of the {len(train)} training images" if taken
               else f": {len(val)} images, the {len(train)} training images unchanged")
    return dataclasses.replace(dataset, records=rest), ValidationSplit(val, source)


def fingerprint_view(trained_on: DatasetIndex, validation: ValidationSplit | None) -> DatasetIndex:
    """The dataset as a run sees it, for core.runs.checkpoint.dataset_fingerprint: the training view plus the
    validation queries (so a changed validation list is caught on resume). Without validation, the dataset
    itself (fingerprints of existing runs stay valid)."""
    if validation is None:
        return trained_on
    return dataclasses.replace(trained_on, records=trained_on.records + validation.records)


def _stratified_fraction(train: tuple[ImageRecord, ...], fraction: float, seed: int) -> tuple[ImageRecord, ...]:
    rng = np.random.default_rng((seed % 2 ** 32, _SPLIT_STREAM))
    by_class: dict[int, list[int]] = {}
    for i, r in enumerate(train):
        by_class.setdefault(r.label, []).append(i)
    chosen: set[int] = set()
    for label in sorted(by_class):
        members = by_class[label]
        if len(members) < 2:
            continue  # a single image must stay in training: its class would vanish from the database
        count = min(max(1, round(fraction * len(members))), len(members) - 1)
        chosen.update(members[j] for j in rng.permutation(len(members))[:count].tolist())
    return tuple(dataclasses.replace(train[i], split=VALIDATION) for i in sorted(chosen))
