"""Reading MATLAB .mat metadata (Oxford Flowers, Stanford Dogs) with readable errors.

scipy.io.loadmat trusts the structure of a level-5 MAT file: a single flipped byte (a "complex" flag
with no imaginary part, an unknown data type code in a numeric array) makes its C reader crash the whole
process with a segmentation fault, which no `except` can catch. So before scipy sees a file, `check_mat5`
walks its element tree in Python (decompressing miCOMPRESSED elements, with a size cap) and refuses
anything whose tags, sizes, classes or data types are not what MATLAB writes, with a DatasetError.
"""

from __future__ import annotations

import io
import struct
import zlib
from math import prod
from pathlib import Path
from typing import Any

from core.base.errors import DatasetError

MAX_INFLATED = 64 * 2 ** 20  # metadata .mat files are KBs; a bigger inflated element is a bomb or garbage
_MAX_DEPTH = 8  # cells inside cells: the datasets use one level
_MAX_ELEMENTS = 10 ** 8

_MI_MATRIX, _MI_COMPRESSED = 14, 15
_MI_SIZE = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8}  # numeric miTypes -> bytes
_MI_CHAR = {1, 2, 3, 4, 5, 6, 16, 17, 18}  # miTypes a char array's data may use (16-18: UTF-8/16/32)
_MX_CELL, _MX_CHAR = 1, 4
_MX_NUMERIC = set(range(6, 16))  # double, single, int8 ... uint64


class _Bad(Exception):
    """Structural problem found by check_mat5 (becomes a DatasetError naming the file)."""


