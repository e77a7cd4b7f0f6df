"""`deploytrace webhook ...` (embedded and against a server) and `GET /metrics`."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import httpx
import pytest

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.services import delivery
from deploytrace.settings import Settings
from deploytrace.storage.db import Database
from tests.events.checks import verify
from tests.events.conftest import Receiver, Servers, start_server_with
from tests.support.api import ApiHarness
from tests.support.cli import CliRunner
from tests.support.digests import digest
from tests.support.postgres import free_port


def test_embedded_mode_refuses_webhooks(cli: CliRunner) -> None:
    r = cli("webhook", "create", "--url", "https://hooks.example/in")
    assert r.code == 7
    assert "server mode" in r.err and r.err.startswith("error: ")
    assert cli("webhook", "list", "-o", "json").json() == []
    assert cli("webhook", "create", "--url", "https://a:b@x.example").code == 7


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_cli_against_a_server(
    servers: Servers, receiver: Receiver, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.start()
    server = servers.start()
    monkeypatch.setenv("DEPLOYTRACE_SERVER", server.url)
    monkeypatch.setenv("DEPLOYTRACE_TOKEN", servers.token)
    made = cli(
        *("webhook", "create", "--url", receiver.url, "-o", "json"),
        *("--event", "deployment.*", "--event", "environment.created"),
    )
    assert made.code == 0, made.err
    hook = made.json()
    assert set(hook) == {"id", "url", "events", "secret"}
    assert hook["events"] == ["deployment.*", "environment.created"]
    table = cli("webhook", "create", "--url", "https://hooks.example/other")
    assert table.code == 0 and "whsec_" in table.out and "shown once" in table.err
    listed = cli("webhook", "list", "-o", "json").json()
    assert listed[0]["id"] == hook["id"] and len(listed) == 2
    assert all("secret" not in w for w in listed)
    assert cli("webhook", "list").code == 0
    sent = cli("webhook", "test", hook["id"], "-o", "json")
    assert sent.code == 0, sent.err
    assert sent.json()["delivered"] is True
    verify(hook["secret"], receiver.requests()[0])
    assert cli("environment", "create", "--name", "k8s-east").code == 0
    receiver.wait_for(lambda rs: len(rs) == 2, "environment.created")
    attempts = cli("webhook", "deliveries", hook["id"], "-o", "json").json()
    assert [a["type"] for a in attempts] == ["environment.created", "webhook.test"]
    assert set(attempts[0]) >= {
        "event_id",
        "type",
        "attempt",
        "at",
        "status_code",
        "error",
        "delivered",
    }
    assert cli("webhook", "deliveries", hook["id"]).code == 0
    other = listed[1]["id"]
    failed = cli("webhook", "test", other)
    assert failed.code == 1 and failed.err.startswith("error: test event not delivered")
    assert cli("webhook", "remove", hook["id"]).code == 0
    assert cli("webhook", "remove", hook["id"]).code == 3
    assert cli("webhook", "create", "--url", "http://hooks.example/in").code == 7
    assert cli("webhook", "create", "--url", "file:///etc/passwd").code == 7


def _metrics_app(db: Database, settings: Settings) -> ApiHarness:
    from deploytrace.services import tenancy

    app = create_app(Runtime(db=db, settings=settings, local_actor=None))
    _, token = tenancy.bootstrap(db, "acme")
    return ApiHarness(app, token=token, db=db)


def _value(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + ("{" if labels else " ")):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_report_the_token_org_and_the_process(events_api: ApiHarness) -> None:
    api = events_api
    assert api.get("/metrics", token=None).status == 401
    api.env("k8s-east")
    for name in ("a", "b", "c"):
        api.record(digest=digest(name), deployment_name=name)
    api.record(digest=digest("s"), deployment_name="s", logical_environment="staging")
    record = api.record(digest=digest("d"), deployment_name="d").json()
    api.get(f"/v1/deployments/{record['id']}")
    api.post("/v1/webhooks", {"url": f"http://127.0.0.1:{free_port()}/in"})
    viewer = ApiHarness(
        api.app,
        token=api.post("/v1/tokens", {"name": "ro", "role": "viewer"}).json()["token"],
        db=api.db,
    )
    delivery.fan_out(api.db)  # what the server's worker does: webhook.created, token.created
    reply = viewer.get("/metrics")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = reply.body.decode()
    active = "deploytrace_records_active"
    assert _value(text, active, environment="k8s-east", logical_environment="production") == 4
    assert _value(text, active, environment="k8s-east", logical_environment="staging") == 1
    assert _value(text, "deploytrace_records_stale", logical_environment="production") == 0
    assert "# TYPE deploytrace_workloads_unattested gauge" in text
    assert _value(text, "deploytrace_webhook_backlog") == 2  # webhook.created, token.created
    # Request metrics per route template: one series for every record id.
    assert _value(
        text,
        "deploytrace_http_requests_total",
        method="GET",
        route="/v1/deployments/{record_id}",
        status="200",
    )
    assert record["id"] not in text
    assert "deploytrace_http_request_duration_seconds_bucket" in text
    # Another org's token sees its own records only.
    from deploytrace.services import tenancy

    _, other = tenancy.bootstrap(api.db, "other")
    theirs = api.get("/metrics", token=other).body.decode()
    assert _value(theirs, active, environment="k8s-east", logical_environment="production") is None


def test_metrics_can_be_turned_off(db: Database, tmp_path: Path) -> None:
    api = _metrics_app(db, Settings(home=tmp_path, metrics=False))
    assert api.get("/metrics").status == 404


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"])
def test_metrics_of_several_worker_processes_add_up(servers: Servers, tmp_path: Path) -> None:
    shared = tmp_path / "metrics"
    shared.mkdir()
    server = start_server_with(
        servers.database_url, "--workers", "2", PROMETHEUS_MULTIPROC_DIR=str(shared)
    )
    servers.started.append(server)

    def get(path: str, **headers: str) -> httpx.Response:
        # A connection each, so that both worker processes get some.
        return httpx.get(server.url + path, headers={**headers, "connection": "close"}, timeout=10)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert all(r.status_code == 200 for r in pool.map(lambda _: get("/healthz"), range(60)))
    writers = {p.stem.rsplit("_", 1)[-1] for p in shared.glob("counter_*.db")}
    assert len(writers) == 2, writers  # both processes counted requests
    for _ in range(6):  # whichever process answers, it reports the sum of both
        text = get("/metrics", authorization=f"Bearer {servers.token}").text
        total = _value(text, "deploytrace_http_requests_total", route="/healthz", status="200")
        assert total == 61  # and wait_ready's
    off = start_server_with(servers.database_url, "--no-metrics")
    servers.started.append(off)
    assert httpx.get(f"{off.url}/metrics", timeout=10).status_code == 404
