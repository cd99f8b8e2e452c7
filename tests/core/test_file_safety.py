"""Loading weights never executes code from a file (issue 8).

Every malicious file here carries a pickle whose __reduce__ would create a marker file (os.system
"touch", or builtins.open in write mode) while it is unpickled. Each must be refused with a
WeightsError/RunError naming the file and saying it holds code/objects that are not tensors, the marker
must never appear, and the file must be left byte-for-byte as it was. A source audit keeps every
pickle-based read in the one helper (core.models.backbones.load_weights_file).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from core.base.errors import RunError, WeightsError
from core.cli import main
from core.config.train_config import AdshOptions, TrainConfig
from core.models.backbones import build_backbone, hub_weights_path, load_weights_file
from core.runs.catalog import create_run
from core.runs.checkpoint import CHECKPOINT_SCHEMA, _sha256, load_run_model

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _SystemPayload:
    """Unpickling this runs os.system("touch <marker>")."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


class _OpenPayload:
    """Unpickling this runs open(<marker>, "w"), which creates the marker."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def _payload(kind: str, marker: Path):
    return {"system": _SystemPayload, "open": _OpenPayload}[kind](marker)


def _zip_with_evil_data_pkl(path: Path, evil) -> None:
    """A genuine torch zip archive whose data.pkl is replaced by a malicious pickle (protocol 2, like torch's)."""
    good = io.BytesIO()
    torch.save({"weight": torch.zeros(3)}, good)
    good.seek(0)
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("/data.pkl"):
                data = pickle.dumps({"weight": evil}, protocol=2)
            dst.writestr(item, data)


def _write_malicious(path: Path, how: str, payload: str, marker: Path) -> Path:
    """how: torch zip (torch.save), torch legacy (non-zip torch.save), raw pickle, zip with evil data.pkl."""
    obj = {"state_dict": {"conv1.weight": torch.zeros(1)}, "extra": _payload(payload, marker)}
    if how == "torch-zip":
        torch.save(obj, path)
    elif how == "torch-legacy":
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    elif how == "raw-pickle":
        path.write_bytes(pickle.dumps(obj, protocol=2))
    elif how == "zip-data-pkl":
        _zip_with_evil_data_pkl(path, _payload(payload, marker))
    else:
        raise AssertionError(how)
    assert not marker.exists()  # writing the payload must not have triggered it
    return path


def _assert_refused_untouched(exc_info, path: Path, before: bytes, marker: Path) -> None:
    message = str(exc_info.value)
    assert path.name in message, message
    assert "\n" not in message
    assert not marker.exists(), "the pickle's code ran"
    assert path.read_bytes() == before


REFUSAL = r"holds Python code/objects that are not tensors"


@pytest.mark.parametrize("payload", ["system", "open"])
@pytest.mark.parametrize("how,suffix", [("torch-zip", ".pt"), ("torch-legacy", ".pth"), ("raw-pickle", ".pth"),
                                        ("zip-data-pkl", ".pt"), ("torch-zip", ".ckpt")])
def test_malicious_pickle_is_refused_by_the_weights_loader(tmp_path, how, suffix, payload):
    marker = tmp_path / "PWNED"
    path = _write_malicious(tmp_path / f"evil{suffix}", how, payload, marker)
    before = path.read_bytes()
    with pytest.raises(WeightsError, match=REFUSAL) as info:
        load_weights_file(path)
    _assert_refused_untouched(info, path, before, marker)
    with pytest.raises(WeightsError, match=REFUSAL) as info:
        build_backbone("resnet18", str(path))
    _assert_refused_untouched(info, path, before, marker)


def test_tensor_only_pickles_still_load(tmp_path):
    """The refusal is not blanket: plain state dicts (bare or wrapped with an epoch counter) load exactly."""
    torch.manual_seed(3)
    source = build_backbone("resnet18", "none")
    state = {f"backbone.{k}": v for k, v in source.state_dict().items()}
    bare, wrapped = tmp_path / "bare.pth", tmp_path / "wrapped.pt"
    torch.save(state, bare)
    torch.save({"state_dict": state, "epoch": 7, "arch": "resnet18"}, wrapped)
    for path in (bare, wrapped):
        loaded = build_backbone("resnet18", str(path)).state_dict()
        assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items())


