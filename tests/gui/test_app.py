"""The entry point: `fghash-gui [RUN]` styles the app, shows the window and opens RUN in Browse."""

from __future__ import annotations

import pytest

from fghash_gui import app as app_module


def test_stylesheet_ships_with_the_app():
    assert "QTabBar::tab" in app_module.stylesheet()


def test_launch_opens_the_given_run(qapp, qtbot, trained_runs):
    run_id = trained_runs["adsh"].run_id
    window = app_module.launch([run_id])
    window.confirm_stop_training = lambda: True
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.browse.result is not None, timeout=120_000)
    assert window.isVisible() and bool(qapp.styleSheet())
    assert window.tabs.currentWidget() is window.browse
    assert window.browse.run_id == run_id
    assert len(window.browse.grid.result_model.cells) == 10


def test_unknown_run_is_reported_not_raised(qtbot):
    window = app_module.launch(["no-such-run"])
    window.confirm_stop_training = lambda: True
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=30_000)  # resolved on the worker
    assert "no-such-run" in window.last_error


def test_help_lists_the_run_argument(capsys):
    with pytest.raises(SystemExit):
        app_module.parse_args(["--help"])
    assert "RUN" in capsys.readouterr().out.upper()
