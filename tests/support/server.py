"""Run `deploytrace server` as a real process for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.ports import listening_port


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server not ready: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    database_url: str | None = None, *, env: dict[str, str] | None = None
) -> ServerProcess:
    """`deploytrace server` on 127.0.0.1 and a port the kernel picks (port 0: no race
    with other test processes for it)."""
    workdir = Path(tempfile.mkdtemp(prefix="dt-server-"))
    database_url = database_url or f"sqlite:///{workdir / 'server.db'}"
    log = workdir / "server.log"
    environ = {**os.environ, **(env or {})}
    environ.pop("DEPLOYTRACE_SERVER", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deploytrace",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--database-url",
            database_url,
            "--log-level",
            "warning",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=environ,
    )
    port = listening_port(process, timeout=60)
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        if port is None:
            raise RuntimeError(f"server did not listen: {log.read_text()[-2000:]}")
        server.wait_ready()
    except Exception:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def running_server(database_url: str | None = None) -> Iterator[ServerProcess]:
    server = start_server(database_url)
    try:
        yield server
    finally:
        server.stop()
