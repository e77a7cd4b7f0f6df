"""The CLI's own HTTP transport (stdlib http.client): keep-alive, proxies, TLS, failures."""

from __future__ import annotations

import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from deploytrace import errors
from deploytrace.cli import http as cli_http
from deploytrace.cli.client import ApiClient
from deploytrace.cli.http import HttpTransport
from tests.support.kube_api import Pki

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@dataclass
class Seen:
    targets: list[str] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)  # client port of each request
    headers: list[dict[str, str]] = field(default_factory=list)
    close_after_answer: bool = False  # drop the connection without saying so


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def _serve(seen: Seen, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            seen.targets.append(self.path)
            seen.connections.append(self.client_address[1])
            seen.headers.append({k.lower(): v for k, v in self.headers.items()})
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            # A list page too, so that list commands can run against it.
            answer = {"ok": True, "echo": body.decode(), "items": [], "next_cursor": None}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            if seen.close_after_answer:
                self.close_connection = True

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def server(seen: Seen) -> Iterator[str]:
    yield from _serve(seen)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


@pytest.fixture
def tls_server(seen: Seen, pki: Pki) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    yield from _serve(seen, context)


def test_requests_of_one_command_share_one_connection(server: str, seen: Seen) -> None:
    client = ApiClient(HttpTransport(server + "/base/", "dt_token", 5))
    assert client.call("GET", "/v1/a", params={"q": "x y"})["ok"] is True
    assert client.call("POST", "/v1/b", json_body={"n": 1})["echo"] == '{"n": 1}'
    assert seen.targets == ["/base/v1/a?q=x+y", "/base/v1/b"]
    assert len(set(seen.connections)) == 1
    assert seen.headers[0]["authorization"] == "Bearer dt_token"
    assert seen.headers[0]["user-agent"] == "deploytrace-cli"
    assert seen.headers[1]["content-type"] == "application/json"


def test_a_connection_idle_for_long_is_not_reused(
    server: str, seen: Seen, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_http, "_REUSE_IDLE_SECONDS", 0.0)
    transport = HttpTransport(server, None, 5)
    for _ in range(2):
        transport.send("POST", "/v1/x", [], b"{}", {})
    assert len(set(seen.connections)) == 2


def test_a_read_is_sent_again_when_the_server_dropped_the_kept_connection(
    server: str, seen: Seen
) -> None:
    seen.close_after_answer = True  # answers, then closes without `Connection: close`
    transport = HttpTransport(server, None, 5)
    assert transport.send("GET", "/v1/one", [], None, {}).status == 200
    assert transport.send("GET", "/v1/two", [], None, {}).status == 200
    assert seen.targets == ["/v1/one", "/v1/two"]


def test_a_write_is_never_sent_twice(server: str, seen: Seen) -> None:
    seen.close_after_answer = True
    transport = HttpTransport(server, None, 5)
    transport.send("GET", "/v1/one", [], None, {})
    with pytest.raises(errors.Unavailable, match="closed the connection"):
        transport.send("POST", "/v1/write", [], b"{}", {})
    # The next command's write goes through on a new connection.
    assert transport.send("POST", "/v1/write", [], b"{}", {}).status == 200
    assert seen.targets.count("/v1/write") == 1


def test_http_proxy_from_the_environment(
    server: str, seen: Seen, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", server)  # the test server plays the proxy
    transport = HttpTransport("http://deploytrace.invalid:8080", None, 5)
    assert transport.send("GET", "/v1/environments", [], None, {}).status == 200
    assert seen.targets == ["http://deploytrace.invalid:8080/v1/environments"]
    assert seen.headers[0]["host"] == "deploytrace.invalid:8080"


def test_no_proxy_sends_directly(server: str, seen: Seen, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert HttpTransport(server, None, 5).send("GET", "/v1/x", [], None, {}).status == 200
    assert seen.targets == ["/v1/x"]


def test_https_is_verified_against_the_trust_store(tls_server: str) -> None:
    with pytest.raises(errors.Unavailable, match=r"TLS: .*certificate"):
        HttpTransport(tls_server, None, 5).send("GET", "/v1/x", [], None, {})


def test_ssl_cert_file_adds_a_ca(
    tls_server: str, seen: Seen, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert HttpTransport(tls_server, None, 5).send("GET", "/v1/x", [], None, {}).status == 200
    assert seen.targets == ["/v1/x"]


@pytest.mark.parametrize(
    "url", ["ftp://host", "http://", "http://host:99999", "deploytrace.example.com"]
)
def test_an_unusable_server_url_is_invalid_input(url: str) -> None:
    with pytest.raises(errors.InvalidInput, match="invalid server URL"):
        HttpTransport(url, None, 5)


def test_unreachable_and_silent_servers_are_unavailable() -> None:
    with pytest.raises(errors.Unavailable, match="connection refused"):
        HttpTransport("http://127.0.0.1:9", None, 5).send("GET", "/v1/x", [], None, {})
    with pytest.raises(errors.Unavailable, match="cannot resolve"):
        HttpTransport("http://deploytrace.invalid", None, 5).send("GET", "/", [], None, {})


def test_a_server_that_never_answers_times_out() -> None:
    import socket

    with socket.socket() as listener:  # accepts connections (backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(errors.Unavailable, match="did not answer in time"):
            HttpTransport(url, None, 0.5).send("GET", "/v1/x", [], None, {})
