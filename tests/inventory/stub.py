"""A stand-in for the snapshot endpoint: records each request, answers a canned §7 answer.

The server side of `POST /v1/environments/{env}/snapshots` is built elsewhere;
these tests pin down what the CLI sends and how it shows the answer.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any


def canned_answer(body: dict[str, Any], environment: str) -> dict[str, Any]:
    """A plausible §7 answer for `body`: everything listed is a heartbeat."""
    return {
        "snapshot": {
            "id": "snap-1",
            "environment": environment,
            "logical_environment": body.get("logical_environment"),
            "scope": body.get("scope"),
            "observed_at": body.get("observed_at") or "2026-11-28T10:00:00Z",
        },
        "created": [],
        "superseded": [],
        "heartbeats": len(body.get("deployments", [])),
        "decommissioned": [],
        "unattested": [],
        "refused": [],
        "stale": [],
    }


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    completed_at: float = 0.0


@dataclass
class StubServer:
    """Answers POSTs with `answer(body, env)`; `failures` first answers are HTTP 503."""

    answer: Any = None  # callable(body, environment) -> dict, or a dict
    delay: float = 0.0  # seconds before answering (an in-flight report)
    failures: int = 0
    status: int = 200
    received: list[Received] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                stub.started.set()
                if stub.delay:
                    time.sleep(stub.delay)
                record = Received("POST", self.path, dict(self.headers), body)
                if stub.failures > 0:
                    stub.failures -= 1
                    stub.received.append(record)
                    return self._send(503, {"error": {"code": "unavailable", "message": "down"}})
                env = self.path.split("/")[3]
                if callable(stub.answer):
                    answer = stub.answer(body, env)
                elif stub.answer is not None:
                    answer = stub.answer
                else:
                    answer = canned_answer(body, env)
                # Recorded before the answer goes out: the CLI may have returned (and the
                # test looked) before this thread runs again.
                record.completed_at = time.monotonic()
                stub.received.append(record)
                self._send(stub.status, answer)

            def _send(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
