"""Saved hash codes of a run: one file per split, `<run>/codes/<split>.npz`.

Contents (numpy .npz, no pickles): `format` (version), `bits`, `packed` (count, ceil(bits/8)) uint8 from
np.packbits of (code > 0) along bits, `labels` (count,) int64, `paths` (count,) unicode, `checksum`
(sha256 over all of them). The file is written atomically; loading checks every field and the checksum
and raises RunError naming the file, so a torn, edited or foreign file never yields wrong codes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.base.atomic import atomic_write
from core.base.errors import RunError, one_line
from core.base.safe_read import MAX_CODES_BYTES, open_regular

FORMAT_VERSION = 1
SPLIT_NAMES = ("query", "database")


@dataclass(frozen=True, eq=False)
class CodeSet:
    """Codes of one split. codes: (count, bits) int8 in {-1, +1}; packed: (count, ceil(bits/8)) uint8;
    labels: (count,) int64; paths: image path of each row."""

    split: str
    bits: int
    codes: np.ndarray
    packed: np.ndarray
    labels: np.ndarray
    paths: tuple[str, ...]
    checksum: str = ""  # sha256 of the stored fields (an index records it to detect stale files)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def codes_path(run_paths, split_name: str) -> Path:
    if split_name not in SPLIT_NAMES:
        raise ValueError(f"split_name must be one of {SPLIT_NAMES}; got {split_name!r}")
    return Path(run_paths.codes) / f"{split_name}.npz"


def has_codes(run_dir: str | Path) -> bool:
    """Whether a run folder has its database codes (training finished or stopped with codes saved)."""
    return (Path(run_dir) / "codes" / "database.npz").is_file()


def to_pm1_numpy(codes) -> np.ndarray:
    """±1 codes (torch or numpy, any real dtype) -> (count, bits) int8. Raises ValueError on other values."""
    try:
        import torch

        if isinstance(codes, torch.Tensor):
            codes = codes.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    arr = np.asarray(codes)
    if arr.ndim != 2:
        raise ValueError(f"codes must be a (count, bits) array; got shape {arr.shape}")
    if arr.size and not np.isin(arr, (-1, 1)).all():
        raise ValueError("codes must contain only -1 and +1 (binarise with sign() and map 0 to +1 first)")
    return arr.astype(np.int8)


def pack_codes(codes_pm1: np.ndarray) -> np.ndarray:
    """(count, bits) ±1 -> (count, ceil(bits/8)) uint8, bit set where the code is +1 (MSB first)."""
    return np.packbits(np.asarray(codes_pm1) > 0, axis=1)


def unpack_codes(packed: np.ndarray, bits: int) -> np.ndarray:
    """Inverse of pack_codes: (count, bits) int8 in {-1, +1}."""
    unpacked = np.unpackbits(packed, axis=1, count=bits).astype(np.int8)
    return unpacked * 2 - 1


def _checksum(bits: int, packed: np.ndarray, labels: np.ndarray, paths: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(f"fghash-codes:{FORMAT_VERSION}:{bits}:{packed.shape}".encode())
    h.update(np.ascontiguousarray(packed).tobytes())
    h.update(np.ascontiguousarray(labels.astype("<i8")).tobytes())
    h.update("\0".join(paths.tolist()).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def save_codes(run_paths, split_name: str, codes_pm1, labels, paths) -> Path:
    """Write one split's codes atomically. codes_pm1 (count, bits) ±1; labels (count,) int; paths (count,) str."""
    target = codes_path(run_paths, split_name)
    codes = to_pm1_numpy(codes_pm1)
    labels_arr = np.asarray(labels.detach().cpu().numpy() if hasattr(labels, "detach") else labels).astype(np.int64)
    labels_arr = labels_arr.reshape(-1)
    path_arr = np.array([str(p) for p in paths], dtype=np.str_)
    if not (codes.shape[0] == labels_arr.shape[0] == path_arr.shape[0]):
        raise ValueError(f"{codes.shape[0]} codes, {labels_arr.shape[0]} labels and {path_arr.shape[0]} paths differ")
    bits = int(codes.shape[1])
    packed = pack_codes(codes)
    fields = dict(format=np.int64(FORMAT_VERSION), bits=np.int64(bits), packed=packed, labels=labels_arr,
                  paths=path_arr if path_arr.size else np.zeros(0, dtype="<U1"),
                  checksum=np.array(_checksum(bits, packed, labels_arr, path_arr)))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **fields)

    return atomic_write(target, write)


