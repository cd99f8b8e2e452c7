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
import sys
from pathlib import Path

from fghash_gui.assets import ICON_SIZES, asset

APP_ID = "fghash"


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


def _quote(arg: str) -> str:
    """An Exec argument, quoted as the Desktop Entry spec requires when it holds reserved characters."""
    if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`%'):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'.replace("%", "%%")


def desktop_entry(command: list[str]) -> str:
    """The text of fghash.desktop for COMMAND."""
    exec_line = " ".join(_quote(a) for a in command)
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.5",
        "Name=fghash",
        "GenericName=Deep hashing workbench",
        "Comment=Train, browse and explain fine-grained image retrieval by deep hashing",
        f"Exec={exec_line}",
        f"TryExec={command[0]}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Science;ArtificialIntelligence;Graphics;",
        "Keywords=hashing;retrieval;image;FCAENet;Multi-FusNet;ADSH;",
        f"StartupWMClass={APP_ID}",
        "",
    ])


def installed_files(home: Path | None = None) -> list[Path]:
    """Every file install() writes, in the order it writes them."""
    home = home or data_home()
    icons = home / "icons" / "hicolor"
    return ([icons / f"{n}x{n}" / "apps" / f"{APP_ID}.png" for n in ICON_SIZES]
            + [icons / "scalable" / "apps" / f"{APP_ID}.svg", home / "applications" / f"{APP_ID}.desktop"])


def install(home: Path | None = None, command: list[str] | None = None) -> Path:
    """Write the icons and the desktop entry; returns the .desktop path. The entry is written last, so a
    launcher never points at a missing icon."""
    files = installed_files(home)
    sources = [asset(f"{APP_ID}-{n}.png") for n in ICON_SIZES] + [asset(f"{APP_ID}.svg")]
    for source, target in zip(sources, files):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    entry = files[-1]
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(desktop_entry(command or launcher_command()), encoding="utf-8")
    return entry


def uninstall(home: Path | None = None) -> list[Path]:
    """Remove what install() wrote; returns the files that were there."""
    removed = []
    for path in installed_files(home):
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed
