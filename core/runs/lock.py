"""The lock a training process holds on its run folder while it runs.

A process killed with SIGKILL (or by a power cut) cannot write "interrupted" into the run store, so the
store would say "running" for ever. Instead, training holds an OS lock on `RUN/.lock` (fcntl.flock on
POSIX, msvcrt.locking on Windows); the operating system drops it when the process dies, however it dies.
Whoever reads a "running" run from the store checks the lock (`is_held`): not held means the process is
gone, and the run is reported (and recorded) as interrupted. The lock also stops two processes from
training the same run at once (e.g. `fghash train --resume` while the GUI is still training it).

flock locks belong to an open file description, so a second open of the file in the same process also
conflicts: a GUI that trains on a thread and lists runs on another sees its own run as held.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.base.errors import RunError

LOCK_NAME = ".lock"
CODES_LOCK_NAME = ".codes.lock"
CODES_LOCK_WAIT_S = 120.0  # an add or a final save holds it for seconds; longer means a stuck process

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _range_lock(fd: int, offset: int, block: bool) -> bool:
        os.lseek(fd, offset, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_LOCK if block else msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            if block:
                raise
            return False

    def _range_unlock(fd: int, offset: int) -> None:
        os.lseek(fd, offset, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _range_lock(fd: int, offset: int, block: bool) -> bool:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB), 1, offset)
            return True
        except OSError:
            if block:
                raise
            return False

    def _range_unlock(fd: int, offset: int) -> None:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class RunLock:
    """Held while a run trains: `with RunLock(run_root): ...`. Raises RunError if another process holds it."""

    def __init__(self, run_root: str | Path) -> None:
        self.path = Path(run_root) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only folder (EROFS, EACCES): training could not write anyway
            raise RunError(f"cannot train run {self.path.parent.name}: cannot write {self.path} ({exc.strerror}); "
                           f"a run in a read-only folder can be queried and evaluated, not trained") from None
        if not _try_lock(fd):
            holder = _read_pid(fd)
            os.close(fd)
            raise RunError(f"run {self.path.parent.name} is being trained by another process"
                           f"{f' (pid {holder})' if holder else ''}; stop it first ({self.path} is locked)")
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                _unlock(fd)
            finally:
                os.close(fd)

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class ChunkLocks:
    """One lock per chunk number: byte i of one lock file (POSIX record locks, dropped by the OS when the
    process dies). Used by `fghash encode` so processes writing one folder never encode a chunk twice.
    Record locks belong to the process: use one ChunkLocks per process and folder at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def __enter__(self) -> "ChunkLocks":
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise RunError(f"cannot write {self.path} ({exc.strerror})") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops every lock this process holds on the file
            self._fd = None

    def try_acquire(self, chunk: int) -> bool:
        return _range_lock(self._fd, chunk, block=False)

    def acquire(self, chunk: int) -> None:
        _range_lock(self._fd, chunk, block=True)

    def release(self, chunk: int) -> None:
        _range_unlock(self._fd, chunk)


@contextmanager
def codes_lock(run_root: str | Path, wait_s: float = CODES_LOCK_WAIT_S) -> Iterator[None]:
    """Held around every read-modify-write of a run's saved codes and index (adding images from the app or
    `fghash encode --add`, the codes a training saves at its end), so two processes never both read N rows
    and write N + their own (a lost update). Separate from the training lock, which a training holds for
    hours. Waits up to `wait_s` seconds for another holder, then raises RunError."""
    path = Path(run_root) / CODES_LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise RunError(f"cannot change the codes of run {path.parent.name}: cannot write {path} "
                       f"({exc.strerror})") from None
    try:
        deadline = time.monotonic() + wait_s
        while not _try_lock(fd):
            if time.monotonic() > deadline:
                raise RunError(f"the codes of run {path.parent.name} are being changed by another process "
                               f"({path} stayed locked for {wait_s:.0f} s); try again when it has finished")
            time.sleep(0.05)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


def is_held(run_root: str | Path) -> bool:
    """True when a live process (this one included) holds the run's lock. A run folder without a lock
    file was never trained by this fghash or is gone: not held."""
    path = Path(run_root) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        if _try_lock(fd):
            _unlock(fd)
            return False
        return True
    finally:
        os.close(fd)


def refuse_if_training(run_root: str | Path, action: str) -> None:
    """Raise RunError "run X is being trained by process N" when a live process holds the run's lock:
    for actions that would pull the files from under a training (deleting the run)."""
    if not is_held(run_root):
        return
    holder = lock_holder(run_root)
    by = f"process {holder}" if holder else "another process"
    raise RunError(f"run {Path(run_root).name} is being trained by {by}; stop that training before you {action}")


def lock_holder(run_root: str | Path) -> int | None:
    """The pid the run's last trainer wrote into its lock file (kept after the lock is released, so it
    names a dead trainer's run too); None without a readable pid."""
    try:
        fd = os.open(Path(run_root) / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        return _read_pid(fd)
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode(errors="replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
