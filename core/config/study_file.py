"""Study files: a paper's experiment grid as TOML (read with tomllib), validated with one-line errors.

    id = "fcaenet-table2"            # [a-z0-9_-], names the study in the store
    title = "FCAENet Table 2"        # optional
    preset = "paper"                 # core.config.presets.PRESETS; a method may set its own
    bits = [12, 24, 32, 48]
    seeds = [0, 1, 2]
    [options]                        # TrainConfig options for every cell (nested: fcae.alpha = 1.0)
    [[datasets]]                     # kind, root (not for demo), allow_missing, label (default: kind)
    [[methods]]                      # method, label (default: method), preset, [methods.options]
    [[sweeps]]                       # option = "fcae.srem_regions", values = [10, 50, 100, 150]
    [slurm]                          # executor defaults: partition, time_min, gpus_per_task, ...

The grid of cells is datasets x methods x bits x seeds x every sweep's values. Options are merged study <
method < sweep. Reading checks the file's structure; option names, values and method names are checked
when the grid is expanded into TrainConfigs (core/studies/grid.py, the same one-line errors naming the key),
so a file may name methods or options that a newer fghash provides and still be listed here.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.base.errors import ConfigError
from core.base.safe_read import MAX_JSON_BYTES, read_regular
from core.config.presets import PRESETS
from core.config.train_config import TrainConfig

STUDY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TOP_KEYS = {"id", "title", "preset", "bits", "seeds", "options", "datasets", "methods", "sweeps", "slurm",
             "reference"}
_DATASET_KEYS = {"kind", "root", "allow_missing", "label"}
_METHOD_KEYS = {"method", "label", "preset", "options"}
_SWEEP_KEYS = {"option", "values", "label"}
# Options a cell's key and config hash leave out: they change where and how fast a cell trains, not its result
# (compile_step: the compiled step equals eager, tests/core/test_compile_step.py; leaving it out also keeps
# the cells of studies run before it existed).
NOT_IN_CELL_IDENTITY = ("num_workers", "compile_step")
# The [slurm] table: what submitit's executor takes (core/studies/executors.py names them).
SLURM_KEYS = {"partition": str, "time_min": int, "gpus_per_task": int, "cpus_per_task": int, "mem_gb": int,
              "max_parallel": int, "account": str, "qos": str, "constraint": str, "setup": list}


@dataclass(frozen=True)
class DatasetEntry:
    kind: str
    root: str | None = None
    allow_missing: bool = False
    label: str = ""  # shown in tables and cell keys; default the kind


@dataclass(frozen=True)
class MethodEntry:
    """One table row: a method with option overrides, e.g. label "FCAENet w/o SREM", options {fcae: {use_srem: false}}."""

    method: str
    label: str
    preset: str | None = None  # None: the study's
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sweep:
    """One config option varied over values; option is dotted ("fcae.srem_regions", "lr")."""

    option: str
    values: tuple[Any, ...]
    label: str = ""  # short name in cell keys and tables; default the option's last part


@dataclass(frozen=True)
class StudySpec:
    study_id: str
    title: str
    preset: str
    bits: tuple[int, ...]
    seeds: tuple[int, ...]
    datasets: tuple[DatasetEntry, ...]
    methods: tuple[MethodEntry, ...]
    options: dict[str, Any] = field(default_factory=dict)
    sweeps: tuple[Sweep, ...] = ()
    slurm: dict[str, Any] = field(default_factory=dict)
    reference: str | None = None  # the method label the significance tests compare against by default
    source: str = ""  # the file's text (the study folder keeps a copy: the grid it was run with)


def load_study(path: str | Path) -> StudySpec:
    """Read and validate a study file; ConfigError "FILE: key: problem" (one line) when it is not valid."""
    path = Path(path)
    raw = read_regular(path, what="study file", limit=MAX_JSON_BYTES, error=ConfigError)
    try:
        return parse_study(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def parse_study(text: str) -> StudySpec:
    """A StudySpec from TOML text; ConfigError "key: problem" for the first invalid entry."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from None
    _no_unknown(data, _TOP_KEYS, "")
    study_id = _get(data, "id", str, "")
    if not STUDY_ID.match(study_id):
        raise ConfigError(f"id: must be 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or "
                          f"digit; got {study_id!r}")
    preset = _get(data, "preset", str, "", default="paper")
    _check_preset(preset, "preset")
    bits = _int_list(data, "bits", "", low=4, high=256)
    seeds = _int_list(data, "seeds", "", low=0, high=2 ** 63 - 1, default=[0])
    options = _table(data.get("options", {}), "options")
    datasets = tuple(_dataset(entry, f"datasets[{i}]") for i, entry in enumerate(_tables(data, "datasets")))
    methods = tuple(_method(entry, f"methods[{i}]") for i, entry in enumerate(_tables(data, "methods")))
    sweeps = tuple(_sweep(entry, f"sweeps[{i}]") for i, entry in enumerate(_tables(data, "sweeps", required=False)))
    for what, labels in (("datasets", [d.label for d in datasets]), ("methods", [m.label for m in methods]),
                         ("sweeps", [s.label for s in sweeps])):
        twice = sorted({x for x in labels if labels.count(x) > 1})
        if twice:
            raise ConfigError(f"{what}: label {twice[0]!r} is used twice; give each entry its own label")
    slurm = _slurm(data.get("slurm", {}))
    reference = _get(data, "reference", str, "", default=None)
    if reference is not None and reference not in {m.label for m in methods}:
        raise ConfigError(f"reference: {reference!r} is not a method label of this study")
    return StudySpec(study_id, _get(data, "title", str, "", default=study_id), preset, tuple(bits), tuple(seeds),
                     datasets, methods, options, sweeps, slurm, reference, text)


