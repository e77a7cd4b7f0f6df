"""`deployment sync --every`: a real reporter process, stopped by signals, backing off, probed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from deploytrace.cli.sync import BACKOFF_CAP, Backoff, Health
from tests.inventory.stub import StubServer
from tests.support.postgres import free_port

EDGE = str(Path(__file__).parents[1] / "data" / "kubernetes" / "edge-cases-list.json")


def start(server: str, *extra: str, home: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYTRACE_")}
    env["DEPLOYTRACE_HOME"] = str(home)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deploytrace",
            "deployment",
            "sync",
            "--env",
            "k8s-east",
            "--logical-env",
            "production",
            "--from",
            EDGE,
            "--server",
            server,
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.05)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_lets_the_report_in_flight_complete_then_exits_0(
    signum: int, tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    with StubServer(delay=1.5) as stub:
        process = start(stub.url, "--every", "60s", home=tmp_path)
        processes.append(process)
        assert stub.started.wait(30), "no report arrived"
        sent = time.monotonic()
        process.send_signal(signum)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert time.monotonic() - sent < 20  # did not sit out the 60s interval
    (request,) = stub.received
    assert request.completed_at > sent  # the answer went out after the signal...
    assert out.startswith("synced k8s-east/production scope default")  # ...and was shown
    assert err.rstrip().endswith("sync: stopped")


def test_backs_off_while_the_server_fails_then_reports(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    with StubServer(failures=1) as stub:
        process = start(stub.url, "--every", "1s", home=tmp_path)
        processes.append(process)
        wait_for(lambda: len(stub.received) >= 2)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0
    failures = [line for line in err.splitlines() if "report failed" in line]
    assert len(failures) == 1
    assert "report failed: down; next attempt in 2s" in failures[0]
    assert out.splitlines()[0].startswith("synced")


def test_a_misconfigured_first_report_fails_loudly(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    answer = {"error": {"code": "not_found", "message": "environment 'k8s-east' not found"}}
    with StubServer(answer=answer, status=404) as stub:
        process = start(stub.url, "--every", "1s", home=tmp_path)
        processes.append(process)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 3
    assert err == "error: environment 'k8s-east' not found\n"


def test_later_refusals_are_logged_and_retried_at_the_interval(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    with StubServer() as stub:
        process = start(stub.url, "--every", "1s", home=tmp_path)
        processes.append(process)
        wait_for(lambda: len(stub.received) >= 1)
        stub.answer, stub.status = {"error": {"code": "conflict", "message": "stale report"}}, 409
        wait_for(lambda: len(stub.received) >= 3)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "report failed: stale report; next attempt in 1s" in err


def test_health_endpoint_follows_the_reports(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    with StubServer() as stub:
        process = start(stub.url, "--every", "1s", "--health-port", str(port), home=tmp_path)
        processes.append(process)
        wait_for(lambda: len(stub.received) >= 1)

        def status() -> int:
            try:
                return httpx.get(url, timeout=2).status_code
            except httpx.HTTPError:
                return 0

        wait_for(lambda: status() == 200)
        assert httpx.get(url).json()["status"] == "ok"
        stub.failures = 10_000  # the server goes down: reports stop succeeding
        wait_for(lambda: status() == 503, timeout=60)
        body = httpx.get(url).json()
        assert body["status"] == "stale"
        assert body["last_error"] == "down"
        assert httpx.get(f"http://127.0.0.1:{port}/other").status_code == 404
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    assert process.returncode == 0


def test_health_is_fresh_for_a_few_intervals() -> None:
    now = [100.0]
    health = Health(60, clock=lambda: now[0])
    assert health.state()[0]  # starting up: grace of the same span
    now[0] += 181
    assert not health.state()[0]
    health.succeeded()
    assert health.state() == (
        True,
        {"status": "ok", "last_success_age_seconds": 0.0, "last_error": None},
    )
    now[0] += 180
    health.failed("down")
    assert health.state()[0]
    now[0] += 1
    assert health.state() == (
        False,
        {"status": "stale", "last_success_age_seconds": 181.0, "last_error": "down"},
    )


def test_backoff_doubles_with_jitter_up_to_a_cap() -> None:
    backoff = Backoff(start=2, cap=BACKOFF_CAP)
    delays = [backoff.next() for _ in range(12)]
    for n, delay in enumerate(delays[:7]):
        assert 0.8 * 2 * 2**n <= delay <= 1.2 * 2 * 2**n
    assert all(delay <= BACKOFF_CAP for delay in delays)
    assert delays[-1] >= 0.8 * BACKOFF_CAP
    backoff.reset()
    assert backoff.next() <= 2.4


def test_json_output_of_a_reporter_is_one_answer_per_line(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    with StubServer() as stub:
        process = start(stub.url, "--every", "1s", "-o", "json", home=tmp_path)
        processes.append(process)
        wait_for(lambda: len(stub.received) >= 2)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    answers = [json.loads(line) for line in out.splitlines()]
    assert len(answers) >= 2
    assert all(a["snapshot"]["scope"] == "default" and a["heartbeats"] == 14 for a in answers)
