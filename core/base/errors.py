"""Exceptions with messages meant for users (CLI prints them, the GUI shows them in a dialog)."""

import re

# torch's DataLoader re-raises an exception from a worker process as type(exc)(text), where text is
# "Caught X in DataLoader worker process N.\nOriginal Traceback (most recent call last): ...\nmod.X: msg".
_WORKER_WRAPPED = re.compile(r"Caught \w+ in DataLoader worker process \d+\.\n")


class FghashError(Exception):
    """Base class: the message says what is wrong and what to do about it."""

    def __init__(self, *args: object) -> None:
        if len(args) == 1 and isinstance(args[0], str) and _WORKER_WRAPPED.match(args[0]):
            # Keep the user-facing message (the traceback's last line) so it stays one line, as when
            # the same error is raised without workers.
            last = args[0].rstrip().splitlines()[-1]
            args = (last.partition(": ")[2] or last,)
        super().__init__(*args)


class ConfigError(FghashError, ValueError):
    """A configuration value is invalid."""


class DatasetError(FghashError):
    """A dataset folder does not match its expected layout (names the file and the layout)."""


class RunError(FghashError):
    """A run folder or one of its files is missing, foreign or corrupt."""


class OutputError(FghashError):
    """An output path (`-o`, `--out`) that fghash refuses to write: a device, FIFO, folder, a run's own
    folder. Nothing has been written."""


class WeightsError(FghashError):
    """Backbone weights cannot be found or refused to load."""


class Cancelled(FghashError):
    """Long work was cancelled by the user."""


class TrainingProcessError(FghashError):
    """The child process that trained a run (the app's training) died before it finished."""


class ImageDecodeError(FghashError):
    """An image file cannot be decoded (names the file and the reason)."""


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line (whitespace runs collapsed), shortened to `limit` characters:
    for wrapping a library's error (numpy, safetensors, torch) inside a user-facing message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