def load_mat(path: Path, kind: str, layout: str) -> dict[str, Any]:
    """scipy.io.loadmat(path) -> {variable: array}; DatasetError naming the file when it cannot be read
    or its structure is not a plain MAT v5 file of numeric, char and cell arrays."""
    import scipy.io

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{kind}: cannot read {path}: {exc.strerror or exc}. Expected layout: {layout}") from None
    try:
        check_mat5(data)
    except NotImplementedError:
        raise DatasetError(f"{kind}: {path} is a MATLAB v7.3 (HDF5) file; save it with -v7 or older. "
                           f"Expected layout: {layout}") from None
    except _Bad as exc:
        raise DatasetError(f"{kind}: {path} is not a valid MATLAB .mat file ({exc}). "
                           f"Expected layout: {layout}") from None
    try:
        return scipy.io.loadmat(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - scipy raises MatReadError, ValueError, TypeError... on damaged files
        raise DatasetError(f"{kind}: cannot read {path} as a MATLAB .mat file ({exc}). "
                           f"Expected layout: {layout}") from None


def check_mat5(data: bytes) -> None:
    """Raise _Bad unless `data` is a well-formed level-5 MAT file (NotImplementedError for v7.3 / HDF5)."""
    if len(data) < 128:
        raise _Bad(f"{len(data)} bytes, shorter than the 128-byte MAT header")
    order = {b"IM": "<", b"MI": ">"}.get(data[126:128])
    if order is None:
        raise _Bad("no MAT v5 endian indicator in the header (a MAT v4 file, or not a .mat file)")
    version = struct.unpack_from(order + "H", data, 124)[0]
    if version == 0x0200:
        raise NotImplementedError
    if version != 0x0100:
        raise _Bad(f"unknown MAT version 0x{version:04x}")
    pos = 128
    while pos < len(data):
        mtype, payload, pos = _tag(data, pos, order)
        if mtype == _MI_COMPRESSED:
            inner = _inflate(payload)
            ipos = 0
            while ipos < len(inner):
                itype, ipayload, ipos = _tag(inner, ipos, order)
                if itype != _MI_MATRIX:
                    raise _Bad(f"compressed element holds data type {itype}, not a matrix")
                _matrix(ipayload, order, 0)
        elif mtype == _MI_MATRIX:
            _matrix(payload, order, 0)
        else:
            raise _Bad(f"top-level element of data type {mtype}, not a matrix")


def _tag(buf: bytes, pos: int, order: str) -> tuple[int, bytes, int]:
    """(data type, payload, position of the next element) of the element at `pos`, bounds-checked."""
    if pos + 4 > len(buf):
        raise _Bad(f"truncated element tag at byte {pos}")
    first = struct.unpack_from(order + "I", buf, pos)[0]
    small = first >> 16
    if small:  # small data element: 2-byte size, 2-byte type, up to 4 bytes of data in the tag itself
        if small > 4 or pos + 8 > len(buf):
            raise _Bad(f"bad small data element at byte {pos}")
        return first & 0xFFFF, buf[pos + 4:pos + 4 + small], pos + 8
    if pos + 8 > len(buf):
        raise _Bad(f"truncated element tag at byte {pos}")
    mtype, size = struct.unpack_from(order + "II", buf, pos)
    start = pos + 8
    if start + size > len(buf):
        raise _Bad(f"element at byte {pos} claims {size} bytes; only {len(buf) - start} follow")
    end = start + size
    if mtype != _MI_COMPRESSED:
        end += -size % 8  # elements are padded to 8 bytes (compressed ones are not)
    return mtype, buf[start:start + size], min(end, len(buf))


def _inflate(payload: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(payload, MAX_INFLATED)
    except zlib.error as exc:
        raise _Bad(f"damaged compressed element ({exc})") from None
    if inflater.unconsumed_tail:
        raise _Bad(f"a compressed element inflates to more than {MAX_INFLATED // 2 ** 20} MB")
    return out


def _matrix(payload: bytes, order: str, depth: int) -> None:
    """Check one miMATRIX element: array flags, dimensions, name, then the data its class needs."""
    if depth > _MAX_DEPTH:
        raise _Bad("cell arrays nested too deeply")
    if not payload:
        return  # an empty matrix element (MATLAB writes these for empty cells)
    ftype, flags, pos = _tag(payload, 0, order)
    if ftype != 6 or len(flags) != 8:
        raise _Bad("array flags missing")
    word = struct.unpack_from(order + "I", flags, 0)[0]
    mx_class, is_complex = word & 0xFF, bool((word >> 8) & 0x08)
    dtype, dims_raw, pos = _tag(payload, pos, order)
    if dtype != 5 or len(dims_raw) % 4 or len(dims_raw) < 8:
        raise _Bad("array dimensions missing")
    dims = struct.unpack(order + f"{len(dims_raw) // 4}i", dims_raw)
    if min(dims) < 0 or prod(dims) > _MAX_ELEMENTS:
        raise _Bad(f"implausible array dimensions {dims}")
    count = prod(dims)
    ntype, _name, pos = _tag(payload, pos, order)
    if ntype != 1:
        raise _Bad("array name missing")
    if mx_class == _MX_CELL:
        for _ in range(count):
            ctype, cell, pos = _tag(payload, pos, order)
            if ctype != _MI_MATRIX:
                raise _Bad(f"cell entry of data type {ctype}, not a matrix")
            _matrix(cell, order, depth + 1)
    elif mx_class == _MX_CHAR:
        ctype, _chars, pos = _tag(payload, pos, order)
        if ctype not in _MI_CHAR or is_complex:
            raise _Bad(f"char array with data type {ctype}")
    elif mx_class in _MX_NUMERIC:
        for part in ("real", "imaginary")[: 1 + is_complex]:
            vtype, values, pos = _tag(payload, pos, order)
            if vtype not in _MI_SIZE:
                raise _Bad(f"{part} part of a numeric array has data type {vtype}")
            if len(values) != count * _MI_SIZE[vtype]:
                raise _Bad(f"{part} part holds {len(values)} bytes for {count} values of data type {vtype}")
    else:  # struct, object, sparse, function handles: never in the datasets' metadata
        raise _Bad(f"unsupported MATLAB array class {mx_class} (only numeric, char and cell arrays are read)")
