"""``handoff schemas export|check``: the JSON Schema files of the wire contract."""

from __future__ import annotations

import argparse
import sys

from schemas import export
from services.cli.exit_codes import Exit


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("schemas", help="export or check the JSON Schema files in schemas/json/")
    parser.add_argument(
        "action", choices=("export", "check"), help="export: write schemas/json; check: compare with it"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "export":
        for name in export.write():
            print(f"wrote {export.JSON_DIR / name}")
        return Exit.OK
    stale = export.stale_files()
    if stale:
        print(f"stale JSON Schema files (run 'handoff schemas export'): {', '.join(stale)}", file=sys.stderr)
        return Exit.TASK_FAILED
    print("schemas/json is up to date")
    return Exit.OK