def test_cli_train_refuses_malicious_weights(tmp_path, capsys):
    """`fghash train --weights evil.pth`: exit 2, one line naming the file, no code run, no run folder left."""
    from core import engine

    marker = tmp_path / "PWNED"
    path = _write_malicious(tmp_path / "evil.pth", "torch-zip", "system", marker)
    before = path.read_bytes()
    rc = main(["train", "--dataset", "demo", "--method", "adsh", "--bits", "12", "--epochs", "1",
               "--image-size", "32", "--backbone", "resnet18", "--weights", str(path), "--device", "cpu"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "fghash: error:" in line]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "evil.pth" in lines[0] and "not tensors" in lines[0]
    assert not marker.exists() and path.read_bytes() == before
    assert engine.list_runs() == []


def test_engine_train_refuses_malicious_weights(tmp_path):
    from core import engine
    from core.encoding.encode import drain

    marker = tmp_path / "PWNED"
    path = _write_malicious(tmp_path / "epoch-0003.ckpt", "zip-data-pkl", "system", marker)
    before = path.read_bytes()
    cfg = TrainConfig(method="adsh", backbone="resnet18", weights=str(path), bits=12, image_size=32,
                      resize_size=36, epochs=1, device="cpu", adsh=AdshOptions(num_samples=32, inner_epochs=1))
    with pytest.raises(WeightsError, match=REFUSAL) as info:
        drain(engine.train(cfg))
    _assert_refused_untouched(info, path, before, marker)


def test_imagenet_cache_file_goes_through_the_same_refusal(tmp_path, monkeypatch):
    """A poisoned file in the torch hub cache (where torchvision's ImageNet weights live) is refused too."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    cached = hub_weights_path("resnet18")
    cached.parent.mkdir(parents=True)
    marker = tmp_path / "PWNED"
    _write_malicious(cached, "torch-zip", "open", marker)
    before = cached.read_bytes()
    with pytest.raises(WeightsError, match=REFUSAL) as info:
        build_backbone("resnet18", "imagenet")
    _assert_refused_untouched(info, cached, before, marker)


def test_pickle_disguised_as_a_checkpoint_never_runs(tmp_path):
    """A run whose newest checkpoint is a malicious pickle under the .safetensors name, with metadata
    whose checksum matches it: safetensors refuses it without unpickling."""
    cfg = TrainConfig(method="adsh", backbone="resnet18", weights="none", bits=12, device="cpu")
    paths = create_run(cfg)
    marker = tmp_path / "PWNED"
    weights = paths.checkpoints / "epoch-0001.safetensors"
    _write_malicious(weights, "torch-zip", "system", marker)
    meta = {"schema_version": CHECKPOINT_SCHEMA, "method": "adsh", "bits": 12, "backbone": "resnet18", "epoch": 1,
            "config": cfg.to_dict(), "dataset_fingerprint": "x", "num_classes": 10, "driver": {},
            "weights_sha256": _sha256(weights)}
    weights.with_suffix(".json").write_text(json.dumps(meta))
    before = weights.read_bytes()
    with pytest.raises(RunError, match="not a readable safetensors checkpoint") as info:
        load_run_model(paths)
    _assert_refused_untouched(info, weights, before, marker)


def test_codes_file_with_a_pickled_object_is_refused(tmp_path):
    """codes/*.npz are read with allow_pickle=False: an object array inside is an error, not a call."""
    from core.search.codes import load_codes

    cfg = TrainConfig(method="adsh", backbone="resnet18", weights="none", bits=12, device="cpu")
    paths = create_run(cfg)
    marker = tmp_path / "PWNED"
    target = paths.codes / "database.npz"
    payload = np.empty(1, dtype=object)
    payload[0] = _SystemPayload(marker)
    with open(target, "wb") as fh:
        np.savez(fh, format=np.int64(1), bits=np.int64(12), packed=np.zeros((1, 2), np.uint8),
                 labels=np.zeros(1, np.int64), paths=payload, checksum=np.array("x"))
    assert not marker.exists()
    before = target.read_bytes()
    with pytest.raises(RunError, match="database.npz holds pickled Python objects") as info:
        load_codes(paths, "database")
    _assert_refused_untouched(info, target, before, marker)


# A source audit: pickle-based reads appear only inside load_weights_file, always restricted.
_UNSAFE = [
    (re.compile(r"\bpickle\.loads?\(|\bcPickle\b|\bdill\b|\bjoblib\.load\("), "unrestricted unpickling"),
    (re.compile(r"allow_pickle\s*=\s*True"), "np.load(allow_pickle=True)"),
    (re.compile(r"weights_only\s*=\s*False"), "torch.load(weights_only=False)"),
    (re.compile(r"\bpd\.read_pickle\(|\bshelve\.open\("), "pickle-backed reader"),
]


def test_source_audit_every_pickle_read_goes_through_one_helper():
    sources = sorted((REPO / "core").rglob("*.py")) + sorted((REPO / "fghash_gui").rglob("*.py"))
    assert len(sources) > 20
    torch_loads, problems = [], []
    for source in sources:
        text = source.read_text(encoding="utf-8")
        rel = source.relative_to(REPO).as_posix()
        for pattern, why in _UNSAFE:
            for m in pattern.finditer(text):
                problems.append(f"{rel}: {why}: {m.group(0)}")
        for m in re.finditer(r"(?<!`)\btorch\.load\(([^)]*)\)", text):  # not in ``docs``
            torch_loads.append((rel, m.group(1)))
        for m in re.finditer(r"\bnp\.load\(([^)]*)\)", text):
            if "allow_pickle=False" not in m.group(1):
                problems.append(f"{rel}: np.load without allow_pickle=False")
        if "load_state_dict_from_url" in text:
            problems.append(f"{rel}: torch.hub.load_state_dict_from_url bypasses load_weights_file")
    assert problems == []
    assert torch_loads == [("core/models/backbones.py", 'stream, map_location="cpu", weights_only=True')]


def _weights_variant(tmp_path: Path, kind: str) -> Path:
    """Broken or foreign weights files a user might pass with --weights."""
    state = build_backbone("resnet18", "none").state_dict()
    if kind == "missing":
        return tmp_path / "nowhere.pth"
    if kind == "unknown-suffix":
        path = tmp_path / "weights.tar"
        torch.save(state, path)
        return path
    if kind in ("truncated-safetensors", "truncated-pth"):
        from safetensors.torch import save_file

        path = tmp_path / ("w.safetensors" if kind == "truncated-safetensors" else "w.pth")
        save_file(state, str(path)) if path.suffix == ".safetensors" else torch.save(state, path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        return path
    if kind == "not-a-state-dict":
        path = tmp_path / "numbers.pt"
        torch.save({"epoch": 3, "lr": 0.1}, path)
        return path
    if kind == "other-architecture":
        path = tmp_path / "resnet34.pth"
        torch.save(build_backbone("resnet34", "none").state_dict(), path)
        return path
    raise AssertionError(kind)


@pytest.mark.parametrize("kind,expected", [
    ("missing", "does not exist"), ("unknown-suffix", "unknown weights format '.tar'"),
    ("truncated-safetensors", "not a readable safetensors file"), ("truncated-pth", "not a readable PyTorch weights file"),
    ("not-a-state-dict", "does not hold a state dict"), ("other-architecture", "does not match a torchvision resnet18"),
])
def test_bad_weights_files_give_one_line_errors_naming_them(tmp_path, kind, expected):
    path = _weights_variant(tmp_path, kind)
    before = path.read_bytes() if path.exists() else None
    with pytest.raises(WeightsError, match=re.escape(expected)) as info:
        build_backbone("resnet18", str(path))
    assert path.name in str(info.value) and "\n" not in str(info.value)
    assert (path.read_bytes() if path.exists() else None) == before
