"""Install or remove fghash's Linux desktop launcher for the current user (freedesktop.org conventions).

`fghash-gui --install-desktop-entry` writes `$XDG_DATA_HOME/applications/fghash.desktop` (default
`~/.local/share`) and the icon into the user's hicolor icon theme (`icons/hicolor/<N>x<N>/apps/fghash.png`
and `scalable/apps/fghash.svg`), so desktop menus and launchers list fghash with its icon. The launcher runs
the very `fghash-gui` that installed it (an absolute path, so it works from a pipx or virtualenv install that
is not on the desktop session's PATH). `--uninstall-desktop-entry` removes exactly those files. Qt-free.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from fghash_gui.assets import ICON_SIZES, asset

APP_ID = "fghash"
_RESERVED = set(' \t\n"\'\\><~|&;$*?#()`%')  # Exec: an argument holding one of these must be quoted


class DesktopEntryError(Exception):
    """The launcher cannot be installed as asked (one line: what and why); nothing was written."""


def data_home() -> Path:
    """$XDG_DATA_HOME, or ~/.local/share when it is unset or not absolute (XDG Base Directory spec)."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if os.path.isabs(value) else Path.home() / ".local" / "share"


def launcher_command() -> list[str]:
    """The command that starts this installation's app: its `fghash-gui` script, else `python -m fghash_gui`."""
    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "fghash-gui" and script.is_file():
        return [str(script)]
    return [str(Path(sys.executable).resolve()), "-m", "fghash_gui"]


def _string(value: str, key: str) -> str:
    """A value of type string (Desktop Entry spec, "Possible value types"): a backslash is written `\\\\`.
    Control characters (a newline would start a new key, e.g. a second Exec=) cannot be expressed in a
    path the launcher runs: refused."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise DesktopEntryError(f"cannot write a desktop entry whose {key} holds a control character (a newline "
                                f"or tab in {value!r}); install fghash under a path without one")
    return value.replace("\\", "\\\\")


def _quote(arg: str) -> str:
    """An Exec argument: quoted when it holds a reserved character, `"`, `` ` ``, `$` and `\\` escaped inside
    the quotes, then the string escape applied on top (so a literal backslash becomes four), `%` doubled
    (the spec's field codes)."""
    if arg and not _RESERVED.intersection(arg):
        quoted = arg
    else:
        quoted = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return _string(quoted, "Exec").replace("%", "%%")


def desktop_entry(command: list[str]) -> str:
    """The text of fghash.desktop for COMMAND; DesktopEntryError for a command it cannot express."""
    exec_line = " ".join(_quote(a) for a in command)
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.0",  # every key used here is in 1.0; desktop-file-validate rejects versions it does not know
        "Name=fghash",
        "GenericName=Deep hashing workbench",
        "Comment=Train, browse and explain fine-grained image retrieval by deep hashing",
        f"Exec={exec_line}",
        f"TryExec={_string(command[0], 'TryExec')}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Science;ArtificialIntelligence;",  # one main category (a second lists the app twice)
        "Keywords=hashing;retrieval;image;FCAENet;Multi-FusNet;ADSH;",
        f"StartupWMClass={APP_ID}",
        "",
    ])


def validate(text: str) -> None:
    """Run `desktop-file-validate` (desktop-file-utils) on the entry when it is installed; DesktopEntryError
    with its first complaint when it finds an error. Without the tool, nothing is checked here."""
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{APP_ID}.desktop"
        path.write_text(text, encoding="utf-8")
        result = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    errors = [line for line in result.stdout.splitlines() if "error:" in line]
    if result.returncode != 0 or errors:
        raise DesktopEntryError(f"desktop-file-validate rejects the entry: {(errors or [result.stdout.strip()])[0]}")


def installed_files(home: Path | None = None) -> list[Path]:
    """Every file install() writes, in the order it writes them."""
    home = home or data_home()
    icons = home / "icons" / "hicolor"
    return ([icons / f"{n}x{n}" / "apps" / f"{APP_ID}.png" for n in ICON_SIZES]
            + [icons / "scalable" / "apps" / f"{APP_ID}.svg", home / "applications" / f"{APP_ID}.desktop"])


def install(home: Path | None = None, command: list[str] | None = None) -> Path:
    """Write the icons and the desktop entry; returns the .desktop path. The entry is written last, so a
    launcher never points at a missing icon. Each file is written to a temporary name and renamed, never
    through a symbolic link: a link, folder or special file in the place of one is refused before anything
    is written (DesktopEntryError, one line), as is a command the entry cannot express."""
    files = installed_files(home)
    text = desktop_entry(command or launcher_command())
    validate(text)
    for target in files:
        _check_target(target)
    sources = [asset(f"{APP_ID}-{n}.png") for n in ICON_SIZES] + [asset(f"{APP_ID}.svg")]
    try:
        for source, target in zip(sources, files):
            _replace(target, source.read_bytes())
        _replace(files[-1], text.encode("utf-8"))
    except OSError as exc:
        raise DesktopEntryError(f"cannot install the launcher: {exc.strerror or exc} ({exc.filename or ''})") from None
    return files[-1]


def _check_target(target: Path) -> None:
    if target.is_symlink():
        raise DesktopEntryError(f"{target} is a symbolic link (to {os.readlink(target)}); fghash will not write "
                                f"through it: remove the link and install again")
    if target.exists() and not target.is_file():
        raise DesktopEntryError(f"{target} exists and is not a regular file (a folder?); remove it and install again")
    for folder in target.parents:
        if folder.exists():
            if not folder.is_dir():
                raise DesktopEntryError(f"cannot install {target}: {folder} is a file, not a folder")
            break


def _replace(target: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `target`, then rename it over `target` (a crash leaves the old
    file or the new one; a rename replaces a directory entry, never the file a link points to)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def uninstall(home: Path | None = None) -> list[Path]:
    """Remove what install() wrote; returns the files that were there."""
    removed = []
    for path in installed_files(home):
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed
