"""Keep a project's pytest plugins from taking coverage away from Handoff's measurement.

Handoff measures with ``python -m coverage run -m pytest``. Two plugins a project's pytest configuration turns on
leave that run without data:

- pytest-cov: ``--cov`` in the addopts (wcwidth 0.9.4's ``tox.ini``: ``--cov=wcwidth --cov-append
  --cov-report=html``) makes it start a coverage of its own inside that run; it replaces the tracer, so Handoff's
  data file holds nothing ("No data was collected") and every target reads "not imported by any test", and it
  writes ``.coverage`` and ``htmlcov/`` into the tree. Its ``--no-cov`` turns it off.
- pytest-xdist: ``-n auto`` in the addopts runs the tests in worker processes, which the coverage run does not
  trace. ``-n 0`` runs them in pytest's own process (``--dist`` too).

Each option exists only where its plugin is installed, so it is passed only then.
"""

from __future__ import annotations

from pathlib import Path

# the plugin's package folder in site-packages -> what turns it off for one run
OFF: dict[str, tuple[str, ...]] = {"pytest_cov": ("--no-cov",), "xdist": ("-n", "0")}


def plugins_off_args(python: Path) -> list[str]:
    """The options that turn off each plugin of ``OFF`` installed in the virtualenv of ``python``
    (``<env>/bin/python``)."""
    env = python.parent.parent
    return [arg for package, off in OFF.items() if any(env.glob(f"lib/python3*/site-packages/{package}/__init__.py"))
            for arg in off]  # fmt: skip
