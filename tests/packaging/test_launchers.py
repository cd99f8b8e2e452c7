"""The installed app's pieces, tested from the source checkout: resources found through importlib.resources,
the window icon, the desktop launcher, and the launchers' refusal of another distribution's `core`."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fghash_gui import desktop_entry
from fghash_gui.assets import ICON_SIZES, asset, assets_dir

ROOT = Path(__file__).resolve().parents[2]


def test_assets_are_the_checkouts_resources_folder():
    assert assets_dir() == ROOT / "resources"
    assert "QTabBar::tab" in asset("style.qss").read_text(encoding="utf-8")
    for size in ICON_SIZES:
        assert asset(f"fghash-{size}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in asset("fghash.svg").read_bytes()


def test_window_icon_has_every_size(qapp):
    from fghash_gui.app import create_app

    app = create_app()
    sizes = {(s.width(), s.height()) for s in app.windowIcon().availableSizes()}
    assert {(n, n) for n in ICON_SIZES} <= sizes
    assert app.desktopFileName() == "fghash"


def _read_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def test_install_and_uninstall_desktop_entry(tmp_path: Path):
    launcher = tmp_path / "my venv" / "bin" / "fghash-gui"
    path = desktop_entry.install(home=tmp_path / "share", command=[str(launcher)])
    assert path == tmp_path / "share" / "applications" / "fghash.desktop"
    entry = _read_entry(path)
    assert entry["Type"] == "Application" and entry["Name"] == "fghash" and entry["Icon"] == "fghash"
    assert entry["Exec"] == f'"{launcher}"'  # a path with a space is quoted, as the spec requires
    assert entry["TryExec"] == str(launcher)
    for n in ICON_SIZES:
        assert (tmp_path / "share" / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "fghash.png").is_file()
    assert (tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "fghash.svg").is_file()
    removed = desktop_entry.uninstall(home=tmp_path / "share")
    assert len(removed) == len(ICON_SIZES) + 2
    assert not any(p.is_file() for p in (tmp_path / "share").rglob("*"))


def test_data_home_follows_xdg(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert desktop_entry.data_home() == tmp_path
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")  # not absolute: ignored, as the spec says
    assert desktop_entry.data_home() == Path.home() / ".local" / "share"


def test_cli_flag_installs_the_entry(tmp_path: Path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-m", "fghash_gui", "--install-desktop-entry"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    entry = _read_entry(tmp_path / "applications" / "fghash.desktop")
    assert entry["Exec"].endswith("-m fghash_gui")  # run as a module: the launcher runs the same python


@pytest.mark.parametrize("launcher", ["cli", "gui"])
def test_launchers_refuse_a_foreign_core(tmp_path: Path, launcher: str):
    foreign = tmp_path / "site" / "core"
    foreign.mkdir(parents=True)
    (foreign / "__init__.py").write_text("VALUE = 'another distribution'\n")
    # The foreign `core` comes first on the path (as an overwriting install would leave it); fghash_gui is ours.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT)])}
    code = f"from fghash_gui.engine_check import {launcher}; {launcher}()"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "not fghash's engine" in lines[0] and str(foreign) in lines[0]


def test_launcher_runs_our_engine(capsys):
    from fghash_gui.engine_check import engine_problem

    assert engine_problem() is None
