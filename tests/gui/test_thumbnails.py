"""Thumbnails: decoded on the worker at reduced size, cached, broken files get a placeholder."""

from __future__ import annotations

import numpy as np
from PIL import Image

from fghash_gui.widgets.thumbnails import ThumbnailLoader
from fghash_gui.workers import RequestRunner


def test_thumbnails_load_off_thread_and_are_cached(qtbot, tmp_path):
    big = tmp_path / "big.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (600, 900, 3), dtype=np.uint8)).save(big)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    runner = RequestRunner()
    try:
        loader = ThumbnailLoader(runner, size=64)
        assert loader.get(str(big)) is None and loader.get(str(broken)) is None  # queued, not decoded here
        qtbot.waitUntil(lambda: loader.pending() == 0, timeout=10_000)
        pixmap = loader.get(str(big))
        assert pixmap is not None and (pixmap.width(), pixmap.height()) == (64, 43)  # fits 64 px, keeps 3:2
        assert loader.get(str(big)) is pixmap  # cached
        assert loader.get(str(broken)) is loader.broken
    finally:
        runner.shutdown()
