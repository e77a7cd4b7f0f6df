"""The CLI's API client.

Embedded and server modes differ only in the transport under `ApiClient`:
`cli.embedded.AsgiTransport` calls the very same FastAPI application in-process;
`cli.http.HttpTransport` sends the request over the network. Errors come back as
the server's JSON error body and are raised again as the same `deploytrace.errors`
class, so the CLI maps them to exit codes once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

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
