"""engine.explain and `fghash explain` on a run folder with a (random-init) checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core import engine
from core.base.errors import RunError
from core.cli import main
from core.config.train_config import TrainConfig
from core.explain import Explainer, clear_cache
from core.models.factory import build_model
from core.models.srem import srem_mask
from core.runs.catalog import create_run
from core.runs.checkpoint import save_checkpoint

torch.set_num_threads(2)


@pytest.fixture
def run(fghash_home, tmp_path):
    cfg = TrainConfig(method="fcaenet", backbone="resnet18", weights="none", bits=12, image_size=48,
                      resize_size=56, device="cpu")
    torch.manual_seed(0)
    model = build_model(cfg, 4)
    paths = create_run(cfg)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    save_checkpoint(paths, 1, cfg, tensors, num_classes=4, fingerprint="test", driver={})
    clear_cache()
    yield paths, model
    clear_cache()


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "bird.png"
    img = np.zeros((70, 50, 3), np.uint8)
    img[10:40, 5:30] = (200, 150, 20)
    Image.fromarray(img).save(path)
    return path


def test_engine_explain_uses_the_checkpoint(run, image_file) -> None:
    paths, model = run
    e = engine.explain(image_file, paths.run_id, "srem", regions=7, size=6, device="cpu")
    assert e.image.shape == (48, 48, 3) and e.mask.shape == (48, 48)
    ex = engine.explainer(paths, "cpu")
    assert isinstance(ex, Explainer) and engine.explainer(paths.root, "cpu") is ex  # cached per checkpoint
    p = ex.prepare(image_file)
    with torch.no_grad():
        expected = srem_mask(model.eval().feature_map(p.tensor), (48, 48), 7, 6)  # the saved weights
    np.testing.assert_array_equal(e.mask, expected[0].numpy() == 0)
    g = engine.explain(image_file, ex, "gradcam", target_image=image_file, method="gradcam++")
    assert g.heatmap.shape == (48, 48) and g.score > 0


def test_engine_explain_errors(run, image_file, tmp_path) -> None:
    paths, _ = run
    with pytest.raises(RunError, match="no run"):
        engine.explain(image_file, "nonexistent-run", "cam")
    empty = create_run(TrainConfig(backbone="resnet18", weights="none"))
    with pytest.raises(RunError, match="checkpoint"):
        engine.explain(image_file, empty, "cam")


@pytest.mark.parametrize("kind,extra", [
    ("cam", []), ("gradcam", ["--method", "eigencam"]), ("srem", ["--regions", "5", "--size", "8"]),
])
def test_cli_writes_png(run, image_file, tmp_path, capsys, kind, extra) -> None:
    paths, _ = run
    out = tmp_path / f"{kind}.png"
    rc = main(["explain", str(paths.root), str(image_file), "--kind", kind, "--device", "cpu",
               "--colormap", "viridis", "--alpha", "0.7", *extra, "-o", str(out)])
    assert rc == 0 and out.exists()
    assert f"wrote {out}" in capsys.readouterr().out
    panel = np.asarray(Image.open(out))
    assert panel.ndim == 3 and panel.shape[1] > 2 * 48  # image beside its explanation
    solo = tmp_path / "solo.png"
    assert main(["explain", "latest", str(image_file), "--kind", kind, "--overlay-only", *extra, "-o", str(solo)]) == 0
    assert np.asarray(Image.open(solo)).shape == (48, 48, 3)


def test_cli_reports_user_errors(run, image_file, tmp_path, capsys) -> None:
    paths, _ = run
    assert main(["explain", str(paths.root), str(tmp_path / "nope.jpg"), "-o", str(tmp_path / "x.png")]) == 2
    assert "nope.jpg" in capsys.readouterr().err
    assert main(["explain", str(paths.root), str(image_file), "--kind", "levels", "-o", str(tmp_path / "x.png")]) == 2
    assert "Multi-FusNet" in capsys.readouterr().err
    assert main(["explain", str(paths.root), str(image_file), "-o", str(tmp_path / "x.jpg")]) == 2
    assert ".png" in capsys.readouterr().err


def test_dataset_images_are_explained_with_the_dataset_crop(run, image_file, monkeypatch) -> None:
    """An aircraft image is explained without its banner, as training and encoding saw it."""
    from core.explain.images import prepare_image

    paths, _ = run
    ex = engine.explainer(paths, "cpu")
    no_codes = ex.prepare(image_file)  # the run has no saved codes yet: no dataset crop
    np.testing.assert_array_equal(no_codes.image, prepare_image(image_file, 48, 56).image)
    monkeypatch.setattr("core.retrieval.session.open_session", lambda run: type("S", (), {
        "dataset_crop": staticmethod(lambda path: 20 if str(path) == str(image_file) else 0)})())
    banner_cut = ex.prepare(image_file)
    cropped = Image.open(image_file).convert("RGB").crop((0, 0, 50, 50))
    np.testing.assert_array_equal(banner_cut.image, prepare_image(cropped, 48, 56).image)
    assert not np.array_equal(banner_cut.image, no_codes.image)
