"""Text for terminal tables: file names and ids may hold newlines or escape sequences (a crafted image
name could fake result lines or recolour the terminal), so every value a CLI table prints goes through
`printable`."""

from __future__ import annotations

import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(value: object) -> str:
    """str(value) with control and format characters (C0/C1 controls, DEL, bidi overrides, line and
    paragraph separators) written as escapes such as \\n, \\x1b, \\u202e; other text unchanged."""
    text = str(value)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable() or unicodedata.category(ch) == "Zs":  # no-break and other spaces are harmless
            out.append(ch)
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    return "".join(out)
