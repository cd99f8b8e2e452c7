"""Every file fghash reads is versioned and validated (issue 8).

One tiny ADSH run is trained per module (demo data, ResNet-18 from random init, 32 px, 1 epoch, 1 torch
thread) with its index built. Each test hard-links that run folder into its own FGHASH_HOME, damages
one file (always by writing a NEW file in its place, so the shared original stays intact), then drives
the entry points users hit: engine.query / evaluate / build_index / explain / session and the CLI's
`fghash query`, `fghash eval`, `fghash train --resume`. Each must fail with a FghashError whose one-line
message names the damaged file and what was expected (the CLI: exit code 2, one `fghash: error:` line,
no traceback), and every file of the run must keep its bytes and mtime.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from tiny_run import linked_copy, trained_once  # pytest puts tests/core on sys.path

from core import engine
from core.base.errors import FghashError
from core.cli import main
from core.encoding.encode import drain
from core.models.factory import build_model
from core.retrieval.session import forget_session
from core.runs.checkpoint import save_checkpoint
from core.runs.lock import LOCK_NAME
from core.runs.paths import RunPaths
from core.search.codes import load_codes, save_codes
from core.search.index import HammingIndex

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@dataclass(frozen=True)
class Trained:
    paths: RunPaths  # the pristine run (never modified)
    foreign_24bit: Path  # a 24-bit ADSH checkpoint (weights + metadata) from another run
    foreign_fcaenet: Path  # a 12-bit FCAENet checkpoint from another run
    image: Path  # an image outside the dataset (queries with it need the network)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trained:
    with trained_once(tmp_path_factory, "validation_home") as (paths, home, cfg):
        foreign = {}
        for name, other in (("bits", cfg.replace(bits=24)), ("method", cfg.replace(method="fcaenet"))):
            scratch = RunPaths(home / f"foreign-{name}")
            scratch.checkpoints.mkdir(parents=True)
            model = build_model(other, 10, weights="none")
            foreign[name] = save_checkpoint(scratch, 1, other, {f"model.{k}": v for k, v in model.state_dict().items()},
                                            num_classes=10, fingerprint="other", driver={})
        image = home / "outside.png"
        shutil.copyfile(load_codes(paths, "query").paths[0], image)
    return Trained(paths, foreign["bits"], foreign["method"], image)


@pytest.fixture
def run(trained, fghash_home) -> RunPaths:
    """A hard-linked copy of the trained run in this test's FGHASH_HOME, registered in its store."""
    with linked_copy(trained.paths, fghash_home) as copy:
        yield copy
    from core.explain.api import clear_cache

    clear_cache()


def _replace(path: Path, data: bytes) -> None:
    """Write a new file at `path` (never through the hard link shared with the pristine run)."""
    path.unlink(missing_ok=True)
    path.write_bytes(data)


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file of the run, except the training lock (core/runs/lock.py): a resume
    takes it, writing its pid, before it reads the files it then refuses; the lock holds no run data."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != LOCK_NAME}


def _checkpoint(run: RunPaths) -> Path:
    return sorted(run.checkpoints.glob("epoch-*.safetensors"))[-1]


def _edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    _replace(path, json.dumps(data).encode())


# -- damage ---------------------------------------------------------------------------------------
def _copy_foreign(which):
    def damage(run, trained):
        src = getattr(trained, which)
        for suffix in (".safetensors", ".json"):  # as epoch 9: the newest checkpoint of the run
            shutil.copyfile(src.with_suffix(suffix), run.checkpoints / f"epoch-0009{suffix}")
    return damage


def _truncate(path_of, keep=0.5):
    def damage(run, trained):
        path = path_of(run)
        data = path.read_bytes()
        _replace(path, data[: int(len(data) * keep)])
    return damage


def _garbage(path_of):
    def damage(run, trained):
        _replace(path_of(run), bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)))
    return damage


def _remove(*paths_of):
    def damage(run, trained):
        for path_of in paths_of:
            for path in path_of(run):
                path.unlink()
    return damage


