"""Fixtures of the events tests: a real receiver process, servers with webhooks on."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.settings import Settings
from deploytrace.storage.db import Database
from tests.support.api import ApiHarness
from tests.support.postgres import free_port
from tests.support.server import ServerProcess

RECEIVER = Path(__file__).with_name("receiver.py")
# One server key for every process of a test (replicas must share it).
KEY = base64.b64encode(b"k" * 32).decode()


@dataclass
class Receiver:
    """tests/events/receiver.py as a process; its log says what arrived, when."""

    port: int
    log: Path
    options: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self, *options: str) -> Receiver:
        if options:
            self.options = list(options)
        self.process = subprocess.Popen(
            [
                *(sys.executable, str(RECEIVER), "--port", str(self.port), "--log", str(self.log)),
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise TimeoutError("receiver did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def delivered(self) -> list[dict[str, Any]]:
        """Requests answered 2xx, in the order they were answered."""
        return [r for r in self.requests() if 200 <= r["status"] < 300]

    def wait_for(
        self, check: Callable[[list[dict[str, Any]]], bool], what: str, timeout: float = 60
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.requests()
            if check(seen):
                return seen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; {len(self.requests())} requests")


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    r = Receiver(free_port(), tmp_path / "received.jsonl")
    yield r
    r.stop()


def server_env(**extra: str) -> dict[str, str]:
    """Settings of a test server: shared key, a fast retry schedule, frequent polls."""
    env = {
        "DEPLOYTRACE_SECRET_KEY": KEY,
        "DEPLOYTRACE_WEBHOOK_TIME_SCALE": "0.01",  # 5 s -> 50 ms, 24 h -> 14 min
        "DEPLOYTRACE_WEBHOOK_POLL_SECONDS": "0.05",
        "DEPLOYTRACE_WEBHOOK_TIMEOUT": "5",
    }
    env.update(extra)
    return env


@dataclass
class Servers:
    """`deploytrace server` processes over one database, stopped at the end."""

    database_url: str
    token: str
    started: list[ServerProcess] = field(default_factory=list)

    def start(self, **env: str) -> ServerProcess:
        server = start_server_with(self.database_url, **env)
        self.started.append(server)
        return server

    def client(self, server: ServerProcess) -> httpx.Client:
        return httpx.Client(
            base_url=server.url, headers={"authorization": f"Bearer {self.token}"}, timeout=30
        )


@pytest.fixture
def servers(database_url: str) -> Iterator[Servers]:
    db = Database(database_url)
    _, token = tenancy.bootstrap(db, "acme")
    db.dispose()
    group = Servers(database_url, token)
    yield group
    for s in group.started:
        s.stop()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", secret_key=KEY)


@pytest.fixture
def events_api(db: Database, settings: Settings) -> ApiHarness:
    """The API in server mode with a known server key, an admin token of org `acme`."""
    app = create_app(Runtime(db=db, settings=settings, local_actor=None))
    _, token = tenancy.bootstrap(db, "acme")
    return ApiHarness(app, token=token, db=db)


def start_server_with(database_url: str, *args: str, **env: str) -> ServerProcess:
    """`deploytrace server` with extra arguments (`--workers 2`, `--no-metrics`)."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="dt-events-server-"))
    log = workdir / "server.log"
    environ = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    environ.update(server_env(**env))
    environ.pop("DEPLOYTRACE_SERVER", None)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "deploytrace", "server", "--host", "127.0.0.1"),
            *("--port", str(port), "--database-url", database_url, "--log-level", "warning"),
            *args,
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=environ,
    )
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        server.wait_ready(timeout=120)  # a loaded machine starts a server slowly
    except Exception:
        server.stop()
        raise
    return server