def nested(option: str, value: Any) -> dict[str, Any]:
    """"fcae.srem_regions", 10 -> {"fcae": {"srem_regions": 10}}."""
    head, _, rest = option.partition(".")
    return {head: nested(rest, value)} if rest else {head: value}


def merge_options(*layers: dict[str, Any]) -> dict[str, Any]:
    """Later layers win; nested tables (adsh, fcae, multifus) merge key by key."""
    out: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge_options(out[key], value)
            else:
                out[key] = value
    return out


# ---- validation helpers --------------------------------------------------------------------------------
def _where(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _no_unknown(table: dict, allowed: set[str], prefix: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{_where(prefix, unknown[0])}: unknown key; expected one of {', '.join(sorted(allowed))}")


_MISSING = object()


def _get(table: dict, key: str, kind: type, prefix: str, default: Any = _MISSING) -> Any:
    if key not in table:
        if default is _MISSING:
            raise ConfigError(f"{_where(prefix, key)}: missing")
        return default
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{_where(prefix, key)}: must be {_type_name(kind)}; got {value!r}")
    return value


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "a table"}.get(
        kind, kind.__name__)


def _int_list(table: dict, key: str, prefix: str, low: int, high: int, default: Any = _MISSING) -> list[int]:
    values = _get(table, key, list, prefix, default)
    if not values:
        raise ConfigError(f"{_where(prefix, key)}: must list at least one value")
    for i, value in enumerate(values):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(f"{_where(prefix, key)}[{i}]: must be an integer in {low}..{high}; got {value!r}")
    if len(set(values)) != len(values):
        raise ConfigError(f"{_where(prefix, key)}: lists a value twice")
    return list(values)


def _tables(data: dict, key: str, required: bool = True) -> list[dict]:
    entries = data.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{key}: must be an array of tables ([[{key}]])")
    if required and not entries:
        raise ConfigError(f"{key}: missing (give at least one [[{key}]] table)")
    return entries


def _check_preset(preset: str, where: str) -> None:
    if preset not in PRESETS:
        raise ConfigError(f"{where}: must be one of {', '.join(PRESETS)}; got {preset!r}")


def _label(entry: dict, default: str, prefix: str) -> str:
    label = _get(entry, "label", str, prefix, default=default)
    if not label.strip() or "|" in label:
        raise ConfigError(f"{_where(prefix, 'label')}: must be non-empty and must not contain '|'; got {label!r}")
    return label


def _dataset(entry: dict, prefix: str) -> DatasetEntry:
    _no_unknown(entry, _DATASET_KEYS, prefix)
    kind = _get(entry, "kind", str, prefix)
    root = _get(entry, "root", str, prefix, default=None)
    if kind != "demo" and not root:
        raise ConfigError(f"{_where(prefix, 'root')}: missing (every dataset but demo needs its folder)")
    return DatasetEntry(kind, root, _get(entry, "allow_missing", bool, prefix, default=False),
                        _label(entry, kind, prefix))


def _method(entry: dict, prefix: str) -> MethodEntry:
    _no_unknown(entry, _METHOD_KEYS, prefix)
    method = _get(entry, "method", str, prefix)
    preset = _get(entry, "preset", str, prefix, default=None)
    if preset is not None:
        _check_preset(preset, _where(prefix, "preset"))
    return MethodEntry(method, _label(entry, method, prefix), preset,
                       _table(entry.get("options", {}), _where(prefix, "options")))


def _sweep(entry: dict, prefix: str) -> Sweep:
    _no_unknown(entry, _SWEEP_KEYS, prefix)
    option = _get(entry, "option", str, prefix)
    if not re.match(r"^[a-z_]+(\.[a-z_]+)?$", option):
        raise ConfigError(f"{_where(prefix, 'option')}: must be an option name like lr or fcae.srem_regions; "
                          f"got {option!r}")
    values = _get(entry, "values", list, prefix)
    if not values:
        raise ConfigError(f"{_where(prefix, 'values')}: must list at least one value")
    if option in ("bits", "seed", "method", "dataset_kind", "dataset_root"):
        raise ConfigError(f"{_where(prefix, 'option')}: {option} is set by the study's own keys, not a sweep")
    return Sweep(option, tuple(values), _label(entry, option.rsplit(".", 1)[-1], prefix))


_GRID_FIELDS = ("method", "bits", "seed", "dataset_kind", "dataset_root", "allow_missing", "schema_version")


def _table(table: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{prefix}: must be a table")
    return dict(table)


def check_option_names(table: dict[str, Any], prefix: str, values: bool = True) -> None:
    """Option names against TrainConfig's fields (nested blocks one level deep): ConfigError "PREFIX.name:
    ...". Checked when the grid is expanded, not when the file is read, so that a file naming an option a
    newer fghash adds still opens (and lists) here."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    for key, value in table.items():
        where = f"{prefix}.{key}"
        if key not in fields:
            raise ConfigError(f"{where}: unknown training option")
        if key in _GRID_FIELDS:
            raise ConfigError(f"{where}: set by the study's datasets, methods, bits and seeds, not as an option")
        default = fields[key].default_factory() if fields[key].default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: must be a table of {key} options")
            inner = {f.name for f in dataclasses.fields(default)}
            for name in value:
                if name not in inner:
                    raise ConfigError(f"{where}.{name}: unknown {key} option")
        elif values and isinstance(value, dict):
            raise ConfigError(f"{where}: must be a value, not a table")


def _slurm(table: Any) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError("slurm: must be a table")
    _no_unknown(table, set(SLURM_KEYS), "slurm")
    for key, value in table.items():
        _get(table, key, SLURM_KEYS[key], "slurm")
        if SLURM_KEYS[key] is int and value < 1:
            raise ConfigError(f"slurm.{key}: must be >= 1; got {value}")
    return dict(table)
