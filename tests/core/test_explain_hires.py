"""Explanations at the file's resolution: the same region as the eval crop, sharp, with a colour bar,
an output size and the query's panel beside the image's."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_explain_engine import image_file, run  # noqa: F401  (fixtures; pytest puts tests/core on sys.path)

from core import engine
from core.cli import main
from core.explain.hires import at_resolution, eval_crop_box, file_region
from core.explain.images import prepare_image
from core.explain.overlay import colorbar, colormap_lut
from core.explain.types import Explanation

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _smooth_photo(path, width=300, height=200):
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([x / width * 255, y / height * 255, (x + y) / (width + height) * 255], axis=2)
    Image.fromarray(img.astype(np.uint8)).save(path)
    return path


@pytest.mark.parametrize("size", [(300, 200), (200, 300), (97, 131)])
def test_region_is_the_eval_crop_at_file_resolution(tmp_path, size):
    path = _smooth_photo(tmp_path / "photo.png", *size)
    left, top, right, bottom = eval_crop_box(*size, image_size=64, resize_size=73)
    # square up to the int() of the long side in torchvision Resize
    assert right - left == pytest.approx(bottom - top, rel=0.01) and 0 <= left and right <= size[0] + 1e-6
    sharp = file_region(path, 64, 73)
    assert sharp.shape[0] == sharp.shape[1] == max(64, round(right - left))
    same_size = file_region(path, 64, 73, out_size=64).astype(float)
    network_view = prepare_image(path, 64, 73).image.astype(float)
    assert np.abs(same_size - network_view).mean() < 3.0  # same region, only the resampling differs


def test_maps_follow_the_image_to_its_new_size():
    rng = np.random.default_rng(0)
    heat = rng.random((32, 32)).astype(np.float32)
    mask = np.zeros((32, 32), bool)
    mask[4:12, 8:16] = True
    erased = np.full((32, 32, 3), 7, np.uint8)
    expl = Explanation(kind="srem", image=np.zeros((32, 32, 3), np.uint8), heatmap=heat, mask=mask)
    big = at_resolution(expl, np.full((128, 128, 3), 200, np.uint8))
    assert big.heatmap.shape == big.mask.shape == (128, 128) and big.mask.dtype == np.bool_
    assert 0 <= big.heatmap.min() and big.heatmap.max() <= 1
    assert big.mask.mean() == pytest.approx(mask.mean())  # squares stay squares (nearest neighbour)
    from core.explain.types import ExtraMap

    with_erased = Explanation(kind="srem", image=expl.image, mask=mask, extras=(ExtraMap("erased", erased),))
    out = at_resolution(with_erased, np.full((64, 64, 3), 200, np.uint8)).extra("erased")
    assert (out[at_resolution(with_erased, out).mask] == 7).all() and out[0, 0, 0] == 200  # sharp outside


def test_colorbar_runs_from_one_at_the_top_to_zero_at_the_bottom():
    bar = colorbar(200, "viridis")
    lut = colormap_lut("viridis")
    column = bar[:, 3]
    coloured = column[(column != 255).any(axis=1)]
    assert (coloured[0] == lut[255]).all() and (coloured[-1] == lut[0]).all()


def test_engine_and_cli_draw_at_file_resolution_side_by_side(run, tmp_path, capsys):  # noqa: F811
    paths, _ = run
    photo = _smooth_photo(tmp_path / "photo.png", 640, 480)
    expl = engine.explain(photo, paths.run_id, "cam", resolution="file", device="cpu")
    side = expl.image.shape[0]  # the 48 px crop of a 56 px resize covers 48/56 of the 480 px short side
    assert side == pytest.approx(480 * 48 / 56, abs=5) and expl.heatmap.shape == (side, side)
    small = engine.explain(photo, paths.run_id, "cam", resolution="file", out_size=100, device="cpu")
    assert small.heatmap.shape == (100, 100)
    out = tmp_path / "pair.png"
    assert main(["explain", str(paths.root), str(photo), "--with", str(photo), "--kind", "gradcam",
                 "--out-size", "120", "--device", "cpu", "-o", str(out)]) == 0
    picture = np.asarray(Image.open(out))
    assert "120x120 region of the file" in capsys.readouterr().out
    assert picture.shape[1] > 4 * 120 and 120 < picture.shape[0] < 200  # two titled panels of image | map | bar
