"""The CLI's API client and its two transports.

Embedded and server modes differ only in the transport under `ApiClient`:
`AsgiTransport` calls the very same FastAPI application in-process;
`HttpTransport` sends the request over the network with httpx. Errors come
back as the server's JSON error body and are raised again as the same
`deploytrace.errors` class, so the CLI maps them to exit codes once.

The in-process transport speaks ASGI directly instead of going through
httpx.ASGITransport: importing httpx costs about as much again as the whole
rest of an embedded `deployment record`, and the embedded path is on every
pipeline step (see bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlencode

from deploytrace import errors


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Transport(Protocol):
    def send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: bytes | None,
        headers: dict[str, str],
    ) -> Response: ...


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


_warned_plain_http = False


def warn_if_token_in_clear(base_url: str, token: str | None) -> None:
    """Once per process, on stderr: a token about to cross the network unencrypted."""
    global _warned_plain_http
    if _warned_plain_http or not token:
        return
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    if parts.scheme.lower() != "http":
        return
    from deploytrace.oci.transport import is_loopback

    if is_loopback(parts.hostname or ""):
        return
    _warned_plain_http = True
    sys.stderr.write(
        f"warning: sending the API token to {parts.hostname} over plain HTTP, readable "
        "on the way; use an https:// server URL\n"
    )


class HttpTransport:
    """Talks to a deploytrace server with httpx."""

    def __init__(self, base_url: str, token: str | None, timeout: float) -> None:
        import httpx

        self._httpx = httpx
        self.base_url = base_url.rstrip("/")
        headers = {"User-Agent": "deploytrace-cli"}
        if token:
            warn_if_token_in_clear(self.base_url, token)
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: bytes | None,
        headers: dict[str, str],
    ) -> Response:
        httpx = self._httpx
        try:
            params: list[tuple[str, str | int | float | bool | None]] = list(query)
            r = self._client.request(method, path, params=params, content=body, headers=headers)
        except httpx.TimeoutException:
            raise errors.Unavailable(f"server {self.base_url} did not answer in time") from None
        except httpx.TransportError as error:
            raise errors.Unavailable(f"cannot reach server {self.base_url}: {error}") from None
        except httpx.InvalidURL as error:
            raise errors.InvalidInput(f"invalid server URL {self.base_url!r}: {error}") from None
        return Response(r.status_code, dict(r.headers), r.content)


# Once a command wrote, its later reads ask the server for the primary database:
# a read replica may not have replayed that write yet (read-your-writes).
READ_PRIMARY_HEADER = "Deploytrace-Read-Primary"


class ApiClient:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._wrote = False

    def _send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: bytes | None,
        headers: dict[str, str],
    ) -> Response:
        if self._wrote:
            headers[READ_PRIMARY_HEADER] = "1"
        elif method not in ("GET", "HEAD"):
            self._wrote = True
        return self.transport.send(method, path, query, body, headers)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:
        query = [
            (k, ("true" if v is True else "false" if v is False else str(v)))
            for k, v in (params or {}).items()
            if v is not None
        ]
        headers = {"Accept": "application/json"}
        body = content
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif content_type:
            headers["Content-Type"] = content_type
        response = self._send(method, path, query, body, headers)
        return _decode(response)

    def call_raw(self, method: str, path: str) -> bytes:
        """A call whose success answer is bytes, not JSON."""
        response = self._send(method, path, [], None, {"Accept": "*/*"})
        if 200 <= response.status < 300:
            return response.body
        _decode(response)
        raise errors.DeploytraceError(f"server answered HTTP {response.status}")

    def pages(self, path: str, params: dict[str, Any], limit: int | None = None) -> list[Any]:
        """Follow next_cursor until the list ends (or `limit` items were read)."""
        items: list[Any] = []
        cursor = None
        while True:
            page = self.call("GET", path, params={**params, "cursor": cursor})
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor or (limit is not None and len(items) >= limit):
                return items if limit is None else items[:limit]


def segment(value: str) -> str:
    """One URL path segment, escaped."""
    return quote(value, safe=":@")


def _decode(response: Response) -> Any:
    try:
        data = json.loads(response.body) if response.body else None
    except ValueError:
        data = None
    if 200 <= response.status < 300:
        return data
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        error = data["error"]
        raise errors.from_code(str(error.get("code")), str(error.get("message")))
    if response.status in (502, 503, 504):
        raise errors.Unavailable(f"server unavailable (HTTP {response.status})")
    if response.status in (401, 403):
        raise errors.Unauthenticated(f"server refused the request (HTTP {response.status})")
    if response.status == 404:
        raise errors.NotFound("not found (HTTP 404): is the server URL right?")
    raise errors.DeploytraceError(f"server answered HTTP {response.status}")
