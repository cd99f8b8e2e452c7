"""Checkpoints: `checkpoints/epoch-NNNN.safetensors` (all tensors) + `epoch-NNNN.json` (metadata).

The tensors hold the method state (weights under "model.", optimiser, scheduler, method state such as
ADSH's V) and the RNG states ("rng.*"). The JSON holds schema version, method, bits, backbone, epoch,
the full config, the dataset fingerprint, the driver's state (final test mAP; the epoch selected on the
validation split) and the weights file's sha256. Both are written atomically, the JSON last: a checkpoint
without its JSON is incomplete and ignored (RunPaths.last_checkpoint). Only the newest KEEP_LAST
checkpoints are kept, plus the one selected on the validation split.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.base.atomic import atomic_write, atomic_write_json
from core.config.train_config import TrainConfig
from core.data.records import DatasetIndex
from core.base.errors import RunError, one_line
from core.base.safe_read import MAX_JSON_BYTES, MAX_WEIGHTS_BYTES, open_regular, read_regular
from core.base.state_pack import SKELETON, pack_state, select, unpack_state

CHECKPOINT_SCHEMA = 1
KEEP_LAST = 2


def dataset_fingerprint(dataset: DatasetIndex) -> str:
    """sha256 (16 hex) over kind, class names and every record's path (relative to the dataset root,
    so moving the dataset folder keeps it), label and split, in order."""
    h = hashlib.sha256()
    h.update(json.dumps([dataset.kind, list(dataset.class_names)]).encode())
    root = Path(dataset.root) if dataset.root else None
    for r in dataset.records:
        path = Path(r.path)
        if root is not None and path.is_relative_to(root):
            path = path.relative_to(root)
        h.update(f"\n{path.as_posix()}\t{r.label}\t{r.split}".encode())
    return h.hexdigest()[:16]


def rng_state_tensors() -> dict[str, torch.Tensor]:
    """torch CPU (+ every CUDA device once initialised), numpy legacy and python `random` states."""
    out = {"rng.torch": torch.get_rng_state().clone()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            out[f"rng.cuda.{i}"] = state.clone()
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    out.update(pack_state("rng.numpy", (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss)))
    out.update(pack_state("rng.python", random.getstate()))
    return out


def restore_rng(tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda][: torch.cuda.device_count()])
    name, keys, pos, has_gauss, gauss = unpack_state("rng.numpy", tensors)
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = unpack_state("rng.python", tensors)
    random.setstate((version, tuple(internal), gauss_next))


def save_checkpoint(run_paths, epoch: int, cfg: TrainConfig, tensors: dict[str, torch.Tensor], *,
                    num_classes: int, fingerprint: str, driver: dict[str, Any],
                    keep_epochs: tuple[int, ...] = ()) -> Path:
    """Write epoch `epoch` (weights then metadata, atomically), prune old ones; returns the weights path.

    Pruning keeps the newest KEEP_LAST checkpoints and those of `keep_epochs` (the epoch selected on the
    validation split, so the test mAP reported for it can be reproduced from its weights)."""
    weights = write_checkpoint(run_paths.checkpoints / f"epoch-{epoch:04d}", epoch, cfg, tensors,
                               num_classes=num_classes, fingerprint=fingerprint, driver=driver)
    _prune(run_paths.checkpoints, keep_epochs)
    return weights


def write_checkpoint(stem: Path, epoch: int, cfg: TrainConfig, tensors: dict[str, torch.Tensor], *,
                     num_classes: int, fingerprint: str, driver: dict[str, Any], extra: dict[str, Any] | None = None,
                     ) -> Path:
    """`stem`.safetensors (the tensors and the RNG states) then `stem`.json (the metadata, with `extra`
    merged in), both atomically; returns the weights path. epoch: the epochs completed."""
    from safetensors.torch import save_file

    weights = stem.with_suffix(".safetensors")
    payload = {**tensors, **rng_state_tensors()}
    payload = {k: v.detach().cpu().contiguous() for k, v in payload.items()}
    atomic_write(weights, lambda tmp: save_file(payload, str(tmp)))
    meta = {
        "schema_version": CHECKPOINT_SCHEMA, "method": cfg.method, "bits": cfg.bits, "backbone": cfg.backbone,
        "epoch": epoch, "config": cfg.to_dict(), "dataset_fingerprint": fingerprint,
        "num_classes": num_classes, "driver": driver, "weights_sha256": _sha256(weights),
        "torch_version": torch.__version__, **(extra or {}),
    }
    atomic_write_json(stem.with_suffix(".json"), meta)
    return weights


# Metadata fields every checkpoint JSON carries, with their JSON types (validated before use).
_META_FIELDS = {"schema_version": int, "method": str, "bits": int, "backbone": str, "epoch": int,
                "num_classes": int, "weights_sha256": str}
_KIND_NAMES = {int: "an integer", str: "a string"}
MAX_EPOCH = 10**6  # far above any real run; keeps the number inside SQLite's 64-bit integers


def read_checkpoint_meta(weights: Path) -> dict:
    """The metadata JSON next to `weights`, validated (schema version, field types). Raises RunError."""
    meta_path = weights.with_suffix(".json")
    if not meta_path.exists():
        raise RunError(f"checkpoint metadata {meta_path} is missing: {weights.name} is incomplete (a crash "
                       f"before its metadata was written) or was copied without it")
    try:
        meta = json.loads(read_regular(meta_path, what="checkpoint metadata", limit=MAX_JSON_BYTES,
                                       error=RunError).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RunError(f"checkpoint metadata {meta_path} is unreadable ({exc}); expected the JSON that fghash "
                       f"writes next to {weights.name}") from None
    if not isinstance(meta, dict):
        raise RunError(f"checkpoint metadata {meta_path} holds a JSON {type(meta).__name__}, expected an object")
    version = meta.get("schema_version")
    if isinstance(version, int) and version > CHECKPOINT_SCHEMA:
        raise RunError(f"{meta_path}: checkpoint schema {version} was written by a newer fghash; this fghash "
                       f"reads schema {CHECKPOINT_SCHEMA} (update fghash to open this run)")
    if version != CHECKPOINT_SCHEMA:
        raise RunError(f"{meta_path}: checkpoint schema {version!r} is not supported "
                       f"(this fghash reads schema {CHECKPOINT_SCHEMA})")
    for key, kind in _META_FIELDS.items():
        value = meta.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise RunError(f"{meta_path}: field {key!r} is {value!r}, expected {_KIND_NAMES[kind]}; the "
                           f"metadata is damaged or not an fghash checkpoint")
    if not isinstance(meta.get("driver", {}), dict):
        raise RunError(f"{meta_path}: field 'driver' must be an object")
    if not 0 <= meta["epoch"] <= MAX_EPOCH:
        raise RunError(f"{meta_path}: field 'epoch' is {meta['epoch']}, outside 0..{MAX_EPOCH}; the metadata is "
                       f"damaged or was edited")
    return meta


def read_checkpoint(weights: Path, cfg: TrainConfig | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """Load a checkpoint's tensors and metadata, checking they belong to `cfg` (method, bits, backbone).

    Raises RunError naming the file for: missing/unreadable/foreign metadata, an unknown schema, another
    method/bit length/backbone, a checksum mismatch (truncated or replaced weights), an unreadable
    safetensors file, or missing tensor groups. safetensors never runs code; nothing is written."""
    from safetensors.torch import load as load_safetensors

    weights = Path(weights)
    meta = read_checkpoint_meta(weights)
    meta_path = weights.with_suffix(".json")
    if cfg is not None:
        for key in ("method", "bits", "backbone"):
            if meta.get(key) != getattr(cfg, key):
                raise RunError(f"{weights} was saved by a run with method {meta.get('method')}, {meta.get('bits')} "
                               f"bits, backbone {meta.get('backbone')}; this run has method {cfg.method}, {cfg.bits} "
                               f"bits, backbone {cfg.backbone} ({key} differs)")
    if not weights.exists():
        raise RunError(f"{weights} is missing: its metadata {meta_path.name} exists but the weights do not")
    # The bytes checked against the checksum are the bytes parsed (one bounded read of a regular file).
    data = read_regular(weights, what="checkpoint", limit=MAX_WEIGHTS_BYTES, error=RunError)
    if hashlib.sha256(data).hexdigest() != meta["weights_sha256"]:
        raise RunError(f"{weights} does not match the checksum in {meta_path.name}: the file is truncated, "
                       f"corrupt or replaced")
    try:
        tensors = load_safetensors(data)
    except Exception as exc:  # safetensors raises its own error types for torn/foreign files
        raise RunError(f"{weights} is not a readable safetensors checkpoint: {one_line(exc, 300)}") from None
    missing = [group for group in ("model.", "rng.torch", "rng.numpy.", "rng.python.")
               if not any(k.startswith(group) for k in tensors)]
    if missing:
        raise RunError(f"{weights} lacks the tensors {', '.join(missing)} that every fghash checkpoint holds")
    for key in [k for k in tensors if k.endswith("." + SKELETON)]:  # optimiser, scheduler, RNG states
        prefix = key[: -len(SKELETON) - 1]
        try:
            unpack_state(prefix, tensors)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:  # JSON/UTF-8 errors are ValueErrors
            raise RunError(f"{weights}: its packed state {prefix!r} is damaged ({type(exc).__name__}: "
                           f"{one_line(exc, 300)}); the file was not written by this fghash") from None
    return tensors, meta


def require_checkpoint(run_paths) -> Path:
    """The run's newest complete checkpoint; RunError saying what is there when there is none."""
    weights = run_paths.last_checkpoint()
    if weights is None:
        orphans = sorted(p.name for p in Path(run_paths.checkpoints).glob("epoch-*.safetensors"))
        why = (f"{', '.join(orphans)} without metadata (.json); incomplete" if orphans
               else "no checkpoints/epoch-*.safetensors + .json")
        raise RunError(f"run {run_paths.root} has no complete checkpoint ({why})")
    return weights


