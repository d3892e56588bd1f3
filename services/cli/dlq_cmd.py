"""``handoff dlq list|show|replay|purge``: inspect and act on dead letters."""

from __future__ import annotations

import argparse

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from handoff.cli.common import open_client, print_json
from handoff.cli.errors import CliError
from handoff.cli.escape import printable
from handoff.cli.exit_codes import Exit
from handoff.client.publishing import PublishFailed, publish_acked
from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder
from handoff.schemas.events import DeadLettered, TaskSubmitted

_dead: Decoder[DeadLettered] = Decoder(DeadLettered)
_submitted: Decoder[TaskSubmitted] = Decoder(TaskSubmitted)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dlq", help="dead letters: list, show, replay, purge")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = actions.add_parser("list", help="the dead letters, oldest first")
    ls.add_argument("--limit", type=int, default=100, help="show at most this many (default 100)")
    show = actions.add_parser("show", help="one dead letter in full")
    show.add_argument("seq", type=int, help="its sequence number (dlq list shows it)")
    replay = actions.add_parser("replay", help="publish a dead letter's original message again, then remove it")
    replay.add_argument("seq", type=int, help="its sequence number (dlq list shows it)")
    purge = actions.add_parser("purge", help="delete every dead letter")
    purge.add_argument("--yes", action="store_true", help="really delete them")
    for a in (ls, show, replay, purge):
        a.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


async def _get(js: JetStreamContext, seq: int) -> DeadLettered:
    try:
        raw = await js.get_msg(names.DLQ_STREAM, seq)
    except NotFoundError:
        raise CliError(Exit.NOT_FOUND, f"no dead letter with sequence {seq}") from None
    try:
        return _dead.decode(raw.data or b"")
    except DecodeError as exc:
        raise CliError(Exit.TASK_FAILED, f"dead letter {seq} is unreadable: {exc.message}") from exc


async def list_dead(js: JetStreamContext, limit: int) -> list[tuple[int, DeadLettered]]:
    info = await js.stream_info(names.DLQ_STREAM)
    found: list[tuple[int, DeadLettered]] = []
    seq = info.state.first_seq
    while info.state.messages and seq <= info.state.last_seq and len(found) < limit:
        try:
            raw = await js.get_msg(names.DLQ_STREAM, seq=seq, next=True, subject=names.DLQ_SUBJECTS[0])
        except NotFoundError:
            break
        assert raw.seq is not None
        try:
            found.append((raw.seq, _dead.decode(raw.data or b"")))
        except DecodeError:
            pass  # not ours; shown by count only
        seq = raw.seq + 1
    return found


def _line(seq: int, d: DeadLettered) -> str:
    return (
        f"{seq:>6}  {d.dead_lettered_at:%Y-%m-%d %H:%M:%S}  {printable(d.origin):<10} {d.reason:<18} "
        f"{d.task_id or '-':<34} {printable(d.detail[:60])}"
    )


def replayable(seq: int, d: DeadLettered) -> tuple[str, TaskSubmitted]:
    """The subject a dead letter's submit goes back to, computed from the submit's own ids, never from the
    subject stored in the letter (whoever wrote the letter chose that one). ``CliError`` for anything that is
    not a valid TaskSubmitted."""
    try:
        submitted = _submitted.decode(d.original)
    except DecodeError as exc:
        raise CliError(
            Exit.TASK_FAILED,
            f"dead letter {seq} cannot be replayed: its original message is not a valid task submit "
            f"({printable(exc.message[:200])}); nothing was published",
        ) from exc
    return names.task_subject(submitted.run_id, submitted.task_id, names.EventType.SUBMITTED), submitted


async def run(args: argparse.Namespace) -> int:
    async with open_client() as client:
        js = client.js
        if args.action == "list":
            items = await list_dead(js, args.limit)
            if args.json:
                print_json([{"seq": s, **_summary(d)} for s, d in items])
            elif not items:
                print("no dead letters")
            else:
                print(f"{'seq':>6}  {'when':<19}  {'origin':<10} {'reason':<18} {'task':<34} detail")
                for s, d in items:
                    print(_line(s, d))
            return Exit.OK
        if args.action == "show":
            d = await _get(js, args.seq)
            if args.json:
                print_json({"seq": args.seq, **_summary(d), "original": d.original.decode(errors="replace")})
            else:
                print(_line(args.seq, d))
                print(
                    f"  subject {printable(d.original_subject)}; deliveries {d.deliveries}; stream seq {d.stream_seq}"
                )
                print(f"  detail: {printable(d.detail)}")
                original = printable(d.original[:2000].decode(errors="replace"))
                print(f"  original ({len(d.original)} bytes): {original}")
            return Exit.OK
        if args.action == "replay":
            d = await _get(js, args.seq)
            subject, submitted = replayable(args.seq, d)
            try:
                await publish_acked(
                    js,
                    subject,
                    d.original,
                    msg_id=names.replay_msg_id(args.seq),
                    headers={names.Header.REPLAY_OF: str(args.seq)},
                    attempt_timeout_s=client.settings.nats.publish_timeout_s,
                    total_timeout_s=client.settings.submit_timeout_s,
                )
            except PublishFailed as exc:
                raise CliError(Exit.UNAVAILABLE, f"replay of {args.seq} failed: {exc}") from exc
            await js.delete_msg(names.DLQ_STREAM, args.seq)
            if args.json:
                print_json({"replayed": args.seq, "task_id": submitted.task_id, "subject": subject})
            else:
                print(
                    f"replayed dead letter {args.seq} (task {submitted.task_id}) to {subject} and removed it from "
                    "the dead-letter stream"
                )
            return Exit.OK
        # purge
        info = await js.stream_info(names.DLQ_STREAM)
        if not args.yes:
            raise CliError(Exit.USAGE, f"this deletes {info.state.messages} dead letter(s); add --yes to do it")
        await js.purge_stream(names.DLQ_STREAM)
        print_json({"purged": info.state.messages}) if args.json else print(
            f"purged {info.state.messages} dead letter(s)"
        )
        return Exit.OK


def _summary(d: DeadLettered) -> dict[str, object]:
    return {
        "at": d.dead_lettered_at.isoformat(),
        "origin": d.origin,
        "reason": str(d.reason),
        "task_id": d.task_id,
        "subject": d.original_subject,
        "detail": d.detail,
        "deliveries": d.deliveries,
    }
