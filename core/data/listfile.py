"""Parsing '<relative path> <label>' list files (VegFru lists, Stanford Dogs train.txt / test.txt)."""

from __future__ import annotations

from pathlib import Path

from core.data.common import bad_line, read_lines


def read_path_label_list(path: Path, kind: str, layout: str) -> list[tuple[str, int]]:
    """Lines '<relpath> <integer label>' (split at the last whitespace, so paths may contain spaces)."""
    out: list[tuple[str, int]] = []
    expected = "'<relative path> <integer label>'"
    for lineno, line in read_lines(path, kind, layout):
        parts = line.rsplit(None, 1)
        if len(parts) != 2:
            raise bad_line(path, lineno, line, expected, kind, layout)
        relpath, label_text = parts[0].strip(), parts[1]
        try:
            label = int(label_text)
        except ValueError:
            raise bad_line(path, lineno, line, expected, kind, layout) from None
        if label < 0 or not relpath:
            raise bad_line(path, lineno, line, expected + " with a label >= 0", kind, layout)
        out.append((relpath.replace("\\", "/"), label))
    return out