def load_run_model(run_paths, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, TrainConfig]:
    """The network of a run's newest checkpoint, in eval mode on `device`, and the run's config."""
    from core.models.factory import build_model

    cfg = run_paths.load_config()
    weights = require_checkpoint(run_paths)
    tensors, meta = read_checkpoint(weights, cfg)
    model = build_model(cfg, int(meta["num_classes"]), weights="none")
    try:
        model.load_state_dict(select("model", tensors), strict=True)
    except RuntimeError as exc:
        raise RunError(f"{weights} does not fit a {cfg.method} {cfg.backbone} network: "
                       f"{one_line(exc, 300)}") from None
    return model.to(torch.device(device)).eval(), cfg


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open_regular(path, what="checkpoint", limit=MAX_WEIGHTS_BYTES, error=RunError) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _prune(folder: Path, keep_epochs: tuple[int, ...] = ()) -> None:
    metas = sorted(folder.glob("epoch-*.json"))
    kept = {f"epoch-{e:04d}.json" for e in keep_epochs}
    for meta in [m for m in metas[:-KEEP_LAST] if m.name not in kept]:
        meta.unlink(missing_ok=True)  # metadata first: a half-pruned checkpoint is never "complete"
        meta.with_suffix(".safetensors").unlink(missing_ok=True)
    for orphan in folder.glob("epoch-*.safetensors"):
        if not orphan.with_suffix(".json").exists() and orphan.stat().st_mtime < _newest(folder):
            orphan.unlink(missing_ok=True)  # weights of a crash before their metadata was written


def _newest(folder: Path) -> float:
    metas = list(folder.glob("epoch-*.json"))
    return max((m.stat().st_mtime for m in metas), default=0.0)
