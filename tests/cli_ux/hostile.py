"""A hostile deploytrace server: the real API, with terminal attacks in every string it answers.

An HTTP server (stdlib, in a thread) that passes each request to the embedded
application over $DEPLOYTRACE_HOME and appends `PAYLOAD` to every string of the
JSON answer (error messages included), so every field a command may print carries
escape sequences, a bidi override, Rich markup and a lone surrogate. Cursors and
the enumerations the CLI maps (status, role, kind, mode) are left intact so the
commands run their normal course.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from deploytrace.cli.embedded import embedded_transport
from deploytrace.settings import Settings

# OSC 52 (write the clipboard), clear screen, a C1 CSI, BEL, bidi override, zero-width
# space, Unicode tag characters, Rich markup, and a lone surrogate (unencodable).
PAYLOAD = "\x1b]52;c;aGVsbG8=\x07\x1b[2J\x9b31m\u202egnp.exe\u200b\U000e0041[/][bold]\ud800"
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u200b", "\U000e0041", "\ud800")
KEPT = {
    "next_cursor",
    "attestations_next_cursor",
    "deployments_next_cursor",
    "status",
    "role",
    "kind",
    "mode",
    "action",
    "code",
    "ended_reason",
}


def poison(value: Any, key: str | None = None) -> Any:
    if isinstance(value, str):
        return value if key in KEPT else value + PAYLOAD
    if isinstance(value, list):
        return [poison(v, key) for v in value]
    if isinstance(value, dict):
        return {k: poison(v, k) for k, v in value.items()}
    return value


@contextlib.contextmanager
def hostile_server() -> Iterator[str]:
    """The URL of a server answering the embedded store's data, poisoned."""
    transport = embedded_transport(Settings.from_env())
    lock = threading.Lock()  # one embedded request at a time, as the CLI makes them

    class Handler(BaseHTTPRequestHandler):
        def _relay(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {
                k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")
            }
            with lock:
                answer = transport.send(self.command, url.path, parse_qsl(url.query), body, headers)
            data = answer.body
            if answer.headers.get("content-type", "").startswith("application/json"):
                # ensure_ascii=False would refuse the lone surrogate; \\ud800 in JSON is valid.
                data = json.dumps(poison(json.loads(data))).encode()
            self.send_response(answer.status)
            self.send_header("content-type", answer.headers.get("content-type", "text/plain"))
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _relay

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
