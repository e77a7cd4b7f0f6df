"""Token requests follow no redirect but one to the same origin over HTTPS (issue 9, security 6).

A refresh token travels in the body of a POST, which a 307 or 308 makes the
client send again to wherever the server names, plain HTTP included; a Basic
password travels in a header. The fake token servers here redirect, and a third
server records whatever reaches it.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from deploytrace.errors import Unavailable
from deploytrace.oci import RegistryCredentials, resolve
from tests.support.registry import make_tls_files

from .fakes import Canned, fake_registry
from .helpers import write_docker_config
from .test_fake_registry import DIGEST, ok

REFRESH = "refresh-SECRET-42"
PASSWORD = "Pa55-SECRET-word"


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """Answers each path from `routes` (status, headers) and keeps every request."""

    routes: dict[str, tuple[int, dict[str, str]]]
    hits: list[Hit] = field(default_factory=list)
    origin: str = ""

    def secrets_seen(self) -> list[Hit]:
        return [
            h
            for h in self.hits
            if REFRESH.encode() in h.body or "authorization" in {k.lower() for k in h.headers}
        ]


@contextmanager
def recorder(
    routes: dict[str, tuple[int, dict[str, str]]], tls: tuple[Path, Path] | None = None
) -> Iterator[Recorder]:
    rec = Recorder(routes)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else b""
            rec.hits.append(Hit(self.command, self.path, dict(self.headers.items()), body))
            status, headers = rec.routes.get(self.path.split("?")[0], (404, {}))
            payload = b'{"token": "t0k3n"}' if status == 200 else b""
            self.send_response(status)
            for name, value in {**headers, "Content-Type": "application/json"}.items():
                self.send_header(name, value.replace("{origin}", rec.origin))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    rec.origin = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


def _registry_replies(realm: str) -> list[Canned]:
    challenge = f'Bearer realm="{realm}",service="svc"'
    return [Canned(401, {"WWW-Authenticate": challenge}), ok()]


@pytest.fixture
def refresh_token(_no_user_docker_config: Path) -> Iterator[Any]:
    """Write a Docker config holding a refresh token for the registry `host`."""

    def write(host: str) -> None:
        write_docker_config(_no_user_docker_config, {"auths": {host: {"identitytoken": REFRESH}}})

    yield write


@pytest.mark.parametrize("status", [307, 308, 302])
def test_a_refresh_token_is_not_posted_across_a_redirect(refresh_token: Any, status: int) -> None:
    with (
        recorder({"/steal": (200, {})}) as thief,
        recorder({"/token": (status, {"Location": f"{thief.origin}/steal"})}) as tokens,
        fake_registry(_registry_replies(f"{tokens.origin}/token")) as registry,
    ):
        refresh_token(registry.host)
        with pytest.raises(Unavailable, match=r"redirected to .*/steal; token requests"):
            resolve(f"{registry.host}/demo/app:1.0", kind="CONTAINER_IMAGE")
    assert [h.method for h in tokens.hits] == ["POST"]
    assert REFRESH.encode() in tokens.hits[0].body  # sent to the realm itself, as before
    assert thief.hits == []


def test_a_password_is_not_sent_across_a_redirect(_no_user_docker_config: Path) -> None:
    with (
        recorder({"/steal": (200, {})}) as thief,
        recorder({"/token": (302, {"Location": f"{thief.origin}/steal"})}) as tokens,
        fake_registry(_registry_replies(f"{tokens.origin}/token")) as registry,
    ):
        creds = RegistryCredentials(registry.host, "alice", PASSWORD)
        with pytest.raises(Unavailable, match="redirected"):
            resolve(f"{registry.host}/demo/app:1.0", kind="CONTAINER_IMAGE", credentials=creds)
    assert thief.hits == []


def test_same_origin_plain_http_redirects_are_not_followed_either(refresh_token: Any) -> None:
    routes = {"/token": (307, {"Location": "{origin}/token2"}), "/token2": (200, {})}
    with (
        recorder(routes) as tokens,
        fake_registry(_registry_replies(f"{tokens.origin}/token")) as registry,
    ):
        refresh_token(registry.host)
        with pytest.raises(Unavailable, match="same host over HTTPS"):
            resolve(f"{registry.host}/demo/app:1.0", kind="CONTAINER_IMAGE")
    assert [h.path for h in tokens.hits] == ["/token"]


def test_a_same_origin_https_redirect_is_followed(refresh_token: Any, tmp_path: Path) -> None:
    ca, cert, key = make_tls_files(tmp_path)
    routes = {"/token": (307, {"Location": "/v2/token"}), "/v2/token": (200, {})}
    with (
        recorder(routes, tls=(cert, key)) as tokens,
        fake_registry(_registry_replies(f"{tokens.origin}/token")) as registry,
    ):
        refresh_token(registry.host)
        resolved = resolve(f"{registry.host}/demo/app:1.0", kind="CONTAINER_IMAGE", ca_file=str(ca))
        assert resolved.digest == DIGEST
        assert registry.requests[-1].headers["Authorization"] == "Bearer t0k3n"
    assert [(h.method, h.path) for h in tokens.hits] == [("POST", "/token"), ("POST", "/v2/token")]
    assert all(REFRESH.encode() in h.body for h in tokens.hits)


def test_https_to_http_on_the_same_host_is_refused(refresh_token: Any, tmp_path: Path) -> None:
    ca, cert, key = make_tls_files(tmp_path)
    with (
        recorder({"/steal": (200, {})}) as plain,
        recorder({"/token": (308, {"Location": f"{plain.origin}/steal"})}, tls=(cert, key)) as tk,
        fake_registry(_registry_replies(f"{tk.origin}/token")) as registry,
    ):
        refresh_token(registry.host)
        with pytest.raises(Unavailable, match="redirected"):
            resolve(f"{registry.host}/demo/app:1.0", kind="CONTAINER_IMAGE", ca_file=str(ca))
    assert plain.hits == []


def test_endless_same_origin_redirects_end(refresh_token: Any, tmp_path: Path) -> None:
    ca, cert, key = make_tls_files(tmp_path)
    with (
        recorder({"/token": (307, {"Location": "/token"})}, tls=(cert, key)) as tokens,
        fake_registry(_registry_replies(f"{tokens.origin}/token")) as registry,
    ):
        refresh_token(registry.host)
        with pytest.raises(Unavailable, match="redirected more than 3 times"):
            resolve(f"{registry.host}/demo/app:1.0", kind="CONTAINER_IMAGE", ca_file=str(ca))
    assert len(tokens.hits) == 4
