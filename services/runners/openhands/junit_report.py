"""What pytest's junit xml says about a run: its counts, its failed cases and their messages, and the name under
which it reports a node id."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

MESSAGE_CHARS = 200  # of a failed case's message


def junit_address(node_id: str) -> str:
    """A node id as pytest's junit xml names its case, "classname::name" ("tests/test_x.py::TestA::test_b" ->
    "tests.test_x.TestA::test_b")."""
    path, bracket, params = node_id.partition("[")
    names = path.split("::")
    names[0] = names[0].replace("/", ".").removesuffix(".py")
    names[-1] += bracket + params
    return ".".join(names[:-1]) + "::" + names[-1]


@dataclass(frozen=True, slots=True)
class JunitReport:
    collected: int = 0
    failed: int = 0  # failed or erroring
    skipped: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # "classname::name" -> the first line of its message


def read_junit(junit: Path) -> JunitReport:
    """What pytest's junit xml counts, and its failed or erroring cases (empty without a readable file)."""
    if not junit.exists():
        return JunitReport()
    try:
        root = ET.parse(junit).getroot()
    except ET.ParseError:
        return JunitReport()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    failures = {}
    for case in root.iter("testcase"):
        for outcome in (*case.findall("failure"), *case.findall("error")):
            message = (outcome.get("message") or "").strip().split("\n", 1)[0]
            failures[f"{case.get('classname', '')}::{case.get('name', '')}"] = message[:MESSAGE_CHARS]
            break
    return JunitReport(
        collected=sum(int(s.get("tests", 0)) for s in suites),
        failed=sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites),
        skipped=sum(int(s.get("skipped", 0)) for s in suites),
        failures=failures,
    )
