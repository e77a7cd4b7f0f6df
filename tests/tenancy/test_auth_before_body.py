"""The caller is known before a large body is read (issue 9, security 1).

An unauthenticated request must not make the server read, buffer or parse its
body: a missing or malformed token is refused at once, and a well-formed token
with a body over 64 KiB (or a chunked one) is looked up before the body is read.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from deploytrace.api.app import create_app
from deploytrace.api.limits import SMALL_BODY_BYTES
from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.settings import Settings
from deploytrace.storage.db import Database
from tests.support.server import start_server
from tests.support.statements import statement

UNKNOWN = "dt_" + "0" * 32 + "_" + "A" * 43
BIG = 20 * 1024 * 1024


def run_async(coroutine: Any) -> None:
    """asyncio.run, in a thread of its own when this one already runs a loop (a test
    before, Playwright's sync API for one, may leave one running), as AsgiTransport does."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


class Call:
    """One ASGI request whose body is handed out in 64 KiB chunks, counting what was read."""

    def __init__(self, body: bytes, *, announced: int | None, chunked: bool = False) -> None:
        self.body = body
        self.announced = announced
        self.chunked = chunked
        self.read = 0
        self.status = 0
        self.answer = b""

    async def run(self, app: Any, headers: dict[str, str], path: str = "/v1/attestations") -> None:
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        if self.announced is not None:
            raw.append((b"content-length", str(self.announced).encode()))
        if self.chunked:
            raw.append((b"transfer-encoding", b"chunked"))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": raw,
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
            "state": {},
        }

        async def receive() -> dict[str, Any]:
            chunk = self.body[self.read : self.read + 65536]
            self.read += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": self.read < len(self.body)}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
            elif message["type"] == "http.response.body":
                self.answer += message.get("body", b"")

        await app(scope, receive, send)


@pytest.fixture
def server_app(db: Database) -> tuple[Any, str]:
    app = create_app(Runtime(db=db, settings=Settings(), local_actor=None))
    _, token = tenancy.bootstrap(db, "acme")
    return app, token


def _token_lookups(db: Database) -> list[str]:
    seen: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if "FROM api_tokens" in sql:
            seen.append(sql)

    return seen


@pytest.mark.parametrize(
    ("authorization", "announced", "chunked"),
    [
        (None, BIG, False),
        ("Bearer not-a-token", BIG, False),
        ("Basic YWxpY2U6cGFzcw==", BIG, False),
        (f"Bearer {UNKNOWN}", BIG, False),
        (f"Bearer {UNKNOWN}", None, True),
        (None, None, True),
    ],
)
def test_unauthenticated_requests_are_refused_before_the_body_is_read(
    server_app: tuple[Any, str], authorization: str | None, announced: int | None, chunked: bool
) -> None:
    app, _ = server_app
    call = Call(b"{" * BIG, announced=announced, chunked=chunked)
    headers = {"content-type": "application/json"}
    if authorization:
        headers["authorization"] = authorization
    run_async(call.run(app, headers, "/v1/environments"))
    assert call.status == 401, call.answer
    assert call.read == 0
    assert json.loads(call.answer)["error"]["code"] == "unauthenticated"


def test_a_revoked_token_is_refused_before_a_large_body(
    server_app: tuple[Any, str], db: Database
) -> None:
    app, admin = server_app
    _, other = tenancy.bootstrap(db, "acme")
    victim = tenancy.authenticate(db, f"Bearer {other}").name
    tenancy.revoke_token(db, tenancy.authenticate(db, f"Bearer {admin}"), victim)
    call = Call(b"x" * BIG, announced=BIG)
    run_async(call.run(app, {"authorization": f"Bearer {other}"}))
    assert call.status == 401 and b"revoked" in call.answer
    assert call.read == 0