def _other_bit_codes(run, trained):
    q = load_codes(run, "query")
    rng = np.random.default_rng(0)
    (run.codes / "query.npz").unlink()
    save_codes(run, "query", rng.choice([-1, 1], size=(len(q), 24)), q.labels, q.paths)


def _rewrite_codes(**changes):
    """Re-save database.npz with some fields changed but the stored checksum kept (a consistent zip)."""
    def damage(run, trained):
        target = run.codes / "database.npz"
        with np.load(target) as data:
            fields = dict(data)
        for name, change in changes.items():
            fields[name] = change(fields[name])
        target.unlink()
        with open(target, "wb") as fh:
            np.savez(fh, **fields)
    return damage


def _flip_label(labels):
    labels = labels.copy()
    labels[0] = (labels[0] + 1) % 10
    return labels


def _bitflip_codes(run, trained):
    target = run.codes / "database.npz"
    data = bytearray(target.read_bytes())
    data[len(data) // 3] ^= 0xFF
    _replace(target, bytes(data))


def _forged_checkpoint(drop):
    """The checkpoint re-saved without the tensor `drop`, its metadata checksum recomputed to match: a
    consistent-looking file that is not what fghash wrote (hand-edited or from a broken tool)."""
    def damage(run, trained):
        from safetensors.torch import load_file, save_file

        from core.runs.checkpoint import _sha256

        weights = _checkpoint(run)
        tensors = load_file(str(weights))
        del tensors[drop]
        weights.unlink()
        save_file(tensors, str(weights))
        _edit_json(weights.with_suffix(".json"), weights_sha256=_sha256(weights))
    return damage


def _forged_index(run, trained):
    """An index of only 5 codes whose header claims the current database codes as its source."""
    db = load_codes(run, "database")
    run.index.unlink()
    HammingIndex.from_packed(db.packed[:5], db.bits, use_gpu=False).save(run.index, source_checksum=db.checksum)


CKPT = _checkpoint
META = lambda run: _checkpoint(run).with_suffix(".json")  # noqa: E731
DB = lambda run: run.codes / "database.npz"  # noqa: E731
QUERY = lambda run: run.codes / "query.npz"  # noqa: E731
INDEX = lambda run: run.index  # noqa: E731
CONFIG = lambda run: run.config  # noqa: E731

# entry points (each gets the run and the Trained fixture); the message must name the damaged file
ENTRY = {
    "query-image": lambda run, t: engine.query(t.image, run, k=3),
    "query-index": lambda run, t: engine.query(0, run, k=3),
    "session": lambda run, t: engine.session(run),
    "evaluate": lambda run, t: engine.evaluate(run, device="cpu"),
    "build_index": lambda run, t: drain(engine.build_index(run)),
    "explain": lambda run, t: engine.explain(t.image, run, "cam", device="cpu"),
}
CLI = {
    "cli-query": lambda run, t: ["query", run.run_id, str(t.image), "-k", "3"],
    "cli-query-index": lambda run, t: ["query", run.run_id, "0"],
    "cli-eval": lambda run, t: ["eval", run.run_id, "--device", "cpu"],
    "cli-resume": lambda run, t: ["train", "--resume", run.run_id],
}
MODEL = ("query-image", "explain", "cli-query", "cli-resume")  # the paths that read the checkpoint
CODES = ("query-index", "session", "evaluate", "cli-query-index", "cli-eval")

# (case id, damage, expected message (regex), file named, entry points)
CASES = [
    ("ckpt-other-bits", _copy_foreign("foreign_24bit"), r"saved by a run with method adsh, 24 bits, .*; this run has method adsh, 12 bits, .*\(bits differs\)",
     "epoch-0009.safetensors", MODEL),
    ("ckpt-other-method", _copy_foreign("foreign_fcaenet"), r"saved by a run with method fcaenet, .*; this run has method adsh, .*\(method differs\)",
     "epoch-0009.safetensors", MODEL),
    ("ckpt-other-backbone", lambda r, t: _edit_json(META(r), backbone="resnet50"), r"backbone differs",
     "epoch-0001.safetensors", MODEL),
    ("ckpt-newer-schema", lambda r, t: _edit_json(META(r), schema_version=2), r"checkpoint schema 2 was written by a newer fghash",
     "epoch-0001.json", MODEL),
    ("ckpt-truncated", _truncate(CKPT), r"does not match the checksum in epoch-0001.json: the file is truncated",
     "epoch-0001.safetensors", MODEL),
    ("ckpt-meta-corrupt", _truncate(META, 0.6), r"checkpoint metadata .* is unreadable", "epoch-0001.json", MODEL),
    ("ckpt-meta-not-object", lambda r, t: _replace(META(r), b"[1, 2, 3]"), r"holds a JSON list, expected an object",
     "epoch-0001.json", MODEL),
    ("ckpt-meta-field", lambda r, t: _edit_json(META(r), num_classes="ten"), r"field 'num_classes' is 'ten', expected an integer",
     "epoch-0001.json", MODEL),
    ("ckpt-forged-no-v", _forged_checkpoint("method.v"), r"epoch-0001.safetensors does not hold the adsh training "
     r"state .*method.v", "epoch-0001.safetensors", ("cli-resume",)),  # the network itself still loads
    ("ckpt-forged-rng", _forged_checkpoint("rng.numpy.0"), r"epoch-0001.safetensors: its packed state 'rng.numpy' is "
     r"damaged", "epoch-0001.safetensors", MODEL),
    ("ckpt-meta-missing", _remove(lambda r: [META(r)]), r"no complete checkpoint \(epoch-0001.safetensors without metadata",
     "epoch-0001.safetensors", ("query-image", "explain", "cli-query")),
    ("no-checkpoint", _remove(lambda r: list(r.checkpoints.iterdir())), r"no complete checkpoint",
     "checkpoint", ("query-image", "explain", "cli-query")),
    ("codes-truncated", _truncate(DB), r"corrupt or not an fghash codes file", "database.npz", CODES + ("build_index",)),
    ("codes-garbage", _garbage(QUERY), r"holds pickled Python objects \(or is not an .npz at all\); refused",
     "query.npz", CODES),
    ("codes-bitflip", _bitflip_codes, r"database.npz (failed its checksum|is corrupt)", "database.npz", CODES + ("build_index",)),
    ("codes-newer-version", _rewrite_codes(format=lambda v: np.int64(2)), r"codes format 2, written by a newer fghash", "database.npz",
     CODES + ("build_index",)),
    ("codes-checksum", _rewrite_codes(labels=_flip_label), r"database.npz failed its checksum", "database.npz",
     CODES + ("build_index",)),
    ("codes-shape", _rewrite_codes(bits=lambda b: np.int64(24)), r"packed codes have shape \(240, 2\) uint8, expected "
     r"\(count, 3\) uint8 for 24 bits", "database.npz", CODES + ("build_index",)),
    ("codes-other-bits", _other_bit_codes, r"holds 24-bit codes but the run's config.json says 12 bits", "query.npz", CODES),
    ("codes-missing", _remove(lambda r: [DB(r)]), r"is missing: the run has no saved database codes", "database.npz",
     CODES + ("build_index",)),
    ("index-truncated", _truncate(INDEX, 0.8), r"truncated or padded", "index.faiss", ("query-index", "cli-query-index")),
    ("index-garbage", _garbage(INDEX), r"not an fghash index file \(wrong magic bytes\)", "index.faiss",
     ("query-index", "cli-query-index")),
    ("index-forged-source", _forged_index, r"holds 5 codes of 12 bits but .*database.npz has", "index.faiss",
     ("query-index", "cli-query-index")),
    ("config-missing", _remove(lambda r: [CONFIG(r)]), r"is not a run folder: config.json is missing", "config.json",
     tuple(ENTRY) + tuple(CLI)),
    ("config-corrupt", _truncate(CONFIG), r"config is not valid JSON", "config.json", tuple(ENTRY) + tuple(CLI)),
    ("config-future-schema", lambda r, t: _edit_json(CONFIG(r), schema_version=99),
     r"config schema_version 99 is not supported \(this fghash reads 1\), written by a newer fghash", "config.json", tuple(ENTRY) + tuple(CLI)),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_damaged_run_file_gives_a_clear_error_and_stays_untouched(case, run, trained, capsys):
    case_id, damage, expected, named, entries = case
    damage(run, trained)
    before = _snapshot(run.root)
    shown = []
    for entry in entries:
        forget_session()
        if entry in ENTRY:
            with pytest.raises(FghashError, match=expected) as info:
                ENTRY[entry](run, trained)
            message = str(info.value)
        else:
            capsys.readouterr()
            rc = main(CLI[entry](run, trained))
            err = capsys.readouterr().err
            lines = [line for line in err.splitlines() if "fghash: error:" in line]
            assert rc == 2 and len(lines) == 1 and "Traceback" not in err, (entry, err)
            message = lines[0]
            assert re.search(expected, message), (entry, message)
        assert named in message and "\n" not in message, (entry, message)
        shown.append(f"[{case_id}] {entry}: {message}")
        assert _snapshot(run.root) == before, f"{entry} modified the run folder"
    capsys.readouterr()
    print("\n".join(shown))  # `pytest -rP` lists every message (the README's figures)


def test_pristine_copy_passes_every_entry_point(run, trained):
    """Control: the same entry points succeed on an undamaged copy (so the damage is what fails)."""
    assert engine.query(0, run, k=3).hits and engine.query(trained.image, run, k=3).source == "image"
    assert engine.evaluate(run, device="cpu").num_queries == len(load_codes(run, "query"))
    assert engine.explain(trained.image, run, "cam", device="cpu") is not None
    assert drain(engine.build_index(run)) == run.index


@pytest.mark.parametrize("damage", ["other-bits", "other-codes"])
def test_stale_index_is_ignored_not_an_error(run, trained, damage):
    """An index of another bit length, or built from other codes, is stale: queries build an exact index
    in memory (same results as without the file) and the stale file is left as it is."""
    db = load_codes(run, "database")
    run.index.unlink()
    forget_session()
    want = engine.query(1, run, k=10)
    if damage == "other-bits":
        HammingIndex.from_codes(np.random.default_rng(2).choice([-1, 1], size=(len(db), 24)),
                                use_gpu=False).save(run.index, source_checksum="older codes")
    else:
        HammingIndex.from_codes(-db.codes, use_gpu=False).save(run.index, source_checksum="older codes")
    before = _snapshot(run.root)
    forget_session()
    got = engine.query(1, run, k=10)
    assert [(h.database_index, h.distance) for h in got.hits] == [(h.database_index, h.distance) for h in want.hits]
    assert _snapshot(run.root) == before


def test_fghash_index_rebuilds_a_corrupt_index(run, trained, capsys):
    _garbage(INDEX)(run, trained)
    assert main(["query", run.run_id, "0"]) == 2
    assert main(["index", run.run_id, "-q"]) == 0
    assert main(["query", run.run_id, "0"]) == 0
    assert "test split" in capsys.readouterr().out


def test_metrics_file_with_garbage_lines(run, trained):
    """Torn, binary, non-object and wrongly typed lines are skipped; the good records still read."""
    good = engine.map_history(run.run_id)
    assert len(good) == 1 and good[0][0] == 1
    garbage = b'\xff\xfe\x00garbage\n[1, 2]\n42\n{"epoch": "x", "map_all": 0.5}\n{"epoch": 2, "map'
    _replace(run.metrics, run.metrics.read_bytes() + garbage)
    before = _snapshot(run.root)
    assert engine.map_history(run.run_id) == good
    assert [r["epoch"] for r in run.read_metrics() if isinstance(r.get("epoch"), int)] == [1]
    assert _snapshot(run.root) == before
