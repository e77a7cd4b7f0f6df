"""What every request must satisfy before any handler sees it: a caller who is
known before a large body is read, a body size limit, and a URL without control
characters."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deploytrace.api.errors import error_response, status_of
from deploytrace.api.runtime import Runtime
from deploytrace.errors import DeploytraceError
from deploytrace.services import tenancy

# Where the middleware leaves the Actor it authenticated, for `deps.caller`.
ACTOR_KEY = "deploytrace.actor"
# A body up to this size may be read before the token is looked up: the lookup
# then happens in the endpoint's own thread-pool trip (see deps.Caller), which
# is what keeps a heartbeat at one trip. Anything larger waits for a known caller.
SMALL_BODY_BYTES = 64 * 1024


class Authenticate:
    """Refuse an unauthenticated /v1 request before reading a byte of its body.

    A missing or malformed token is refused at once (a regular expression, no
    database). A well-formed token with a small announced body goes on to the
    endpoint, which looks it up in the thread it runs in anyway. A larger or
    chunked body is only read once the token is looked up here (in a thread):
    an unknown token is refused without it, and the Actor is handed on in the
    scope so the endpoint does not look it up again.
    """

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or self.runtime.local_actor is not None
            or not (scope["path"] == "/v1" or scope["path"].startswith("/v1/"))
        ):
            await self.app(scope, receive, send)
            return
        authorization = None
        small = True  # no Content-Length and no Transfer-Encoding: no body
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                authorization = value.decode("latin-1")
            elif key == b"transfer-encoding" or (
                key == b"content-length"
                and not (value.isdigit() and int(value) <= SMALL_BODY_BYTES)
            ):
                small = False
        try:
            tenancy.bearer_token(authorization)
            if not small:
                actor = await run_in_threadpool(
                    tenancy.authenticate, self.runtime.db, authorization
                )
                scope[ACTOR_KEY] = actor
        except DeploytraceError as error:
            response = error_response(status_of(error), error.code, error.message)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse bodies over `limit` bytes with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    announced = -1
                if announced < 0 or announced > self.limit:
                    await self._refuse(scope, receive, send)
                    return
                # The server delivers no more than Content-Length says: nothing to watch.
                await self.app(scope, receive, send)
                return
        received = 0
        too_large = False

        async def limited() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if too_large and not started:
                # The handler saw a disconnect; answer 413 instead of whatever it says.
                started = True
                await self._refuse(scope, receive, send)
                return
            if too_large:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "payload_too_large", f"request body is larger than {self.limit} bytes"
        )
        await response(scope, receive, send)


_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


class CleanUrl:
    """Refuse (422) a path or query string holding control characters.

    No name, digest or filter of the API has one, and PostgreSQL refuses NUL in
    text: checked here once, no route can hand one to the database.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope["path"].encode()
            if _CONTROL.search(unquote_to_bytes(raw_path)) or _CONTROL.search(
                unquote_to_bytes(scope.get("query_string", b"").replace(b"+", b" "))
            ):
                response = error_response(
                    422, "invalid", "invalid request: the URL contains control characters"
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class NoSniff:
    """`X-Content-Type-Options: nosniff` on every answer: a browser must take a
    JSON error or an attestation's bytes for what their Content-Type says, never
    for HTML or script on the dashboard's origin."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(k.lower() == b"x-content-type-options" for k, _ in headers):
                    headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_nosniff)
