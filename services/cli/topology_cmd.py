"""``handoff topology apply|show``: create or update the streams, consumers and buckets."""

from __future__ import annotations

import argparse
import json

import msgspec

from handoff.broker.connect import Broker
from handoff.broker.provision import Action
from handoff.cli.exit_codes import Exit
from handoff.cli.failures import broker_failures
from handoff.common.logging import configure_logging
from handoff.common.settings import CommonSettings
from handoff.schemas.topology import build_topology


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("topology", help="create or update streams, consumers and buckets (idempotent)")
    parser.add_argument("action", choices=("apply", "show"), help="apply: create or update; show: print the spec")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    settings = CommonSettings.from_env()
    configure_logging(settings.log)
    topology = build_topology(settings.topology)
    if args.action == "show":
        print(msgspec.json.format(msgspec.json.encode(topology), indent=2).decode())
        return Exit.OK
    with broker_failures("cannot apply topology"):
        async with Broker(settings, name="handoff-topology", apply=True) as broker:
            changes = broker.changes
    if args.json:
        print(json.dumps([msgspec.to_builtins(c) for c in changes]))
    else:
        for change in changes:
            print(change)
        if all(c.action == Action.UNCHANGED for c in changes):
            print("topology unchanged")
    return Exit.OK
