"""Rectangles."""

from __future__ import annotations


def area(width: float, height: float) -> float:
    if width < 0 or height < 0:
        raise ValueError("sides must be >= 0")
    return width * height


def describe(width: float, height: float) -> str:
    if width == height:
        return "square"
    return "rectangle"
