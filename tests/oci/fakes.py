"""A scriptable fake registry (stdlib http.server) for what a real one never does:
lie about digests, fail transiently, hang, or speak TLS and hang up on plain HTTP.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Canned:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FakeRegistry:
    """Answers the n-th request with `replies[n]` (the last one repeats), or via a function."""

    replies: list[Canned] | Callable[[Seen], Canned]
    requests: list[Seen] = field(default_factory=list)
    host: str = ""

    def answer(self, seen: Seen) -> Canned:
        self.requests.append(seen)
        if callable(self.replies):
            return self.replies(seen)
        return self.replies[min(len(self.requests), len(self.replies)) - 1]


def _handler(fake: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            if length:
                self.rfile.read(length)
            canned = fake.answer(Seen(self.command, self.path, dict(self.headers.items())))
            time.sleep(canned.delay)
            self.send_response(canned.status)
            for name, value in canned.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(canned.body)))
            self.end_headers()
            self.wfile.write(canned.body)

        do_GET = do_POST = do_HEAD = _serve

    return Handler


@contextmanager
def fake_registry(
    replies: list[Canned] | Callable[[Seen], Canned], *, tls: tuple[Path, Path] | None = None
) -> Iterator[FakeRegistry]:
    """Serve on a free 127.0.0.1 port; `tls=(cert, key)` makes it HTTPS-only."""
    fake = FakeRegistry(replies)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        # The handshake runs in accept(): a plain-HTTP client is just hung up on,
        # as most non-Go TLS servers do.
        server.socket = context.wrap_socket(server.socket, server_side=True)
    fake.host = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
