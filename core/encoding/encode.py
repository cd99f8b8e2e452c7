"""Encode images with a hashing network: batched, with Progress events and cooperative cancel.

ADSH methods keep learned codes V for the database they were trained on; images added to a database
later have no V row and are encoded with the network instead (`encode_new_images`, same as queries).

Bad images (truncated, empty, not an image, too large; see core.data.images): encoding never fails on
one and always returns one code per record, in record order, so codes, labels and paths stay aligned.
An undecodable image is encoded from a blank image of the ImageNet mean colour (core.data.dataset,
substitute="blank"): never from another image of its class, which would hand an unreadable query a code
that carries its label and inflate the evaluation. Each call that met such files yields one Log warning
(level "warning") counting them and naming the first few with their reasons. Callers that must refuse
bad files instead (a user's query, images added to a database) decode them first with
core.data.images.load_rgb, which raises ImageDecodeError.

Precision: codes are always computed in float32, with autocast switched off even inside a caller's
autocast region. A code is a sign, and float16 / bfloat16 flip the sign of outputs near 0, so one image
would get different codes from different precisions. float32 is the one precision every device runs
identically: the saved query and database codes of a run (`encode_run_codes`, used by the training
driver for the queries and by Multi-FusNet for its database) then equal what `fghash query` / the
session compute later for the same image, on a GPU or a CPU. Encoding is a small part of a run's time
(one pass over the splits per evaluation), so AMP would save little there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader

from core.base.errors import Cancelled
from core.base.events import Log, Progress
from core.data.records import ImageRecord
from core.search.codes import to_pm1


def encode_records(
    model: nn.Module,
    records: Sequence[ImageRecord],
    transform,
    device: torch.device,
    batch_size: int = 64,
    cancel: threading.Event | None = None,
    *,
    binary: bool = True,
    num_workers: int = 0,
    phase: str = "encode",
    decoded=None,
    crop: int | None = None,
) -> Generator[Progress | Log, None, torch.Tensor]:
    """Yield Progress(phase, done, total, eta_s) per batch; return the codes (len(records), bits) on the CPU.

    Then, only if some images could not be decoded, one Log warning saying how many and which.

    binary=True: float32 ±1 codes (sign, 0 -> +1); binary=False: the real network outputs.
    The model is put in eval mode (and left there) and runs in float32 with autocast off (see the module
    docstring). Raises core.base.errors.Cancelled if `cancel` is set between batches.
    decoded: a core.data.decoded_cache.DecodedImages of `records` (cached at the eval resize size) used
    instead of decoding with `transform`; its images are centre-cropped to `crop` on the device, which
    gives exactly the eval transform's pixels.
    """
    from core.data.dataset import ImageDataset, skip_summary
    from core.data.loader import loader_batches

    total = len(records)
    if total == 0:
        return torch.zeros(0, int(getattr(model, "bits", 0)))
    dataset = ImageDataset(records, transform, substitute="blank") if decoded is None else decoded
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, pin_memory=device.type == "cuda",
                        generator=torch.Generator())  # keeps the global RNG untouched (resume determinism)
    model.eval()
    channels_last = device.type == "cuda" and _is_channels_last(model)
    out: list[torch.Tensor] = []
    done = 0
    start = time.perf_counter()
    yield Progress(phase, 0, total, None)
    # autocast off even inside a caller's autocast region: codes come from float32 only
    with torch.inference_mode(), torch.autocast(device_type=device.type, enabled=False):
        for images, _labels, _index in loader_batches(loader):  # workers stop promptly on errors
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{phase} cancelled after {done} of {total} images")
            images = images.to(device, non_blocking=True)
            if decoded is not None:
                from core.data.gpu_augment import center_crop_normalize

                images = center_crop_normalize(images, crop)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            codes = model.encode(images)
            out.append(codes.float().cpu())
            done += images.shape[0]
            elapsed = time.perf_counter() - start
            yield Progress(phase, done, total, elapsed / done * (total - done))
    codes = torch.cat(out)
    summary = skip_summary(dataset, "images")
    if summary:
        yield Log(f"{phase}: {summary}", "warning")
    return to_pm1(codes) if binary else codes


def encode_run_codes(model: nn.Module, records: Sequence[ImageRecord], cfg, device: torch.device,
                     cancel: threading.Event | None = None, phase: str = "encode",
                     ) -> Generator[Progress | Log, None, torch.Tensor]:
    """±1 codes (len(records), bits) of a run's network for dataset records: the one encode path of the
    codes a run saves and evaluates (the training driver's queries and validation images, Multi-FusNet's
    database), with the run's eval transform, batch size and loader workers, in float32 (module docstring).
    With cfg.data_cache the images come from the pre-decoded cache, whose eval view has exactly the eval
    transform's pixels."""
    decoded = None
    if cfg.data_cache:
        from core.data.decoded_cache import ensure_decoded

        decoded = yield from ensure_decoded(records, cfg.resize_size, num_workers=cfg.num_workers,
                                            phase=f"decode images ({phase})", substitute="blank")
    return (yield from encode_records(model, records, run_eval_transform(cfg), device, cfg.batch_size, cancel,
                                      binary=True, num_workers=cfg.num_workers, phase=phase, decoded=decoded,
                                      crop=cfg.image_size))


def encode_new_images(model: nn.Module, records: Sequence[ImageRecord], transform, device: torch.device,
                      batch_size: int = 64, cancel: threading.Event | None = None,
                      ) -> Generator[Progress | Log, None, torch.Tensor]:
    """±1 codes for images that join an ADSH/FCAENet database after training (no learned V row):
    sign of the network output with the eval transform, exactly like a query."""
    return (yield from encode_records(model, records, transform, device, batch_size, cancel,
                                      binary=True, phase="encode new images"))


def run_eval_transform(cfg):
    """The eval transform of a run's config (Resize(resize_size) + CenterCrop(image_size))."""
    from core.data.transforms import eval_transform

    return eval_transform(cfg.image_size, cfg.resize_size)


def drain(gen: Generator, on_event: Callable[[object], None] | None = None) -> object:
    """Run a generator to the end and return its return value; each event it yields goes to on_event
    (ignored without one)."""
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(event)


def _is_channels_last(model: nn.Module) -> bool:
    for p in model.parameters():
        if p.dim() == 4:
            return p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
    return False
