"""Cutting text for a line: what was cut is marked, never silently lost."""

from __future__ import annotations

WORD_BACK_SHARE = 0.25
"""How far back from the limit a cut may move to end at a word: at most this share of the limit."""


def clipped(text: str, limit: int) -> str:
    """``text`` when it fits in ``limit`` characters, else its start and an ellipsis (``limit`` in all); the cut is
    made between words when a space falls in the last quarter of what is kept, so that no word is shown cut short
    (``crosshair faile…``)."""
    if len(text) <= limit:
        return text
    kept = text[: max(limit - 1, 0)]
    if not text[len(kept)].isspace():  # the cut falls inside a word: end at the word before it if it is near
        space = kept.rfind(" ")
        if space > 0 and space >= len(kept) * (1 - WORD_BACK_SHARE):
            kept = kept[:space]
    return kept.rstrip(" ;,") + "…"
