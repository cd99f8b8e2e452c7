"""Issue 22, item 10: the desktop entry cannot be injected into and never writes through a link."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fghash_gui import desktop_entry
from fghash_gui.desktop_entry import DesktopEntryError

ROOT = Path(__file__).resolve().parents[2]


def _entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)  # strict: a second Exec= raises
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def _unescape_string(value: str) -> str:
    """The spec's string-level escapes (\\s \\n \\t \\r \\\\), undone."""
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append({"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(value[i + 1], value[i:i + 2]))
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _exec_argument(quoted: str) -> str:
    """One quoted Exec argument read back as the spec says a launcher does."""
    inner = _unescape_string(quoted)
    assert inner[0] == inner[-1] == '"', inner
    out, i = [], 1
    while i < len(inner) - 1:
        if inner[i] == "\\":
            assert inner[i + 1] in '"`$\\', inner  # only these may be escaped inside quotes
            out.append(inner[i + 1])
            i += 2
        else:
            out.append(inner[i])
            i += 1
    return "".join(out).replace("%%", "%")


@pytest.mark.parametrize("name", ['dollar$HOME', 'quote"d', 'back\\slash', "tick`x", "per%cent", "all $\"\\`%"])
def test_reserved_characters_round_trip_through_exec_and_tryexec(tmp_path, name):
    launcher = str(tmp_path / name / "fghash-gui")
    path = desktop_entry.install(home=tmp_path / "share", command=[launcher])
    entry = _entry(path)
    assert _exec_argument(entry["Exec"]) == launcher
    assert _unescape_string(entry["TryExec"]) == launcher


@pytest.mark.parametrize("bad", ["line\nExec=/bin/evil", "tab\there", "cr\rx"])
def test_control_characters_are_refused_and_nothing_is_written(tmp_path, bad):
    with pytest.raises(DesktopEntryError, match="control character"):
        desktop_entry.install(home=tmp_path / "share", command=[f"/opt/{bad}/fghash-gui"])
    assert not (tmp_path / "share").exists()


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_the_entry_passes_desktop_file_validate(tmp_path):
    path = desktop_entry.install(home=tmp_path / "share", command=[str(tmp_path / 'a "b" $c\\d' / "fghash-gui")])
    out = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
    assert out.returncode == 0 and "error" not in out.stdout, out.stdout


def test_a_symlinked_entry_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    entry = tmp_path / "share" / "applications" / "fghash.desktop"
    entry.parent.mkdir(parents=True)
    entry.symlink_to(victim)
    with pytest.raises(DesktopEntryError, match="symbolic link"):
        desktop_entry.install(home=tmp_path / "share", command=["/usr/bin/fghash-gui"])
    assert victim.read_text() == "precious" and entry.is_symlink()
    assert not (tmp_path / "share" / "icons").exists()  # refused before the first icon


def test_cli_install_with_an_icon_folder_in_the_way_is_one_line(tmp_path):
    (tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "fghash.svg").mkdir(parents=True)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-m", "fghash_gui", "--install-desktop-entry"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "not a regular file" in out.stderr and "Traceback" not in out.stderr


def test_install_into_a_read_only_folder_is_one_error(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "share"))

    monkeypatch.setattr(desktop_entry.tempfile, "mkstemp", refuse)
    with pytest.raises(DesktopEntryError, match="cannot install the launcher: Permission denied"):
        desktop_entry.install(home=tmp_path / "share", command=["/usr/bin/fghash-gui"])
