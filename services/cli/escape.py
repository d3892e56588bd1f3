"""Text from the wire made safe for a terminal: control and format characters are shown escaped.

Dead letters, errors and progress messages are written by other roles (or by an attacker through them); an ESC
sequence in them must not reach the terminal raw (it can rewrite the screen, set the title, hide lines).
"""

from __future__ import annotations

import unicodedata

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})  # controls, format (bidi overrides), the rest


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control/format character written as ``\\xNN`` / ``\\uNNNN`` (newlines kept if asked)."""
    if text.isprintable():
        return text
    return "".join(_escaped(ch, keep_newlines) for ch in text)


def _escaped(ch: str, keep_newlines: bool) -> str:
    if ch == "\n" and keep_newlines:
        return ch
    if unicodedata.category(ch) not in _UNSAFE_CATEGORIES:
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