def test_a_large_body_is_read_once_the_caller_is_known_and_looked_up_once(
    server_app: tuple[Any, str], db: Database
) -> None:
    app, token = server_app
    data = statement("sha256:" + "ab" * 32)
    body = data + b" " * (SMALL_BODY_BYTES + 1 - len(data))  # JSON allows trailing space
    lookups = _token_lookups(db)
    call = Call(body, announced=len(body))
    run_async(call.run(app, {"authorization": f"Bearer {token}"}))
    assert call.status == 201, call.answer
    assert call.read == len(body)
    assert len(lookups) == 1, lookups
    # Chunked: the same.
    lookups.clear()
    call = Call(body, announced=None, chunked=True)
    run_async(call.run(app, {"authorization": f"Bearer {token}"}))
    assert call.status == 200, call.answer  # stored already
    assert len(lookups) == 1, lookups


def test_a_small_body_keeps_its_single_lookup_in_the_endpoint(
    server_app: tuple[Any, str], db: Database
) -> None:
    app, token = server_app
    body = json.dumps({"name": "k8s-east"}).encode()
    lookups = _token_lookups(db)
    call = Call(body, announced=len(body))
    run_async(
        call.run(
            app,
            {"authorization": f"Bearer {token}", "content-type": "application/json"},
            "/v1/environments",
        )
    )
    assert call.status == 201, call.answer
    assert len(lookups) == 1, lookups
    # An unknown token with a small body is still refused (after that small body).
    call = Call(body, announced=len(body))
    run_async(
        call.run(
            app,
            {"authorization": f"Bearer {UNKNOWN}", "content-type": "application/json"},
            "/v1/environments",
        )
    )
    assert call.status == 401


def test_probes_and_the_dashboard_need_no_token(server_app: tuple[Any, str]) -> None:
    app, _ = server_app
    for path in ("/healthz", "/"):
        call = Call(b"", announced=None)

        async def get(path: str = path, call: Call = call) -> None:
            await call.run(app, {}, path)

        run_async(get())
        # POST on these: 405, not 401 (they are outside /v1).
        assert call.status == 405, (path, call.status)


# --------------------------------------------------------------------------- a real server


def _raw_request(
    port: int, headers: list[str], body: bytes = b"", *, wait: float = 5.0
) -> tuple[bytes, int]:
    """Send a request head (and `body`, as far as the server takes it); return
    (the answer read within `wait` seconds, bytes of body the server accepted)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=wait)
    sent = 0
    try:
        head = "\r\n".join(["POST /v1/environments HTTP/1.1", "Host: x", *headers, "", ""])
        sock.sendall(head.encode())
        sock.settimeout(0.2)
        answer = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if sent < len(body):
                try:
                    sent += sock.send(body[sent : sent + 65536])
                except (BlockingIOError, TimeoutError):
                    pass
                except OSError:
                    sent = len(body)  # the server closed: stop sending
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            answer += chunk
            if b"\r\n\r\n" in answer and answer.endswith(b"}"):
                break
        return answer, sent
    finally:
        sock.close()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_a_real_server_answers_401_without_waiting_for_the_body(database_url: str) -> None:
    server = start_server(database_url)
    try:
        port = int(server.url.rsplit(":", 1)[1])
        _, token = tenancy.bootstrap(Database(database_url), "acme")
        length = f"Content-Length: {BIG}"
        # The head alone: before the fix the server waited for all 20 MiB.
        for auth in ([], ["Authorization: Bearer nope"], [f"Authorization: Bearer {UNKNOWN}"]):
            answer, _ = _raw_request(port, [*auth, length, "Content-Type: application/json"])
            assert answer.startswith(b"HTTP/1.1 401"), (auth, answer[:200])
        # A known token: now the server waits for the body.
        answer, _ = _raw_request(port, [f"Authorization: Bearer {token}", length], wait=1.0)
        assert answer == b""
        # Sending 8 MiB bodies of JSON without a token neither parses nor keeps them.
        before = _rss_kib(server.process.pid)
        body = b"[" + b"1," * (4 * 1024 * 1024 - 1) + b"1]"
        for _ in range(3):
            answer, _ = _raw_request(
                port, [f"Content-Length: {len(body)}", "Content-Type: application/json"], body
            )
            assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        grown = _rss_kib(server.process.pid) - before
        assert grown < 16 * 1024, f"server RSS grew by {grown} KiB"
    finally:
        server.stop()
