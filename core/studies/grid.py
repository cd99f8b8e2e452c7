"""The grid of a study: one Cell per dataset x method x bits x seed x sweep values, each with its TrainConfig.

A cell's key names its place in the grid ("cub|FCAENet|12b|seed0|srem_regions=10") and stays the same when
the file changes elsewhere; its config hash (sha256 of the config JSON, options that do not change the
result left out) tells whether a run trained for that key still matches the file.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

from core.base.errors import ConfigError
from core.config.presets import preset_config
from core.config.study_file import NOT_IN_CELL_IDENTITY, StudySpec, check_option_names, merge_options, nested
from core.config.train_config import TrainConfig


@dataclass(frozen=True)
class Cell:
    """One run of the grid. row: the table row it belongs to (method label, with sweep values); column:
    (dataset label, bits); sweep: ((sweep label, value), ...)."""

    key: str
    dataset: str
    method: str  # the method entry's label
    bits: int
    seed: int
    sweep: tuple[tuple[str, Any], ...]
    config: TrainConfig
    config_hash: str

    @property
    def row(self) -> str:
        return self.method + "".join(f", {name}={value}" for name, value in self.sweep)

    @property
    def column(self) -> tuple[str, int]:
        return self.dataset, self.bits


def config_hash(cfg: TrainConfig) -> str:
    """16 hex digits identifying what a cell trains (NOT_IN_CELL_IDENTITY options left out)."""
    data = cfg.to_dict()
    for name in NOT_IN_CELL_IDENTITY:
        data.pop(name, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def expand(spec: StudySpec) -> list[Cell]:
    """Every cell, in table order (dataset, method, sweep values, bits, seed). A value the config refuses is
    a ConfigError naming the method entry (or sweep) it came from."""
    check_option_names(spec.options, "options")
    for index, entry in enumerate(spec.methods):
        check_option_names(entry.options, f"methods[{index}].options")
    for index, sweep in enumerate(spec.sweeps):
        check_option_names(nested(sweep.option, None), f"sweeps[{index}].option", values=False)
    cells = []
    sweep_values = itertools.product(*[[(s.label, s.option, v) for v in s.values] for s in spec.sweeps])
    sweep_values = list(sweep_values)
    for dataset in spec.datasets:
        for index, entry in enumerate(spec.methods):
            for combo in sweep_values:
                for bits in spec.bits:
                    for seed in spec.seeds:
                        options = merge_options(spec.options, entry.options,
                                                *[nested(option, value) for _, option, value in combo])
                        where = f"methods[{index}] ({entry.label})" + "".join(
                            f", {label}={value}" for label, _, value in combo)
                        cfg = _config(entry.preset or spec.preset, entry.method, bits, seed, dataset, options, where)
                        sweep = tuple((label, value) for label, _, value in combo)
                        key = "|".join([dataset.label, entry.label, f"{bits}b", f"seed{seed}",
                                        *[f"{label}={value}" for label, value in sweep]])
                        cells.append(Cell(key, dataset.label, entry.label, bits, seed, sweep, cfg, config_hash(cfg)))
    return cells


def _config(preset: str, method: str, bits: int, seed: int, dataset, options: dict[str, Any],
            where: str) -> TrainConfig:
    top = {k: v for k, v in options.items() if k not in ("adsh", "fcae", "multifus")}
    for key, value in top.items():
        if isinstance(value, list):  # TOML arrays for tuple options (lr_milestones)
            top[key] = tuple(value)
    nested_options = {k: dict(options[k]) for k in ("adsh", "fcae", "multifus") if k in options}
    try:
        cfg = preset_config(preset, method, bits, dataset.kind, dataset_root=dataset.root,
                            allow_missing=dataset.allow_missing, seed=seed, **top, **nested_options)
        # through JSON and back: from_dict checks every value's type (epochs = 2.5, lr = "fast")
        return TrainConfig.from_dict(json.loads(cfg.to_json()))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except TypeError as exc:  # a value of the wrong type that dataclasses.replace let through
        raise ConfigError(f"{where}: {' '.join(str(exc).split())}") from None
