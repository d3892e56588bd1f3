"""The one structlog setup. Console renderer on a terminal, JSON otherwise; ``task_id`` comes from contextvars.

Services call ``configure_logging`` once at start; code logs with ``structlog.get_logger()`` and binds
per-message context with ``structlog.contextvars.bound_contextvars(task_id=...)``. Fields named like secrets
are masked, and every rendered line passes the process's redactor (``handoff.common.secrets``).
"""

from __future__ import annotations

import logging
import sys

import structlog

from handoff.common.secrets import process_redactor
from handoff.common.settings import LogSettings

_SECRET_KEYS = frozenset({"api_key", "password", "token", "secret", "authorization"})


def _redact_secrets(_: object, __: str, event_dict: structlog.typing.EventDict) -> structlog.typing.EventDict:
    for key in list(event_dict):
        if key.lower() in _SECRET_KEYS:
            event_dict[key] = "***"
    return event_dict


def _redact_rendered(_: object, __: str, line: structlog.typing.EventDict | str) -> str:
    """Last step: the rendered line (tracebacks included) with every configured secret value masked."""
    if not isinstance(line, str):
        raise TypeError("_redact_rendered must come after a renderer that returns text")
    return process_redactor()(line)


def _stderr_logger(*_: object) -> structlog.PrintLogger:
    # sys.stderr looked up when a logger is made, not when logging is configured: whoever replaced it since
    # (a test's capture, a daemonising wrapper) gets the output, and a closed old stream is never written to
    return structlog.PrintLogger(file=sys.stderr)


def configure_logging(settings: LogSettings | None = None) -> None:
    settings = settings or LogSettings()
    as_json = settings.json if settings.json is not None else not sys.stderr.isatty()
    level = logging.getLevelNamesMapping().get(settings.level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_secrets,
            structlog.processors.format_exc_info if as_json else structlog.processors.StackInfoRenderer(),
            renderer,
            _redact_rendered,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
