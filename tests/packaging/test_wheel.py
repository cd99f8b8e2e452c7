"""The wheel as a user gets it: built from this checkout, installed into a fresh virtual environment, run
from a folder outside the checkout with nothing of the source tree on the path.

torch, Qt and the other dependencies (gigabytes) are not installed again: the fresh environment sees the
test environment's site-packages through a .pth line, which adds that folder to sys.path without running
the .pth files inside it, so the editable install of this checkout stays invisible there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{args}\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str], Path]:
    """(the fresh environment's bin folder, an environment for running it, a working folder)."""
    work = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    # Built from a copy without build outputs: setuptools reuses an existing build/ folder, so a stale
    # one in the checkout would slip files into the wheel that the sources no longer name.
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(work / "dist"),
          str(source)], cwd=work, env=env)
    wheel = next((work / "dist").glob("fghash-*.whl"))
    target = work / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
          str(wheel)], cwd=work, env=env)
    run_env = {**env, "FGHASH_HOME": str(work / "home"), "FGHASH_CACHE": str(work / "cache"),
               "XDG_DATA_HOME": str(work / "share"), "QT_QPA_PLATFORM": "offscreen"}
    return target / "bin", run_env, work


def test_wheel_installs_only_our_names(installed):
    bin_dir, env, work = installed
    code = ("import core, fghash_gui, sysconfig, pathlib; site = pathlib.Path(sysconfig.get_paths()['purelib']); "
            "print(core.__file__); print(fghash_gui.__file__); print((site / 'resources').exists())")
    out = _run([str(bin_dir / "python"), "-c", code], cwd=work, env=env).stdout.splitlines()
    venv_root = bin_dir.parent
    assert Path(out[0]).is_relative_to(venv_root) and Path(out[1]).is_relative_to(venv_root)
    assert out[2] == "False"  # no top-level resources/ folder in site-packages


def test_cli_help_and_version(installed):
    bin_dir, env, work = installed
    assert "train" in _run([str(bin_dir / "fghash"), "--help"], cwd=work, env=env).stdout
    from core import __version__

    assert _run([str(bin_dir / "fghash"), "--version"], cwd=work, env=env).stdout.strip() == f"fghash {__version__}"


def test_demo_runs_from_the_wheel(installed):
    bin_dir, env, work = installed
    out = _run([str(bin_dir / "fghash"), "demo", "--no-gui", "--epochs", "1", "--image-size", "32"], cwd=work,
               env=env, timeout=600)
    assert "mAP" in out.stdout


def test_gui_starts_offscreen_with_stylesheet_and_icon(installed):
    bin_dir, env, work = installed
    code = ("from fghash_gui.app import launch; from fghash_gui.assets import asset; "
            "from PySide6.QtWidgets import QApplication; w = launch([]); app = QApplication.instance(); "
            "assert app.styleSheet() == asset('style.qss').read_text(encoding='utf-8') != ''; "
            "assert not app.windowIcon().isNull(); print(asset('style.qss')); w.close()")
    out = _run([str(bin_dir / "python"), "-c", code], cwd=work, env=env).stdout.strip().splitlines()[-1]
    assert Path(out).is_relative_to(bin_dir.parent) and Path(out).parent.name == "resources"


def test_desktop_entry_points_at_the_installed_launcher(installed):
    bin_dir, env, work = installed
    _run([str(bin_dir / "fghash-gui"), "--install-desktop-entry"], cwd=work, env=env)
    text = (work / "share" / "applications" / "fghash.desktop").read_text(encoding="utf-8")
    assert f"Exec={bin_dir / 'fghash-gui'}\n" in text


def test_the_shipped_study_files_are_in_the_wheel(installed):
    bin_dir, env, work = installed
    out = _run([str(bin_dir / "fghash"), "study", "list", "--examples"], cwd=work, env=env).stdout
    for name in ("demo", "fcaenet-table1", "fcaenet-table4", "multifusnet-table3", "multifusnet-fig9"):
        assert f"\n{name} " in f"\n{out}", out
    assert "fghash_gui/resources/studies" in out  # read from the installed package, not a checkout
