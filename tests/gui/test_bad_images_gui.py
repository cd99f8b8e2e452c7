"""Bad and odd image files in the GUI: thumbnails get a placeholder, a dropped bad file is reported in the
Browse panel and the status bar and the panel keeps working; odd-but-valid files query normally."""

from __future__ import annotations

import time

from badimages import BAD, ODD, good_image_bytes, write_bad_images

from fghash_gui.widgets.thumbnails import ThumbnailLoader
from fghash_gui.workers import RequestRunner


def _drop(browse, path):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    browse.dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))


def test_thumbnails_of_bad_files_are_placeholders(qtbot, tmp_path):
    files = write_bad_images(tmp_path)
    runner = RequestRunner()
    try:
        loader = ThumbnailLoader(runner, size=64)
        start = time.perf_counter()
        loader.prefetch([str(p) for p in files.values()])
        qtbot.waitUntil(lambda: loader.pending() == 0, timeout=30_000)
        elapsed = time.perf_counter() - start
        for name, path in files.items():
            pixmap = loader.get(str(path))
            if name in BAD:
                assert pixmap is loader.broken, name
            else:
                assert pixmap is not None and pixmap is not loader.broken, name
                assert 1 <= max(pixmap.width(), pixmap.height()) <= 64, name
        assert elapsed < 10, f"thumbnails of the bad/odd files took {elapsed:.1f} s"
    finally:
        runner.shutdown()


def test_dropping_bad_files_on_browse_reports_and_stays_usable(window, trained_runs, qtbot, tmp_path):
    browse = window.browse
    with qtbot.waitSignal(browse.results_shown, timeout=60_000):
        window.open_run(trained_runs["fcaenet"].run_id)
    files = write_bad_images(tmp_path)
    for name in sorted(BAD):
        window.last_error = None
        _drop(browse, files[name])
        qtbot.waitUntil(lambda: window.last_error is not None, timeout=30_000)
        assert str(files[name]) in window.last_error and "\n" not in window.last_error
        assert window.statusBar().currentMessage().startswith("cannot "), name
        assert browse.query_label.text().startswith(f"{name}: query failed: cannot "), name
        assert browse.grid.model().rowCount() == 0 and browse.result is None and browse.query_path is None
        window._error_box.accept()
        # a k change does not resend the failed file
        browse.k_combo.setCurrentText("20")
        browse.k_combo.setCurrentText("10")
    good = tmp_path / "good.png"
    good.write_bytes(good_image_bytes(3, size=48))
    with qtbot.waitSignal(browse.results_shown, timeout=30_000):
        _drop(browse, good)
    assert browse.grid.model().rowCount() == browse.k()
    assert browse.query_label.text().startswith("good.png")
    for name in sorted(ODD):
        with qtbot.waitSignal(browse.results_shown, timeout=30_000):
            _drop(browse, files[name])
        assert browse.result.result.query_path == str(files[name])
        assert browse.grid.model().rowCount() == browse.k()
