"""A pre-decoded uint8 image cache: each image decoded once, stored memory-mapped, read at GPU speed.

Decoding JPEGs with PIL costs a few milliseconds per image and core: on a 16-core machine that caps a
run near a few thousand images/s, under what one H100 trains at. With `TrainConfig.data_cache` the
images of a split are decoded once (with progress), resized so the shorter side is `side` pixels and
centre-cropped to side x side (exactly what the evaluation transform does before its own centre crop),
and written as one (N, 3, side, side) uint8 .npy file. Loader workers then only copy 3 * side^2 bytes
per image; the random crop, flip and normalisation run batched on the training device
(core.data.gpu_augment).

Cache files live in <cache dir>/decoded/ (core.data.demo.cache_dir: $FGHASH_CACHE or the user cache
dir), named by a key over the split's records (path, label, file size and modification time) and the
side, so a changed image or label list builds a new file. Written atomically (a temporary file, then a
rename); an interrupted build leaves no cache. Undecodable images are handled as in
core.data.dataset.ImageDataset (substitute, counted, reported through `undecodable()`), at build time.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Generator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision import transforms as T

from core.base.events import Log, Progress
from core.data.records import ImageRecord

FORMAT_VERSION = 1


def cache_key(records: Sequence[ImageRecord], side: int, substitute: str = "same_class") -> str:
    """sha256 (16 hex) over the format, the side, the substitute policy and every record's path, label,
    size and mtime."""
    h = hashlib.sha256(f"fghash-decoded {FORMAT_VERSION} {int(side)} {substitute}".encode())
    for r in records:
        try:
            st = os.stat(r.path)
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        h.update(f"\n{r.path}\t{r.label}\t{r.crop_bottom}\t{stamp}".encode())
    return h.hexdigest()[:16]


def cache_file(records: Sequence[ImageRecord], side: int, folder: Path | None = None,
               substitute: str = "same_class") -> Path:
    """Where the cache of these records at this side lives (it may not exist yet)."""
    from core.data.demo import cache_dir

    folder = folder or cache_dir() / "decoded"
    return folder / f"{cache_key(records, side, substitute)}-{int(side)}px.npy"


def square_uint8_transform(side: int) -> T.Compose:
    """PIL image -> (3, side, side) uint8 tensor: Resize(side) on the shorter side + CenterCrop(side)."""
    return T.Compose([T.Resize(side), T.CenterCrop(side), T.PILToTensor()])


def ensure_decoded(records: Sequence[ImageRecord], side: int, *, num_workers: int = 0, batch_size: int = 64,
                   folder: Path | None = None, phase: str = "decode images", substitute: str = "same_class",
                   ) -> Generator[Progress | Log, None, "DecodedImages"]:
    """The cache for these records at this side, building it first if absent (Progress per batch, and a Log
    saying where and how long). Returns a DecodedImages dataset over it. substitute: what replaces an
    undecodable image, as in ImageDataset ("same_class" for training, "blank" for queries)."""
    from core.base.atomic import atomic_write_json
    from core.data.dataset import ImageDataset, skip_summary
    from core.data.loader import loader_batches

    path = cache_file(records, side, folder, substitute)
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        return DecodedImages(path, records)
    path.parent.mkdir(parents=True, exist_ok=True)
    total = len(records)
    dataset = ImageDataset(records, square_uint8_transform(side), substitute=substitute)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        generator=torch.Generator())  # keeps the global RNG untouched
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    start = time.perf_counter()
    yield Progress(phase, 0, total, None)
    try:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(total, 3, side, side))
        done = 0
        for images, _labels, index in loader_batches(loader):
            array[index.numpy()] = images.numpy()
            done += len(index)
            elapsed = time.perf_counter() - start
            yield Progress(phase, done, total, elapsed / done * (total - done))
        array.flush()
        del array
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    meta = {"format": FORMAT_VERSION, "side": side, "count": total, "substitute": substitute,
            "undecodable": {str(i): m for i, m in dataset.undecodable().items()}}
    atomic_write_json(meta_path, meta)
    seconds = time.perf_counter() - start
    summary = skip_summary(dataset, "images")
    yield Log(f"{phase}: {total} images decoded once to {side}x{side} in {seconds:.1f} s "
              f"({total / max(seconds, 1e-9):.0f} images/s), {path.stat().st_size / 2**20:.0f} MB at {path}"
              + (f"; {summary}" if summary else ""))
    return DecodedImages(path, records)


class DecodedImages(torch.utils.data.Dataset):
    """Items `(image, label, index)` like ImageDataset, but the image is the cached (3, side, side) uint8
    tensor: the augmentation (or the evaluation centre crop) runs later, batched, on the device.

    The file is memory-mapped on first access in each process (DataLoader workers map it themselves;
    pickling never copies the pixels)."""

    def __init__(self, path: Path, records: Sequence[ImageRecord]) -> None:
        self.path = Path(path)
        self.records = tuple(records)
        meta = json.loads(self.path.with_suffix(".json").read_text())
        self._undecodable = {int(i): m for i, m in meta["undecodable"].items()}
        self.side = int(meta["side"])
        self.substitute = meta["substitute"]
        self._array: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r", allow_pickle=False)
        return torch.from_numpy(np.array(self._array[index])), self.records[index].label, index

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_array": None}

    @property
    def skipped(self) -> set[int]:
        return set(self._undecodable)

    def undecodable(self) -> dict[int, str]:
        """{index: error message} of the images that could not be decoded when the cache was built."""
        return dict(self._undecodable)
