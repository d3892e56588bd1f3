"""Cutting text for a line: what was cut is marked, never silently lost."""

from __future__ import annotations


def clipped(text: str, limit: int) -> str:
    """``text`` when it fits in ``limit`` characters, else its start and an ellipsis (``limit`` in all)."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"
