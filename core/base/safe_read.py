"""Bounded reads of files a user can point fghash at (images, weights, config, codes, index, checkpoints).

Every such read goes through `open_regular` / `read_regular`, which
  - open the file with O_NONBLOCK, so a FIFO without a writer (`mkfifo x.jpg`) cannot hang the open;
  - check `S_ISREG` on the opened descriptor (not on the path, which could be swapped after the check),
    so /dev/zero, a FIFO, a socket or a directory is refused before a single byte is read;
  - refuse files larger than a per-kind cap, stated in the message, so `fghash query RUN /dev/zero` or
    a 50 GB file named `.jpg` cannot exhaust the machine's memory.
Errors are the caller's FghashError subclass, one line naming the file and what to do.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from core.base.errors import ConfigError, FghashError

MB = 1 << 20
GB = 1 << 30

# Caps per kind of file. Generous: each is far above what fghash writes or a real input needs, and low
# enough that a wrong path fails at once instead of swapping the machine to death.
DEFAULT_MAX_IMAGE_BYTES = 256 * MB  # a 20000 x 20000 JPEG is ~60 MB; raise with FGHASH_MAX_IMAGE_BYTES
MAX_IMAGE_BYTES_ENV = "FGHASH_MAX_IMAGE_BYTES"
MAX_JSON_BYTES = 16 * MB  # config.json, checkpoint metadata (a few KB each)
MAX_WEIGHTS_BYTES = 4 * GB  # backbone weights and checkpoints (ResNet-50 with optimiser state: ~300 MB)
MAX_CODES_BYTES = 4 * GB  # codes .npz: VegFru's 117k paths as UTF-32 are ~50 MB
MAX_INDEX_BYTES = 4 * GB  # index.faiss: count x padded code bytes
MAX_METRICS_BYTES = 1 * GB  # metrics.jsonl: one short line per epoch

_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # absent on Windows, where opening a pipe never blocks this way
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def image_byte_limit() -> int:
    """The largest image file read, in bytes: $FGHASH_MAX_IMAGE_BYTES if set (an integer), else 256 MB."""
    raw = os.environ.get(MAX_IMAGE_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_IMAGE_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{MAX_IMAGE_BYTES_ENV} must be a positive number of bytes; got {raw!r}")
    return value


def human_bytes(n: int) -> str:
    """A byte count for messages: '256 MB', '4 GB', '812 bytes'."""
    for unit, size in (("GB", GB), ("MB", MB), ("KB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value >= 10 or value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


@contextmanager
def open_regular(path: str | Path, *, what: str, limit: int, error: type[FghashError],
                 hint: str = "") -> Iterator[BinaryIO]:
    """Open `path` for reading as a binary file object, after checking on the open descriptor that it is
    a regular file of at most `limit` bytes. Raises `error` ("{what} {path} ...") otherwise.

    hint: appended to the too-large message (how to raise the cap)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_BINARY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(f"cannot read {what} {path}: it does not exist") from None
    except IsADirectoryError:  # Windows opens of folders fail like this
        raise error(f"{what} {path} is a directory, not a file") from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise error(f"{what} {path} is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{what} {path} is not a regular file (it is a {special_file_kind(info.st_mode)}); refused, since "
                        f"reading it could block or never end")
        if info.st_size > limit:
            raise error(f"{what} {path} is {human_bytes(info.st_size)}, over the {human_bytes(limit)} limit for "
                        f"{what} files{hint}")
        if _O_NONBLOCK:  # regular files ignore it, but a reader should not inherit a surprising flag
            os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


def read_regular(path: str | Path, *, what: str, limit: int, error: type[FghashError], hint: str = "") -> bytes:
    """The bytes of a regular file of at most `limit` bytes (see open_regular). A file that grows past the
    limit while it is read (appended to by another process) is refused too."""
    with open_regular(path, what=what, limit=limit, error=error, hint=hint) as fh:
        try:
            # Ask for the size fstat reported (+1 to notice growth): read(n) allocates n bytes up front,
            # so read(limit + 1) would reserve 256 MB for every thumbnail.
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(size + 1)
            if size < len(data) <= limit:  # it grew since fstat: read on, up to the limit
                data += fh.read(limit + 1 - len(data))
        except OSError as exc:
            raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise error(f"{what} {path} grew past the {human_bytes(limit)} limit for {what} files while it was "
                    f"read{hint}")
    return data


def special_file_kind(mode: int) -> str:
    """What a non-regular file is, in words, from its st_mode (for one-line refusals of reads and writes)."""
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"
