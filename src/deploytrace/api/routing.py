"""Which database answers a request's reads, when a read replica is configured.

GET and HEAD requests may read from the replica (`Database.read()` decides per
transaction: replica up and within the lag limit). Every other method reads
from the primary, so whatever a request reads around its own writes is fresh.

Two reruns keep the replica invisible to clients:
- a GET that answered 404 after reading from the replica is run again on the
  primary: a record created a moment ago, by id, is found even if the replica
  has not replayed it yet (read-your-writes across requests);
- a GET whose replica read failed (connection lost mid-read, a query cancelled
  by recovery) is run again on the primary instead of answering 503.

A client that wrote a moment ago sends `Deploytrace-Read-Primary: 1` to read
from the primary (the CLI does after its first write in one command).

Only installed when the database has a replica: without one it would be a
cost for nothing.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deploytrace.storage.replica import ReadRoute, current_route

READ_PRIMARY_HEADER = b"deploytrace-read-primary"
_READS = frozenset({"GET", "HEAD"})


class ReadRouting:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _READS:
            await self.app(scope, receive, send)  # no route: every read uses the primary
            return
        route = ReadRoute(primary=_asks_primary(scope))
        token = current_route.set(route)
        try:
            if route.primary:
                await self.app(scope, receive, send)
                return
            received: list[Message] = []
            rerun = False

            async def recording_receive() -> Message:
                message = await receive()
                if message["type"] == "http.request":
                    received.append(message)
                return message

            async def first_send(message: Message) -> None:
                nonlocal rerun
                if message["type"] == "http.response.start" and _worth_rerun(
                    route, message["status"]
                ):
                    rerun = True
                if not rerun:
                    await send(message)

            await self.app(scope, recording_receive, first_send)
            if not rerun:
                return
            route.primary = True
            await self.app(scope, _replay(received, receive), send)
        finally:
            current_route.reset(token)


def _asks_primary(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        if key == READ_PRIMARY_HEADER:
            return value.strip() not in (b"", b"0", b"false")
    return False


def _worth_rerun(route: ReadRoute, status: int) -> bool:
    if not route.used_replica:
        return False
    return status == 404 or (status == 503 and route.replica_failed)


def _replay(received: list[Message], receive: Receive) -> Receive:
    """The request body the first run read, then the client's own channel."""
    pending = list(received) or [{"type": "http.request", "body": b"", "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
