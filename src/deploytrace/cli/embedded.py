"""Embedded mode: the API in this process, over SQLite in $DEPLOYTRACE_HOME.

The in-process transport speaks ASGI directly instead of going through
httpx.ASGITransport: importing httpx costs about as much again as the whole
rest of an embedded `deployment record`, and the embedded path is on every
pipeline step (see bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlencode

from deploytrace.cli.client import Response
from deploytrace.settings import Settings


class AsgiTransport:
    """Runs one request through an ASGI application in this process."""

    def __init__(self, app_factory: Callable[[], Any]) -> None:
        self._factory = app_factory
        self._app: Any = None

    def send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: bytes | None,
        headers: dict[str, str],
    ) -> Response:
        if self._app is None:
            self._app = self._factory()
        call = self._call(method, path, query, body or b"", headers)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(call)
        # A loop already runs in this thread (a notebook, Playwright's sync API):
        # give the call a loop of its own in another thread.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, call).result()

    async def _call(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: bytes,
        headers: dict[str, str],
    ) -> Response:
        raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        raw_headers.append((b"content-length", str(len(body)).encode()))
        raw_headers.append((b"host", b"embedded"))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(path),
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": urlencode(query).encode(),
            "headers": raw_headers,
            "client": ("127.0.0.1", 0),
            "server": ("embedded", 80),
            "state": {},
        }
        sent = False
        status = 500
        response_headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # nothing more: wait like an idle client
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for key, value in message.get("headers", ()):
                    response_headers[key.decode().lower()] = value.decode()
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self._app(scope, receive, send)
        return Response(status, response_headers, b"".join(chunks))


def embedded_transport(settings: Settings) -> AsgiTransport:
    def build() -> Any:
        from deploytrace.api.app import create_app
        from deploytrace.api.runtime import Runtime
        from deploytrace.services import tenancy
        from deploytrace.storage import migrate
        from deploytrace.storage.db import Database

        db = Database(settings.embedded_database_url, settings)
        migrate.ensure_current(db)
        return create_app(
            Runtime(db=db, settings=settings, local_actor=tenancy.local_actor(db)), lazy=True
        )

    return AsgiTransport(build)
