"""Connections as one of the roles in ``deploy/nats/accounts.conf``, and how a refusal is observed.

The server answers a forbidden publish or subscription with ``-ERR 'Permissions Violation for <Publish|Subscription>
to "<subject>"'`` and drops it; nats-py hands that to the error callback (lower-cased) and keeps the connection.
A refused JetStream request therefore never gets a reply: the evidence of a refusal is the violation naming the
exact subject, which ``expect_refused`` waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Literal

import nats
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from tests.deploy.servers import ROLE_PASSWORDS
from tests.support.nats import eventually

Action = Literal["publish", "subscription"]


def inbox_prefix(role: str) -> str:
    """The inbox prefix a role's permissions allow (admin keeps the default)."""
    return "_INBOX" if role == "admin" else f"_INBOX_{role}"


class RoleClient:
    """A NATS connection as one role that records the permission violations the server reports."""

    def __init__(self, nc: NATS, role: str, violations: list[str]) -> None:
        self.nc = nc
        self.role = role
        self.violations = violations

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream()

    @classmethod
    async def connect(
        cls,
        servers: str | list[str],
        role: str,
        *,
        password: str | None = None,
        reconnect: bool = False,
        inbox_role: str | None = None,
    ) -> RoleClient:
        """Connect as user ``role``; with ``reconnect`` it moves to another server of a cluster when its own dies.
        ``inbox_role``: the role whose inbox prefix to use, for a user named otherwise (a tenant's ``pipeline-x``)."""
        violations: list[str] = []

        async def on_error(exc: Exception) -> None:
            text = str(exc).lower()
            if "permissions violation" in text:
                violations.append(text)

        nc = await nats.connect(
            servers,
            user=role,
            password=password or ROLE_PASSWORDS[role],
            name=f"test-{role}",
            error_cb=on_error,
            max_reconnect_attempts=-1 if reconnect else 0,
            reconnect_time_wait=0.2,
            connect_timeout=5,
            inbox_prefix=inbox_prefix(inbox_role or role),
        )
        return cls(nc, role, violations)

    def violated(self, action: Action, subject: str) -> bool:
        wanted = f'permissions violation for {action} to "{subject.lower()}"'
        return any(wanted in v for v in self.violations)

    async def expect_refused(self, op: Awaitable[object], *, action: Action, subject: str) -> None:
        """Run ``op`` and wait until the server reports it refused ``action`` on ``subject``."""
        task = asyncio.ensure_future(op)

        async def refused() -> bool:
            return self.violated(action, subject)

        try:
            await eventually(
                refused,
                timeout_s=5.0,
                what=f"{self.role}: refusal of {action} to {subject!r} (violations so far: {self.violations})",
            )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, NatsError):
                await task

    def assert_no_violations(self) -> None:
        assert not self.violations, f"{self.role} was refused something it needs: {self.violations}"

    async def close(self) -> None:
        await self.nc.close()
