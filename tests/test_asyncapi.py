"""The AsyncAPI document: valid for the AsyncAPI parser, complete, and true to the deploy/ permissions."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from handoff.schemas import asyncapi, names
from handoff.schemas.events import ALL_EVENT_TYPES

ROOT = Path(__file__).resolve().parent.parent
VALIDATOR = ROOT / ".ci" / "asyncapi"
ACCOUNTS = ROOT / "deploy" / "nats" / "accounts.conf"
SAMPLE_TOKENS = {"{run_id}": "run1", "{task_id}": "task1", "{origin}": "generator"}


def parse_with_asyncapi_parser(path: Path) -> tuple[int, dict]:
    node = shutil.which("node")
    assert node, (
        "Node.js is needed for the AsyncAPI parser: bash .ci/bootstrap installs it (apt-get install nodejs npm)"
    )
    assert (VALIDATOR / "node_modules" / "@asyncapi" / "parser").is_dir(), (
        "run bash .ci/bootstrap (npm ci in .ci/asyncapi)"
    )
    done = subprocess.run(
        [node, str(VALIDATOR / "validate.js"), str(path)], capture_output=True, text=True, timeout=120
    )
    return done.returncode, json.loads(done.stdout)


def test_the_committed_document_parses_without_errors_in_the_asyncapi_parser() -> None:
    """@asyncapi/parser reads schemas/asyncapi.json with no error and sees every channel, operation and message."""
    code, report = parse_with_asyncapi_parser(ROOT / "schemas" / "asyncapi.json")
    errors = [d for d in report["diagnostics"] if d["severity"] == 0]
    assert code == 0 and errors == []
    assert sorted(report["channels"]) == sorted(c.address for c in asyncapi.CHANNELS)
    assert len(report["operations"]) == len(asyncapi.OPERATIONS)
    assert sorted(report["messages"]) == sorted(t.__name__ for t in ALL_EVENT_TYPES)


def test_the_parser_rejects_a_document_that_breaks_the_specification(tmp_path: Path) -> None:
    """The check above can fail: an operation with an unknown action is an error for the parser."""
    document = asyncapi.document()
    next(iter(document["operations"].values()))["action"] = "publish"  # AsyncAPI 2 wording, invalid in 3.0
    broken = tmp_path / "asyncapi.json"
    broken.write_text(json.dumps(document))
    code, report = parse_with_asyncapi_parser(broken)
    assert code == 1 and any(d["severity"] == 0 for d in report["diagnostics"])


def test_every_event_type_has_a_channel_and_a_sender_and_a_receiver() -> None:
    """No event travels undocumented: each has a channel, someone who sends it and someone who receives it."""
    by_event = {c.event: c.key for c in asyncapi.CHANNELS}
    assert set(by_event) == set(ALL_EVENT_TYPES)
    for key in by_event.values():
        actions = {op.action for op in asyncapi.OPERATIONS if op.channel == key}
        assert actions == {"send", "receive"}, key


def permissions() -> dict[str, dict[str, list[str]]]:
    """role -> {"publish": [...], "subscribe": [...]} as deploy/nats/accounts.conf allows them."""
    text = "\n".join(line.split("#", 1)[0] for line in ACCOUNTS.read_text().splitlines())
    roles: dict[str, dict[str, list[str]]] = {}
    for role, body in re.findall(r"^(\w+)_PERMISSIONS\s*=\s*\{(.*?)^\}", text, flags=re.M | re.S):
        roles[role.lower()] = {
            kind: re.findall(r'"([^"]+)"', match.group(1)) if (match := re.search(
                kind + r":\s*\{\s*allow:\s*\[(.*?)\]", body, flags=re.S)) else []
            for kind in ("publish", "subscribe")
        }  # fmt: skip
    return roles


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: '*' is one token, '>' one or more trailing tokens."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def test_every_operation_is_allowed_by_the_deploy_permissions_of_its_role() -> None:
    """A role the document says sends or receives a channel holds the NATS permission to do it (admin: all)."""
    allowed = permissions()
    assert {"pipeline", "generator", "collector"} <= set(allowed)
    for op in asyncapi.OPERATIONS:
        if op.role == "admin":
            continue
        channel = next(c for c in asyncapi.CHANNELS if c.key == op.channel)
        subject = channel.address
        for placeholder, token in SAMPLE_TOKENS.items():
            subject = subject.replace(placeholder, token)
        rules = allowed[op.role]
        if op.via == "core":
            kind = "publish" if op.action == "send" else "subscribe"
            assert any(matches(p, subject) for p in rules[kind]), f"{op.role} may not {kind} {subject}"
        else:
            stream = op.via.removeprefix("jetstream:")
            reads = (f"$JS.API.CONSUMER.MSG.NEXT.{stream}.", f"$JS.API.CONSUMER.CREATE.{stream}",
                     f"$JS.API.DIRECT.GET.{stream}")  # fmt: skip
            assert any(p.startswith(reads) for p in rules["publish"]), f"{op.role} cannot read {stream}"
        assert subject.startswith(f"{names.PREFIX}.")


def test_the_permission_check_notices_a_role_without_the_permission() -> None:
    """The matcher used above says no where NATS would."""
    assert matches("handoff.evt.*.*.submitted", "handoff.evt.run1.task1.submitted")
    assert not matches("handoff.evt.*.*.started", "handoff.evt.run1.task1.submitted")
    assert matches("handoff.dlq.>", "handoff.dlq.generator")
    assert not matches("handoff.cancel.*", "handoff.cancel.a.b")
