"""``handoff schemas export|check``: the JSON Schema files of the wire contract."""

from __future__ import annotations

import argparse
import sys

from handoff.cli.exit_codes import Exit
from handoff.schemas import export


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "schemas", help="export or check the wire contract files: schemas/json/*.schema.json, schemas/asyncapi.json"
    )
    parser.add_argument(
        "action", choices=("export", "check"), help="export: write the files; check: compare them with the code"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "export":
        for path in export.write():
            print(f"wrote {path}")
        return Exit.OK
    stale = export.stale_files()
    if stale:
        print(f"stale contract files (run 'handoff schemas export'): {', '.join(stale)}", file=sys.stderr)
        return Exit.TASK_FAILED
    print("schemas/json and schemas/asyncapi.json are up to date")
    return Exit.OK