def load_codes(run_paths, split_name: str, expected_bits: int | None = None) -> CodeSet:
    """Read and validate one split's codes. Raises RunError naming the file if it is missing or wrong.

    expected_bits: the run's configured code length; a file with another length is refused (codes of
    another run copied in, or a config edited after encoding). The file is only read."""
    target = codes_path(run_paths, split_name)
    if not target.exists():
        raise RunError(f"{target} is missing: the run has no saved {split_name} codes yet (training writes them when it finishes or is stopped)")
    try:
        # allow_pickle=False: an object array (a pickle inside the npz) is refused, never unpickled.
        with open_regular(target, what="codes file", limit=MAX_CODES_BYTES, error=RunError) as fh, \
                np.load(fh, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("a single array, not an .npz archive")
            fields = {name: data[name] for name in ("format", "bits", "packed", "labels", "paths", "checksum")}
    except RunError:
        raise
    except KeyError as exc:
        raise RunError(f"{target} is not an fghash codes file: field {exc} is missing") from None
    except ValueError as exc:
        if "pickle" not in str(exc):
            raise RunError(f"{target} is corrupt or not an fghash codes file ({one_line(exc)})") from None
        raise RunError(f"{target} holds pickled Python objects (or is not an .npz at all); refused, since reading "
                       f"them could run code: expected an fghash codes .npz of plain arrays") from None
    except Exception as exc:  # OSError, EOFError, BadZipFile, zlib errors...
        raise RunError(f"{target} is corrupt or not an fghash codes file ({one_line(exc)}); expected an .npz "
                       f"with fields format, bits, packed, labels, paths, checksum") from None
    version, bits = _scalar_int(fields["format"]), _scalar_int(fields["bits"])
    if version is None or bits is None:
        raise RunError(f"{target}: fields 'format' and 'bits' must be integers; got {fields['format']!r} and "
                       f"{fields['bits']!r}")
    if version > FORMAT_VERSION:
        raise RunError(f"{target} has codes format {version}, written by a newer fghash; this fghash reads "
                       f"format {FORMAT_VERSION}")
    if version != FORMAT_VERSION:
        raise RunError(f"{target} has codes format {version}; this fghash reads format {FORMAT_VERSION}")
    if not 1 <= bits <= 4096:
        raise RunError(f"{target}: {bits} bits per code is out of range (1..4096)")
    packed, labels, paths = fields["packed"], fields["labels"], fields["paths"]
    if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != (bits + 7) // 8:
        raise RunError(f"{target}: packed codes have shape {packed.shape} {packed.dtype}, expected (count, "
                       f"{(bits + 7) // 8}) uint8 for {bits} bits")
    if labels.dtype != np.int64 or labels.shape != (packed.shape[0],) or paths.shape != (packed.shape[0],) \
            or paths.dtype.kind != "U":
        raise RunError(f"{target}: {packed.shape[0]} codes but labels {labels.shape} {labels.dtype} and paths "
                       f"{paths.shape} {paths.dtype}; expected one int64 label and one path string per code")
    checksum = _checksum(bits, packed, labels, paths)
    if fields["checksum"].shape != () or str(fields["checksum"]) != checksum:
        raise RunError(f"{target} failed its checksum: the file was modified or damaged; re-encode the run")
    if expected_bits is not None and bits != int(expected_bits):
        raise RunError(f"{target} holds {bits}-bit codes but the run's config.json says {expected_bits} bits: "
                       f"these codes belong to another run or configuration")
    return CodeSet(split=split_name, bits=bits, codes=unpack_codes(packed, bits), packed=packed, labels=labels,
                   paths=tuple(paths.tolist()), checksum=checksum)


def _scalar_int(value: np.ndarray) -> int | None:
    """An integer stored as a 0-d numpy array, else None (a foreign or damaged field)."""
    if not isinstance(value, np.ndarray) or value.shape != () or value.dtype.kind not in "iu":
        return None
    return int(value)


def to_pm1(x: torch.Tensor) -> torch.Tensor:
    """sign with 0 -> +1 (sign(0) = 0 would leave codes that are neither bit)."""
    return torch.where(x >= 0, torch.ones((), dtype=x.dtype, device=x.device),
                       -torch.ones((), dtype=x.dtype, device=x.device))
