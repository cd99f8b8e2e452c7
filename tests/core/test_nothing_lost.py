"""Issue 22: outputs never replace what they should not, a run's codes stay consistent, bad input is one line.

One tiny ADSH run is trained per module (tiny_run.trained_once) and hard-linked into each test's home. Every
CLI case asserts exit 2 (or 0 where the command must succeed), exactly one stderr line, no traceback, and
that the run's codes are what they were (nothing lost) and nothing was written beside the named target.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from tiny_run import linked_copy, trained_once  # pytest puts tests/core on sys.path

from core import engine
from core.base.atomic import atomic_write_text
from core.base.errors import OutputError
from core.cli import main
from core.encoding.encode import drain
from core.retrieval.session import RunSession, forget_session
from core.runs.paths import RunPaths
from core.search.codes import load_codes

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> RunPaths:
    with trained_once(tmp_path_factory, "nothing_lost_home") as (paths, _home, _cfg):
        pass
    return paths


@pytest.fixture
def run(trained, fghash_home) -> RunPaths:
    with linked_copy(trained, fghash_home) as copy:
        yield copy


def _cli(argv, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:
        rc = int(exc.code)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def _one_line(rc: int, err: str, pattern: str, progress: bool = False) -> None:
    """Exit 2 and one error line on stderr; progress=True: progress bars and notes may precede it (encode)."""
    import re

    assert rc == 2, err
    assert "Traceback" not in err and err.endswith("\n"), err
    if progress:
        err = err.rstrip("\n").replace("\r", "\n").splitlines()[-1].split("\n")[-1] + "\n"
        err = err[err.index("fghash: error:"):] if "fghash: error:" in err else err
    assert err.count("\n") == 1 and err.count("error:") == 1, err
    assert re.search(pattern, err), err


def _images(run: RunPaths, folder: Path, count: int) -> list[Path]:
    """`count` copies of the run's query images in `folder` (new paths, so they are new to the database)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, source in enumerate(load_codes(run, "query").paths[:count]):
        target = folder / f"img{i:03d}{Path(source).suffix}"
        shutil.copyfile(source, target)
        out.append(target)
    return out


def _db_paths(run: RunPaths) -> tuple[str, ...]:
    return load_codes(run, "database").paths


# -- 1. atomic writes never replace a link, a device or a FIFO -------------------------------------------
def test_a_symlink_output_writes_its_target_and_stays_a_link(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "real.csv"]  # no temp file left


@pytest.mark.parametrize("kind", ["fifo", "chardev", "folder"])
def test_special_outputs_are_refused_before_anything_is_written(tmp_path, kind):
    target = tmp_path / "out.csv"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "chardev":
        try:
            os.mknod(target, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # like /dev/full
        except PermissionError:
            target = Path("/dev/full" if Path("/dev/full").exists() else "/dev/null")
    else:
        target.mkdir()
    before = target.lstat()
    with pytest.raises(OutputError, match="not a regular file|is a folder"):
        atomic_write_text(target, "x")
    after = target.lstat()
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode) and after.st_ino == before.st_ino
    if target.parent == tmp_path:
        assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_link_to_a_device_is_refused_and_stays_a_link(tmp_path):
    link = tmp_path / "out.md"
    link.symlink_to("/dev/null")
    with pytest.raises(OutputError, match="via the link"):
        atomic_write_text(link, "x")
    assert link.is_symlink()


def test_figure_table_to_a_fifo_is_one_line(run, tmp_path, capsys):
    fifo = tmp_path / "t.csv"
    os.mkfifo(fifo)
    rc, _out, err = _cli(["figure", "table", run.run_id, "--format", "csv", "-o", fifo], capsys)
    _one_line(rc, err, r"t\.csv is a FIFO \(named pipe\), not a regular file")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


