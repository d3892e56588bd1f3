"""What can go wrong while assuring tests."""

from __future__ import annotations


class AssuranceError(Exception):
    """A check could not be carried out (not: a test failed it)."""


class CommandTimedOut(AssuranceError):
    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class ToolFailed(AssuranceError):
    """pytest, coverage or cosmic-ray ended in a way that gives no usable answer."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output
