"""Keep a project's pytest-cov from taking coverage away from Handoff's measurement.

Handoff measures with ``python -m coverage run -m pytest``. A project whose pytest configuration adds ``--cov``
(wcwidth 0.9.4's ``tox.ini`` addopts: ``--cov=wcwidth --cov-append --cov-report=html``) makes pytest-cov start a
coverage of its own inside that run; it replaces the tracer, so Handoff's data file holds nothing ("No data was
collected") and every target reads "not imported by any test", and it writes ``.coverage`` and ``htmlcov/`` into
the tree. pytest-cov's ``--no-cov`` turns it off; the option exists only where pytest-cov is installed.
"""

from __future__ import annotations

from pathlib import Path


def no_cov_args(python: Path) -> list[str]:
    """``["--no-cov"]`` when pytest-cov is installed in the virtualenv of ``python`` (``<env>/bin/python``)."""
    env = python.parent.parent
    return ["--no-cov"] if any(env.glob("lib/python3*/site-packages/pytest_cov/__init__.py")) else []