# -- 2. encode --out into a run folder or the store ------------------------------------------------------
@pytest.mark.parametrize("where", ["run", "codes", "store"])
def test_encode_out_inside_a_run_or_the_store_is_refused(run, tmp_path, fghash_home, capsys, where):
    folder = tmp_path / "imgs"
    _images(run, folder, 3)
    before = run.codes.joinpath("database.npz").read_bytes()
    out = {"run": run.root, "codes": run.codes, "store": fghash_home / "encoded"}[where]
    rc, _out, err = _cli(["encode", run.run_id, folder, "--out", out, "--device", "cpu"], capsys)
    _one_line(rc, err, r"--out .* lies inside the run (folder|store)")
    assert run.codes.joinpath("database.npz").read_bytes() == before
    assert not (out / "manifest.json").exists() and not (out / "chunks").exists()


# -- 3. runs delete on a symlink alias ------------------------------------------------------------------
def test_deleting_an_alias_removes_the_link_only(run, fghash_home, capsys):
    alias = run.root.parent / "alias"
    alias.symlink_to(run.root)
    assert "alias" not in {r.run_id for r in engine.list_runs()}  # an alias is never registered as a run
    rc, out, err = _cli(["runs", "delete", "alias"], capsys)
    assert rc == 0, err
    assert "removed the link alias" in out
    assert not alias.exists() and not alias.is_symlink()
    assert run.config.is_file() and len(load_codes(run, "database")) > 0
    assert run.run_id in {r.run_id for r in engine.list_runs()}


# -- 17. store entries whose folder is gone ----------------------------------------------------------------
def test_a_run_folder_deleted_by_hand_is_listed_missing_and_can_be_removed(run, capsys):
    shutil.rmtree(run.root)
    (record,) = engine.list_runs()
    assert record.status == "missing"
    rc, out, err = _cli(["runs", "list"], capsys)
    assert rc == 0 and "missing" in out
    rc, out, err = _cli(["runs", "delete", run.run_id], capsys)
    assert rc == 0 and "already gone" in out, err
    assert engine.list_runs() == []


def test_runs_prune_removes_only_missing_entries(run, fghash_home, trained, capsys):
    other = fghash_home / "runs" / "other-run"
    shutil.copytree(run.root, other, copy_function=os.link)
    assert len(engine.list_runs()) == 2
    shutil.rmtree(run.root)
    rc, out, _err = _cli(["runs", "prune"], capsys)
    assert rc == 0 and run.run_id in out
    assert [r.run_id for r in engine.list_runs()] == ["other-run"]


# -- 4. resume keeps images added after training ------------------------------------------------------------
def test_resume_of_a_finished_run_keeps_added_images(run, tmp_path):
    images = _images(run, tmp_path / "added", 4)
    assert drain(engine.add_images(run.run_id, images)) == 4
    before = _db_paths(run)
    events = list(engine.train(None, resume=run.run_id))
    assert events[-1].status == "finished"
    after = _db_paths(run)
    assert after == before  # same rows, same order: the added ones re-encoded, not dropped
    assert any("re-encoded the 4 image(s) added" in getattr(e, "message", "") for e in events)


