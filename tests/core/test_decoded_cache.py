"""The pre-decoded uint8 cache and the batched device augmentation (TrainConfig.data_cache), on the CPU
with tiny images: built once, rebuilt when an image changes, the eval view equal to eval_transform bit for
bit, crops drawn as RandomResizedCrop draws them, and a short training run that uses it."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from PIL import Image
from test_training import _tiny, events_and_result  # pytest puts tests/core on sys.path

from core.base.events import Log, Progress
from core.data.decoded_cache import cache_file, ensure_decoded
from core.data.gpu_augment import RATIO, SCALE, center_crop_normalize, crop_boxes, random_resized_crop_flip
from core.data.records import ImageRecord
from core.data.transforms import eval_transform
from core.encoding.encode import drain

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _images(folder, sizes) -> list[ImageRecord]:
    rng = np.random.default_rng(0)
    records = []
    for i, (w, h) in enumerate(sizes):
        path = folder / f"img{i}.jpg"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path, quality=90)
        records.append(ImageRecord(str(path), i % 2, "train"))
    return records


def test_built_once_and_rebuilt_when_an_image_changes(tmp_path):
    records = _images(tmp_path, [(50, 37), (37, 61), (40, 40)])
    folder = tmp_path / "cache"
    events, decoded = events_and_result(ensure_decoded(records, 36, folder=folder, batch_size=2))
    assert [e.done for e in events if isinstance(e, Progress)] == [0, 2, 3]
    assert any(isinstance(e, Log) and "decoded once to 36x36" in e.message for e in events)
    assert len(decoded) == 3 and decoded[1][0].shape == (3, 36, 36) and decoded[1][0].dtype == torch.uint8
    assert decoded[2][1:] == (0, 2)  # label and index like ImageDataset
    again, _ = events_and_result(ensure_decoded(records, 36, folder=folder))
    assert again == []  # opened, not rebuilt
    os.utime(records[0].path, ns=(1, 1))  # the image changed on disk: a new cache
    assert cache_file(records, 36, folder) != decoded.path
    assert any(isinstance(e, Progress) for e in events_and_result(ensure_decoded(records, 36, folder=folder))[0])


def test_undecodable_images_are_substituted_and_reported(tmp_path):
    records = _images(tmp_path, [(40, 40), (40, 40), (40, 40)])
    with open(records[2].path, "wb") as fh:
        fh.write(b"not a jpeg")
    events, decoded = events_and_result(ensure_decoded(records, 32, folder=tmp_path / "c", substitute="blank"))
    assert set(decoded.undecodable()) == {2} and "could not be decoded" in events[-1].message
    blank = decoded[2][0]
    assert (blank == blank[:, :1, :1]).all()  # one flat colour


def test_cached_eval_view_equals_eval_transform_exactly(tmp_path):
    records = _images(tmp_path, [(50, 37), (37, 61), (71, 44), (48, 48)])
    decoded = drain(ensure_decoded(records, 36, folder=tmp_path / "c"))
    batch = torch.stack([decoded[i][0] for i in range(len(records))])
    ours = center_crop_normalize(batch, 32)
    transform = eval_transform(32, 36)
    reference = torch.stack([transform(Image.open(r.path).convert("RGB")) for r in records])
    assert torch.equal(ours, reference)


def test_crop_boxes_follow_random_resized_crop():
    gen = torch.Generator().manual_seed(0)
    top, left, h, w = crop_boxes(4000, 60, 80, gen).unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 60).all() and (left + w <= 80).all()
    area = h * w / (60 * 80)
    assert area.min() >= SCALE[0] - 0.02 and area.max() <= 1.0
    ratio = w / h
    assert ratio.min() >= RATIO[0] - 0.1 and ratio.max() <= RATIO[1] + 0.1
    # the same distribution as torchvision's own draws (means of 4000 samples within a few standard errors)
    from torchvision.transforms import RandomResizedCrop

    torch.manual_seed(0)
    ref = torch.tensor([RandomResizedCrop.get_params(torch.zeros(3, 60, 80), SCALE, RATIO) for _ in range(4000)],
                       dtype=torch.float32)
    ref_area = ref[:, 2] * ref[:, 3] / (60 * 80)
    assert abs(float(area.mean() - ref_area.mean())) < 0.02
    assert abs(float(ratio.log().mean() - (ref[:, 3] / ref[:, 2]).log().mean())) < 0.02
    again = crop_boxes(4000, 60, 80, torch.Generator().manual_seed(0))
    assert torch.equal(again, torch.stack([top, left, h, w], 1))


def test_full_box_without_flip_is_the_normalised_image(monkeypatch):
    """The affine mapping: a box covering the whole image, resampled at the same size, returns the pixels;
    with a flip, the mirrored pixels."""
    from core.data import gpu_augment

    images = torch.randint(0, 256, (2, 3, 24, 24), dtype=torch.uint8)
    monkeypatch.setattr(gpu_augment, "crop_boxes", lambda b, h, w, g: torch.tensor([[0.0, 0.0, h, w]] * b))
    gen = torch.Generator().manual_seed(1)
    out = random_resized_crop_flip(images, 24, gen)
    flips = torch.rand(2, generator=torch.Generator().manual_seed(1)) < 0.5
    expected = center_crop_normalize(images, 24)
    for i in range(2):
        want = expected[i].flip(-1) if flips[i] else expected[i]
        torch.testing.assert_close(out[i], want, atol=1e-4, rtol=0)
    assert out.dtype == torch.float32 and out.shape == (2, 3, 24, 24)


@pytest.mark.slow
def test_training_with_the_cache(fghash_cache):
    """An ADSH run with data_cache on the CPU: the train and test splits are decoded once (a second run
    reuses them), the batches reach the network as augmented floats, the run finishes above random codes."""
    from core.training.driver import train

    cfg = _tiny("adsh", epochs=2, data_cache=True, image_size=32, resize_size=36)
    events = list(train(cfg))
    logs = [e.message for e in events if isinstance(e, Log)]
    assert sum("decoded once to 36x36" in m for m in logs) == 2  # train and test splits
    from core.retrieval.service import run_chance_map

    assert events[-1].status == "finished" and events[-1].final_map > run_chance_map(events[-1].run_dir)
    second = list(train(cfg.replace(epochs=1)))
    assert not any("decoded once" in e.message for e in second if isinstance(e, Log))
    assert all(math.isfinite(e.loss) for e in second if hasattr(e, "loss"))


def test_cli_flag_and_the_paper_augmentation_refusal():
    from core.base.errors import ConfigError
    from core.cli import build_parser
    from core.cli.train import configs_from_args

    parser = build_parser()
    (cfg,) = configs_from_args(parser.parse_args(["train", "--method", "adsh", "--data-cache"]))
    assert cfg.data_cache and not configs_from_args(parser.parse_args(["train", "--method", "adsh"]))[0].data_cache
    with pytest.raises(ConfigError, match="paper augmentation"):
        configs_from_args(parser.parse_args(["train", "--method", "multifusnet", "--preset", "paper", "--data-cache"]))
