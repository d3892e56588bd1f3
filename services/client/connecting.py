"""Opening a client on its own connection: ``await HandoffClient.connect()`` or ``async with
HandoffClient.connect() as client`` (the connection is closed with the client). Where it connects is
``handoff.client.locate``'s rule, the one the ``handoff`` commands follow."""

from __future__ import annotations

from collections.abc import Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from nats.errors import NoServersError

from handoff.broker.connect import connect
from handoff.client.errors import HandoffUnavailableError
from handoff.client.locate import Located, locate
from handoff.client.settings import ClientSettings

if TYPE_CHECKING:
    from handoff.client.client import HandoffClient


class Connecting:
    """What ``HandoffClient.connect`` returns: await it, or use it as an async context manager. ``located`` says where
    it connects and why; a connect that reaches nothing raises ``HandoffUnavailableError`` saying so."""

    def __init__(self, cls: type[HandoffClient], settings: ClientSettings, url: str | None) -> None:
        self._cls, self._settings = cls, settings
        self.located: Located = locate(settings, url)
        self._client: HandoffClient | None = None

    async def _open(self) -> HandoffClient:
        name = f"handoff-client-{self._settings.submitter}"
        try:
            nc = await connect(self._settings.nats, name=name, url=self.located.url)
        except (NoServersError, OSError, TimeoutError) as exc:
            raise HandoffUnavailableError(self.located.unreachable(exc)) from exc
        return self._cls(nc, settings=self._settings, owns_connection=True)

    def __await__(self) -> Generator[Any, None, HandoffClient]:
        return self._open().__await__()

    async def __aenter__(self) -> HandoffClient:
        self._client = await self._open()
        return self._client

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.close()
