"""The one error a command raises to end with a message and an exit code."""

from __future__ import annotations

from handoff.cli.exit_codes import Exit


class CliError(Exception):
    """Ends a command with ``code`` after printing ``message`` to stderr."""

    def __init__(self, code: Exit, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
