"""pytest plugin (loaded with ``-p handoff_outcomes``): writes each test's outcome and failure message as JSON
to $HANDOFF_OUTCOMES_FILE: ``{"outcomes": {node id: outcome}, "messages": {node id: message},
"collection_errors": {node id: message}, "internal_error": str}``.

Copied next to the checks' data, outside the tree under test; it uses nothing but the standard library.
"""

import json
import os
import traceback

_outcomes: dict[str, str] = {}
_messages: dict[str, str] = {}
_collection_errors: dict[str, str] = {}
_internal_error: list[str] = []
_rootdir: list[str] = []


def pytest_configure(config):
    _rootdir.append(str(config.rootpath))


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


def pytest_collectreport(report):
    """A module (or package) that could not be collected: its error lines ("E   ..."), else the first lines of
    pytest's message (a refusal such as a collector built without from_parent), leaving out "See https://..."."""
    if report.failed:
        lines = [line.strip() for line in str(report.longrepr).splitlines() if line.strip()]
        errors = [line[1:].strip() for line in lines if line.startswith("E ")]
        told = [line for line in lines if not line.startswith(("See http://", "See https://"))]
        _collection_errors[report.nodeid or "."] = " ".join(errors[-2:] or told[:2] or lines[-1:])[:500]


def pytest_internalerror(excrepr, excinfo):
    """pytest stopped on an exception of its own or one it does not expect (e.g. SystemExit while importing a
    test module): the exception, and the last frame inside the rootdir that raised it."""
    what = traceback.format_exception_only(excinfo.type, excinfo.value)[-1].strip()
    root = _rootdir[0] if _rootdir else ""
    frames = [
        f
        for f in traceback.extract_tb(excinfo.tb)
        if root and f.filename.startswith(root + os.sep) and os.sep + "site-packages" + os.sep not in f.filename
    ]
    if frames:
        frame = frames[-1]
        where = os.path.relpath(frame.filename, root)
        what += f", raised at {where}:{frame.lineno}" + (f" ({frame.line.strip()})" if frame.line else "")
    _internal_error.append(what[:500])


def pytest_sessionfinish(session):
    path = os.environ.get("HANDOFF_OUTCOMES_FILE")
    if path:
        with open(path, "w") as handle:
            json.dump(
                {
                    "outcomes": _outcomes,
                    "messages": _messages,
                    "collection_errors": _collection_errors,
                    "internal_error": _internal_error[0] if _internal_error else "",
                },
                handle,
            )
