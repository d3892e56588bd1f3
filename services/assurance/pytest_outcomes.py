"""pytest plugin (loaded with ``-p handoff_outcomes``): writes each test's outcome and failure message as JSON
to $HANDOFF_OUTCOMES_FILE: ``{"outcomes": {node id: outcome}, "messages": {node id: message}}``.

Copied next to the checks' data, outside the tree under test; it uses nothing but the standard library.
"""

import json
import os

_outcomes: dict[str, str] = {}
_messages: dict[str, str] = {}


def pytest_runtest_logreport(report):
    if report.skipped:
        if report.when == "call" and hasattr(report, "wasxfail"):  # ran, and failed as its xfail mark expects
            _outcomes[report.nodeid] = "xfailed"
        elif report.when == "setup":
            _outcomes.pop(report.nodeid, None)
        return
    if report.failed:
        _outcomes[report.nodeid] = "failed" if report.when == "call" else "error"
        crash = getattr(report.longrepr, "reprcrash", None)
        message = getattr(crash, "message", None) or str(report.longrepr).strip().splitlines()[-1:]
        _messages.setdefault(report.nodeid, message if isinstance(message, str) else " ".join(message))
    elif report.when == "call" and report.nodeid not in _outcomes:
        _outcomes[report.nodeid] = "passed"


def pytest_sessionfinish(session):
    path = os.environ.get("HANDOFF_OUTCOMES_FILE")
    if path:
        with open(path, "w") as handle:
            json.dump({"outcomes": _outcomes, "messages": _messages}, handle)