# -- 5, 6. concurrent adds and repeated adds ---------------------------------------------------------------
def test_two_sessions_adding_at_once_lose_nothing(run):
    """Two sessions (as the app and the CLI would hold) add different codes at the same moment, many times:
    each add starts from the codes on disk under the run's codes lock, so every row arrives."""
    first, second = RunSession(run), RunSession(run)
    base = len(first.database)
    code = first.database.codes[:1]
    barrier = threading.Barrier(2)
    errors = []

    def add(session, name):
        try:
            for i in range(6):
                barrier.wait()
                assert session.add_codes(code, [-1], [f"/elsewhere/{name}-{i}.jpg"]) == 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(s, n)) for s, n in ((first, "a"), (second, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    paths = _db_paths(run)
    assert len(paths) == base + 12 and len(set(paths)) == len(paths)
    forget_session()
    assert len(engine.session(run.run_id).index) == base + 12


def test_encode_add_twice_adds_each_image_once(run, tmp_path, capsys):
    folder = tmp_path / "imgs"
    _images(run, folder, 3)
    base = len(_db_paths(run))
    argv = ["encode", run.run_id, folder, "--out", tmp_path / "enc", "--device", "cpu", "--add"]
    rc, out, err = _cli(argv, capsys)
    assert rc == 0 and "added 3 code(s)" in out, err
    rc, out, err = _cli(argv, capsys)
    assert rc == 0 and "added 0 code(s)" in out and "skipped 3 image(s) already in it" in out, err
    paths = _db_paths(run)
    assert len(paths) == base + 3 and len(set(paths)) == len(paths)


# -- 7-9. crafted index files ----------------------------------------------------------------------------
def _rewrite_index(path: Path, edit_payload=None, edit_header=None) -> None:
    """Apply an edit to an index file's faiss payload (then recompute its size and checksum, as an attacker
    would) or to its JSON header line's text."""
    import hashlib
    import json

    from core.search.index import MAGIC

    data = path.read_bytes()
    newline = data.index(b"\n", len(MAGIC))
    header, payload = json.loads(data[len(MAGIC):newline]), bytearray(data[newline + 1:])
    if edit_payload is not None:
        edit_payload(payload)
        header.update(payload_bytes=len(payload), sha256=hashlib.sha256(bytes(payload)).hexdigest())
    text = json.dumps(header, sort_keys=True)
    if edit_header is not None:
        text = edit_header(text)
    path.unlink()  # never write through the hard link shared with the pristine run
    path.write_bytes(MAGIC + text.encode() + b"\n" + bytes(payload))


def _query_one_line(run, capsys, extra=()) -> tuple[int, str, str]:
    return _cli(["query", run.run_id, "0", "-k", "5", *extra], capsys)


def test_a_flat_index_claiming_a_huge_vector_is_refused_before_faiss_allocates(run, capsys):
    def huge(payload):  # IBxF: fourcc, d, code_size, ntotal, is_trained, metric; then the vector's size
        payload[25:33] = (3 << 30).to_bytes(8, "little")

    _rewrite_index(run.index, huge)
    rc, _out, err = _query_one_line(run, capsys)
    _one_line(rc, err, r"index\.faiss: its faiss data is inconsistent .*rebuild it with `fghash index`")


def test_a_flat_index_with_edited_codes_is_refused(run, capsys):
    def flip(payload):
        payload[33] ^= 0xFF  # the first code's first byte

    _rewrite_index(run.index, flip)
    rc, _out, err = _query_one_line(run, capsys)
    _one_line(rc, err, r"holds codes that differ from the run's database codes")


@pytest.fixture
def ivf_run(run) -> RunPaths:
    drain(engine.build_approximate(run.run_id, nlist=2, nprobe=1, recall_queries=8))
    forget_session()
    return run


def _ivf_lists(payload) -> tuple[int, list[int]]:
    """(offset of the first list's codes, list sizes) of an IVF payload."""
    at = payload.index(b"ilar") + 4 + 8 + 8 + 4 + 8
    nlist = int.from_bytes(payload[payload.index(b"ilar") + 4:payload.index(b"ilar") + 12], "little")
    sizes = [int.from_bytes(payload[at + 8 * i:at + 8 * i + 8], "little") for i in range(nlist)]
    return at + 8 * nlist, sizes


@pytest.mark.parametrize("edit", ["duplicate-id", "id-past-end", "code", "list-size"])
def test_an_ivf_index_with_edited_lists_is_refused_and_exact_search_still_works(ivf_run, capsys, edit):
    run = ivf_run
    width = 8  # 12-bit codes padded to 64 bits

    def tamper(payload):
        start, sizes = _ivf_lists(payload)
        ids = start + sizes[0] * width  # the first list's ids follow its codes
        if edit == "duplicate-id":
            payload[ids + 8:ids + 16] = payload[ids:ids + 8]
        elif edit == "id-past-end":
            payload[ids:ids + 8] = (10**6).to_bytes(8, "little")
        elif edit == "code":
            payload[start] ^= 0x80
        else:
            at = payload.index(b"ilar") + 4 + 8 + 8 + 4 + 8
            payload[at:at + 8] = (1 << 40).to_bytes(8, "little")

    _rewrite_index(run.approximate_index, tamper)
    rc, _out, err = _query_one_line(run, capsys, ("--approximate",))
    _one_line(rc, err, r"index-ivf\.faiss.*(inconsistent|ids outside|one id twice|differ from).*--approximate`")
    rc, out, err = _query_one_line(run, capsys)
    assert rc == 0 and err == "", err


@pytest.mark.parametrize("value", ["1e400", "true", "-3", "1180591620717411303424"])
def test_an_unchecked_ivf_header_value_is_one_line_and_exact_search_works(ivf_run, capsys, value):
    import re

    run = ivf_run
    _rewrite_index(run.approximate_index, edit_header=lambda t: re.sub(r'"nprobe": \d+', f'"nprobe": {value}', t))
    with pytest.raises(Exception) as caught:
        engine.approximate_info(run.run_id)
    assert type(caught.value).__name__ == "RunError" and "damaged header" in str(caught.value)
    rc, _out, err = _query_one_line(run, capsys, ("--approximate",))
    _one_line(rc, err, r"damaged header .*nprobe")
    rc, _out, err = _query_one_line(run, capsys)
    assert rc == 0 and err == "", err


# -- 13. user strings are plain text in figures ------------------------------------------------------------
@pytest.mark.parametrize("name", ["run-$\\frac{1}{$x", "deep-$" + "{" * 120 + "x" + "}" * 120 + "$"])
def test_mathtext_in_a_run_name_is_drawn_as_text(run, fghash_home, tmp_path, capsys, name):
    from core.runs.store import RunStore

    alias = fghash_home / "runs" / name
    shutil.copytree(run.root, alias, copy_function=os.link)
    with RunStore() as store:
        store.add_run(name, alias, run.config.read_text())
    for kind in ("pr", "bits"):
        out = tmp_path / f"{kind}.png"
        rc, _out, err = _cli(["figure", kind, name, "-o", out], capsys)
        assert rc == 0 and err == "", err
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- 14. table exports cannot be injected ----------------------------------------------------------------
def _table(kind: str, method: str, run_id: str):
    from core.figures.table import MethodBitsTable, TableCell

    row = (kind, method, "")
    return MethodBitsTable((row,), (12,), {(row, 12): TableCell(0.5, 0.0, 1, (run_id,))}, {kind: 0.1})


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised():
    import csv
    import io

    from core.figures.table import format_table

    for lead in "=+-@":
        text = format_table(_table("demo", f"{lead}HYPERLINK(\"http://x\")", f"{lead}cmd|' /C calc'!A0"), "csv")
        (header, row) = list(csv.reader(io.StringIO(text)))
        cells = dict(zip(header, row))
        assert cells["method"].startswith("'" + lead) and cells["run_ids"].startswith("'" + lead)
        assert row[4] == "0.5"  # numbers stay numbers


def test_markdown_pipes_and_newlines_stay_in_their_cell():
    from core.figures.table import format_table

    text = format_table(_table("demo", "a|b\n| fake | row |", "r"), "markdown")
    body = [line for line in text.splitlines() if line.startswith("|")]
    assert len(body) == 3  # header, rule, one row
    assert body[2].count("|") - body[2].count("\\|") == 3  # two cells: method and 12 bits


def test_latex_backslashes_and_blank_lines_cannot_break_the_tabular():
    from core.figures.table import format_table

    text = format_table(_table("demo", "a\\input{/etc/passwd}\n\nb", "r"), "latex")
    assert "\\textbackslash{}input\\{/etc/passwd\\}" in text
    assert "\\input{" not in text and "\n\n" not in text


@pytest.mark.parametrize("digits", ["-1", "7", "100000000"])
def test_table_digits_are_bounded(run, capsys, digits):
    rc, _out, err = _cli(["figure", "table", run.run_id, "--digits", digits], capsys)
    _one_line(rc, err, r"--digits must be a whole number from 0 to 6")


def test_huge_dpi_is_one_line(run, tmp_path, capsys):
    argv = ["figure", "retrieval", run.run_id, "--queries", *map(str, range(8)), "-k", "20", "-o", tmp_path / "x.png"]
    rc, _out, err = _cli([*argv, "--dpi", "2400"], capsys)
    _one_line(rc, err, r"megapixel limit; lower --dpi")
    assert not (tmp_path / "x.png").exists()


# -- 11, 12. encode: FIFOs, damaged manifests and chunks, bad --out -------------------------------------
@pytest.fixture
def encoded(run, tmp_path, capsys) -> tuple[RunPaths, Path, Path]:
    """(run, image folder, a finished encode of it with 2 chunks)."""
    folder = tmp_path / "imgs"
    _images(run, folder, 4)
    out = tmp_path / "enc"
    rc, _o, err = _cli(["encode", run.run_id, folder, "--out", out, "--chunk-size", "2", "--device", "cpu"], capsys)
    assert rc == 0, err
    return run, folder, out


def _encode_again(encoded, capsys, out=None) -> tuple[int, str, str]:
    run, folder, default_out = encoded
    return _cli(["encode", run.run_id, folder, "--out", out or default_out, "--chunk-size", "2", "--device", "cpu"],
                capsys)


def _replace(path: Path, how) -> None:
    path.unlink()
    how(path)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("what, fault, expect", [
    ("manifest.json", os.mkfifo, r"manifest .* is not a regular file \(it is a FIFO"),
    ("manifest.json", lambda p: p.mkdir(), r"manifest .* is a directory"),
    ("manifest.json", lambda p: p.write_bytes(b"\xff{garbage"), r"is not an fghash encode manifest"),
    ("manifest.json", lambda p: p.write_text("[1, 2]"), r"is not an fghash encode manifest \(not a JSON object"),
    ("chunks/00000000.npz", os.mkfifo, r"encode chunk .* is not a regular file \(it is a FIFO"),
    ("chunks/00000000.npz", lambda p: p.symlink_to("/dev/zero"), r"encode chunk .* is not a regular file"),
    ("chunks/00000000.npz", lambda p: p.write_bytes(b"PK\x03\x04trunc"), r"00000000\.npz is damaged"),
    ("chunks/00000000.npz", lambda p: np.save(p.open("wb"), np.array([{"a": 1}], dtype=object)),
     r"00000000\.npz is damaged .*pickle|00000000\.npz is damaged"),
    ("chunks/00000000.npz", lambda p: np.savez(p.open("wb"), packed=np.zeros((2, 5), np.uint8)),
     r"00000000\.npz holds \(2, 5\) uint8 codes, expected \(2, 2\)"),
])
def test_damaged_encode_folders_are_one_line(encoded, capsys, what, fault, expect):
    _run, _folder, out = encoded
    (out / "codes" / "database.npz").unlink()  # so the chunks are assembled again
    _replace(out / what, fault)
    rc, _out, err = _encode_again(encoded, capsys)
    _one_line(rc, err, expect, progress=True)


@pytest.mark.parametrize("target", ["file", "devfull"])
def test_encode_out_that_is_a_file_or_device_is_one_line(encoded, tmp_path, capsys, target):
    if target == "file":
        out = tmp_path / "plain.txt"
        out.write_text("keep me")
    else:
        out = Path("/dev/full")
        if not out.exists():
            pytest.skip("no /dev/full")
    rc, _out, err = _encode_again(encoded, capsys, out)
    _one_line(rc, err, r"--out .* is a file, not a folder")
    if target == "file":
        assert out.read_text() == "keep me"


def test_file_names_with_newlines_survive_the_encode_folder(run, tmp_path, capsys):
    import json

    folder = tmp_path / "imgs"
    folder.mkdir()
    source = load_codes(run, "query").paths[0]
    names = ["a\nb.jpg", "a.jpg", "b.jpg"]
    for name in names:
        shutil.copyfile(source, folder / name)
    out = tmp_path / "enc"
    rc, _o, err = _cli(["encode", run.run_id, folder, "--out", out, "--device", "cpu"], capsys)
    assert rc == 0, err
    stored = json.loads((out / "paths.json").read_text())
    assert sorted(Path(p).name for p in stored) == sorted(names)


def test_version_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys; from core.cli import main; main(['--version']); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'numpy', 'faiss', 'matplotlib', 'PIL'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["fghash 0.1.0", "[]"] or out.stdout.splitlines()[1] == "[]", out.stdout


# -- 16. more tracebacks --------------------------------------------------------------------------------
@pytest.mark.parametrize("split", ["database", "query"])
@pytest.mark.parametrize("command", ["eval", "query"])
def test_a_codes_file_with_zero_rows_is_one_line(run, capsys, split, command):
    from core.search.codes import save_codes

    bits = load_codes(run, split).bits
    (run.codes / f"{split}.npz").unlink()
    save_codes(run, split, np.ones((0, bits), np.int8), np.zeros(0, np.int64), [])
    rc, _out, err = _cli([command, run.run_id] + (["0"] if command == "query" else []), capsys)
    _one_line(rc, err, rf"{split}\.npz holds no (codes|rows)")


def _options_worker(rank: int, init_file: str, out: str) -> None:
    """One of two gloo ranks started with different --dataset / --bits: both must refuse in one line."""
    import torch
    import torch.distributed as dist

    from core.base.errors import RunError
    from core.runtime import distributed

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    distributed._current = distributed.Rank(rank=rank, world_size=2, backend="gloo")
    options = {"dataset": "demo" if rank == 0 else "cub", "bits": "12", "epochs": 1}
    try:
        distributed.check_same_options(options)
        outcome = "accepted"
    except RunError as exc:
        outcome = str(exc)
    distributed.check_same_options({"same": 1})  # equal options pass
    Path(out, f"rank{rank}.txt").write_text(outcome)
    dist.destroy_process_group()


def test_torchrun_ranks_with_different_options_are_refused(tmp_path):
    import torch.multiprocessing

    torch.multiprocessing.start_processes(_options_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2,
                                          start_method="fork")
    for rank in (0, 1):
        text = (tmp_path / f"rank{rank}.txt").read_text()
        assert "were given different options (--dataset" in text and "'cub'" in text and "'demo'" in text, text


def test_a_torchrun_peer_that_never_joins_is_one_line(monkeypatch, capsys):
    import socket

    from core.runtime import distributed

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(port), distributed.TIMEOUT_ENV: "2"}.items():
        monkeypatch.setenv(key, value)
    from core.base.errors import RunError

    with pytest.raises(RunError, match=r"rank 1/2: the torchrun processes could not form their group within 2 s"):
        distributed.setup("cpu")
    assert not distributed.current().active


def test_checkpoint_epoch_out_of_range_is_one_line_on_resume(run, capsys):
    import json

    meta = sorted(run.checkpoints.glob("epoch-*.json"))[-1]
    data = json.loads(meta.read_text())
    data["epoch"] = 10**30
    meta.unlink()
    meta.write_text(json.dumps(data))
    rc, _out, err = _cli(["train", "--resume", run.run_id], capsys)
    _one_line(rc, err, r"field 'epoch' is 10{30}, outside 0\.\.1000000")


def test_a_run_folder_deleted_during_training_leaves_no_ghost(fghash_home, monkeypatch, capsys):
    """The folder vanishes after the first batch: one line saying so, and no 'failed' entry for a run
    that no longer exists."""
    from core.base.events import BatchEnd
    from test_training import _tiny

    from core.config.train_config import AdshOptions

    real_train = engine.train

    def train_then_delete(cfg, **kwargs):
        for event in real_train(cfg, **kwargs):
            yield event
            if isinstance(event, BatchEnd) and engine.list_runs()[0].status != "missing":
                shutil.rmtree(engine.list_runs()[0].run_dir)

    monkeypatch.setattr(engine, "train", train_then_delete)
    cfg = _tiny("adsh", epochs=1, adsh=AdshOptions(num_samples=32, inner_epochs=1))
    with pytest.raises(Exception) as caught:
        list(train_then_delete(cfg))
    assert type(caught.value).__name__ == "RunError" and "was deleted while it trained" in str(caught.value)
    assert engine.list_runs() == []


# -- 18. smaller items -------------------------------------------------------------------------------------
def test_checkpoints_follow_the_umask_like_every_other_file(tmp_path):
    import torch
    from safetensors.torch import save_file

    from core.base.atomic import atomic_write

    old = os.umask(0o027)
    try:
        path = atomic_write(tmp_path / "epoch-0001.safetensors", lambda tmp: save_file({"x": torch.zeros(2)}, str(tmp)))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_hard_link_from_test_to_train_is_a_leak(tmp_path):
    from core.base.errors import DatasetError
    from core.data.registry import load_dataset

    for split, cls in (("train", "a"), ("train", "b"), ("test", "a"), ("test", "b")):
        (tmp_path / split / cls).mkdir(parents=True)
        (tmp_path / split / cls / f"{split}.jpg").write_bytes(f"{split}{cls}".encode())
    assert len(load_dataset("folder", tmp_path).records) == 4
    os.link(tmp_path / "train" / "b" / "train.jpg", tmp_path / "test" / "b" / "copy.jpg")
    with pytest.raises(DatasetError, match=r"1 file\(s\) in both .*copy\.jpg"):
        load_dataset("folder", tmp_path)


def test_two_copies_of_one_run_count_once(caplog):
    from core.config.train_config import TrainConfig
    from core.evaluation.seed_groups import group_by_seed

    cfg = TrainConfig(backbone="resnet18", weights="none", seed=3)
    other_seed = cfg.replace(seed=4)
    (group,) = group_by_seed([("run-a", cfg), ("run-a-copy", cfg), ("run-b", other_seed)])
    assert group.run_ids == ("run-a", "run-b") and group.seeds == (3, 4)
    assert "run-a-copy is counted once" in caplog.text


def test_a_second_encode_into_one_folder_waits_for_chunks_instead_of_redoing_them(encoded, tmp_path):
    """Another process holds chunk 0 (it is encoding it) and writes it after a moment: this encode takes
    chunk 1, waits for chunk 0 and finds it done, so each chunk is encoded once."""
    import subprocess
    import sys

    from core.encoding.collection import Collection, encode_collection, folder_collection

    run, folder, first = encoded
    second = tmp_path / "enc2"
    (second / "chunks").mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import shutil, sys, time; from core.runs.lock import ChunkLocks\n"
         "with ChunkLocks(sys.argv[1]) as locks:\n"
         "    assert locks.try_acquire(0); print('locked', flush=True); time.sleep(2)\n"
         "    shutil.copyfile(sys.argv[2], sys.argv[3])\n",
         str(second / "chunks" / ".lock"), str(first / "chunks" / "00000000.npz"),
         str(second / "chunks" / "00000000.npz")],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert holder.stdout.readline().strip() == "locked"
    collection: Collection = folder_collection(folder)
    result = drain(encode_collection(run.run_id, collection, second, chunk_size=2, device="cpu"))
    assert holder.wait(timeout=30) == 0
    assert (result.encoded, result.skipped, result.total) == (2, 2, 4)
    assert np.array_equal(np.load(second / "codes" / "database.npz")["packed"],
                          np.load(first / "codes" / "database.npz")["packed"])


# -- 15. a run's stored config is complete ------------------------------------------------------------------
@pytest.mark.parametrize("key", ["image_size", "adsh.num_samples"])
def test_a_stored_config_missing_a_key_is_refused(run, capsys, key):
    import json

    data = json.loads(run.config.read_text())
    *outer, last = key.split(".")
    del (data[outer[0]] if outer else data)[last]
    run.config.unlink()  # never write through the hard link shared with the pristine run
    run.config.write_text(json.dumps(data))
    for argv in (["query", run.run_id, "0"], ["eval", run.run_id]):
        rc, _out, err = _cli(argv, capsys)
        _one_line(rc, err, rf"config(\.adsh)? lacks {last}: a run's stored config must name every option")
