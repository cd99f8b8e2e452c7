"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename over the target.

A crash or a full disk at any moment leaves either the old file or the new one, never a torn file.

The output-path rule (issue 22), applied by `output_target` to every write here: a rename replaces only a
regular file or a new name. A symlink is followed and its target written (the link itself stays a link);
a folder, character or block device, FIFO or socket is refused with one line (OutputError) before anything
is written, so `-o /dev/full` or `-o some-link` can never turn a system node or a link into a regular file.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.base.errors import OutputError, RunError
from core.base.safe_read import special_file_kind

_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}  # disk full, or the user's quota
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}  # read-only mount, no permission


def not_writable_error(path: Path, exc: OSError) -> RunError:
    """The one-line error for a file that cannot be written because its folder is read-only."""
    return RunError(f"cannot write {path}: {exc.strerror} ({path.parent} is read-only for this user); copy the "
                    f"run to a writable folder, or make this one writable")


def _umask() -> int:
    """The process umask, read without changing it where the OS says it (Linux >= 4.7), else set and reset."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def output_target(path: str | Path) -> Path:
    """The file a write to `path` must replace: `path` itself, or the file a symlink (chain) at `path` points
    to. Raises OutputError when that is a folder, a device, a FIFO or a socket, or when the link loops."""
    path = Path(path)
    target = path
    if path.is_symlink():
        try:
            target = Path(os.path.realpath(path, strict=False))
        except (OSError, RuntimeError):
            raise OutputError(f"output {path} is a symbolic link that cannot be resolved (a loop?); give a "
                              f"file name") from None
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return target  # a new name (a dangling link's target is created, the link then points to it)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(f"output {path} is a symbolic link loop; give a file name") from None
        return target  # e.g. a folder we cannot search: the write itself reports it in one line
    if stat.S_ISREG(info.st_mode):
        return target
    via = f" (via the link {path})" if target != path else ""
    if stat.S_ISDIR(info.st_mode):
        raise OutputError(f"output {target}{via} is a folder, not a file; give a file name")
    raise OutputError(f"output {target}{via} is a {special_file_kind(info.st_mode)}, not a regular file: fghash "
                      f"writes its outputs to regular files or new names only and never replaces a device, "
                      f"FIFO or socket; give a file name")


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call write(tmp_path) then rename tmp_path to path atomically. Returns path.

    `path` follows the output-path rule (module docstring; OutputError otherwise); a symlink's target is
    the file replaced. The file gets the permissions any new file of the user gets (0666 less the umask),
    not mkstemp's 0600. Raises RunError (one line) on a full disk or a read-only folder."""
    given = Path(path)
    path = output_target(given)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        if exc.errno in _NOT_WRITABLE:
            raise not_writable_error(path, exc) from None
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):  # a file where a folder of the path should be
            raise OutputError(f"cannot write {path}: a part of {path.parent} is a file, not a folder") from None
        if exc.errno in _NO_SPACE:
            raise RunError(f"the disk is full: could not write {path} ({exc.strerror}); free space in "
                           f"{path.parent} and retry") from None
        raise
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb+") as fh:
            if hasattr(os, "fchmod"):  # POSIX; Windows files have no mode bits to fix
                # after write(): a writer that replaces the file (safetensors' save_file does) makes a new
                # 0600 one, which the checkpoints then were, although the README says files follow the umask
                os.fchmod(fh.fileno(), 0o666 & ~_umask())
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
            raise RunError(f"the disk is full: could not write {path} ({exc.strerror}); the previous "
                           f"{path.name} (if any) is unchanged. Free space in {path.parent} and retry") from None
        raise
    _fsync_dir(path.parent)
    return given


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Strict JSON (NaN / Infinity are not JSON: writing one raises ValueError instead of a file other
    readers reject); callers write null for a value that is not a finite number."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False))


def append_line(path: str | Path, line: str) -> None:
    """Append one line and fsync (for jsonl logs: a crash loses at most the line being written).

    A line torn by a crash (no final newline) is closed first, so the new line stays a line of its own."""
    with open(path, "a+b") as fh:
        torn = False
        if fh.seek(0, os.SEEK_END) > 0:
            fh.seek(-1, os.SEEK_END)
            torn = fh.read(1) != b"\n"
        fh.write((("\n" if torn else "") + line.rstrip("\n") + "\n").encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
