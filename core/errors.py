"""Exceptions with messages meant for users (CLI prints them, the GUI shows them in a dialog)."""


class FghashError(Exception):
    """Base class: the message says what is wrong and what to do about it."""


class ConfigError(FghashError, ValueError):
    """A configuration value is invalid."""


class DatasetError(FghashError):
    """A dataset folder does not match its expected layout (names the file and the layout)."""


class RunError(FghashError):
    """A run folder or one of its files is missing, foreign or corrupt."""


class WeightsError(FghashError):
    """Backbone weights cannot be found or refused to load."""


class Cancelled(FghashError):
    """Long work was cancelled by the user."""


class ImageDecodeError(FghashError):
    """An image file cannot be decoded (names the file and the reason)."""
