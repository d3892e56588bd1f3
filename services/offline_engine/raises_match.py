"""The ``match`` pattern of a ``pytest.raises`` an engine wrote, made readable.

CrossHair writes the message it saw through ``re.escape``: ``match='No\\ valid\\ header\\ found'``. A message
with no character a pattern treats specially is written as itself (``match='No valid header found'``); one with
such characters keeps only their escapes (``match='bad value: \\(1, 2\\)'``). Either pattern finds a message
exactly where the escaped one did (``re.search``, as pytest uses it). A pattern that is not an escaped text
(``\\d``, an unescaped ``.``) is left as it was.

Standard library only: it is part of the merge script the engine command carries (``merge_tests.py``).
"""

from __future__ import annotations

import ast
import re

# what a pattern treats specially outside a character class, with no flags (pytest.raises passes none);
# ``re.escape`` escapes more (space, ``#``, ``-``, ``&``, ``~``, ...) for verbose patterns and classes
PATTERN_SPECIALS = frozenset(".^$*+?{}[]\\|()")


def readable_matches(nodes: list[ast.stmt]) -> int:
    """Re-write the ``match='...'`` of every ``pytest.raises(...)`` (or ``raises(...)``) call in ``nodes`` as
    ``readable_pattern`` gives it; how many changed."""
    changed = 0
    for node in nodes:
        for call in ast.walk(node):
            if not isinstance(call, ast.Call) or _called_name(call.func) != "raises":
                continue
            for keyword in call.keywords:
                value = keyword.value
                if keyword.arg == "match" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                    readable = readable_pattern(value.value)
                    if readable != value.value:
                        value.value = readable
                        changed += 1
    return changed


def readable_pattern(pattern: str) -> str:
    """``pattern`` with the escapes its text does not need taken out, when it is an escaped text (every ``\\`` before
    a character that is not an ASCII letter or digit, every special character escaped); else ``pattern``."""
    text = _escaped_text(pattern)
    if text is None:
        return pattern
    readable = "".join("\\" + char if char in PATTERN_SPECIALS else char for char in text)
    # both patterns match the text itself and nothing but it (one more guard: an escape this reading got wrong
    # keeps the engine's pattern)
    same = re.fullmatch(pattern, text) is not None and re.fullmatch(readable, text) is not None
    return readable if same else pattern


def _escaped_text(pattern: str) -> str | None:
    """The text an escaped pattern stands for; None when ``pattern`` uses a character as a pattern would."""
    text: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if index + 1 == len(pattern):
                return None
            escaped = pattern[index + 1]
            if escaped.isascii() and escaped.isalnum():
                return None  # \d, \n, \1 ...: a class, an escape sequence or a back-reference, not the character
            text.append(escaped)
            index += 2
            continue
        if char in PATTERN_SPECIALS:
            return None
        text.append(char)
        index += 1
    return "".join(text)


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""
