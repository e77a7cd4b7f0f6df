"""`deployment sync` against a stub of the snapshot endpoint: what it sends, what it shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.inventory.factory import digest, pod, pod_list
from tests.inventory.stub import StubServer, canned_answer
from tests.support.cli import CliRunner
from tests.support.kube_api import KubeApi

DATA = Path(__file__).parents[1] / "data" / "kubernetes"
EDGE = str(DATA / "edge-cases-list.json")
SYNC = ["deployment", "sync", "--env", "k8s-east", "--logical-env", "production"]


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


@pytest.fixture
def stub() -> Any:
    with StubServer() as server:
        yield server


def test_the_request_body(cli: CliRunner, stub: StubServer) -> None:
    r = cli(*SYNC, "--from", EDGE, "--server", stub.url, "--token", "s3cret")
    assert r.code == 0, r.err
    (request,) = stub.received
    assert request.path == "/v1/environments/k8s-east/snapshots"
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert request.headers["Content-Type"] == "application/json"
    body = request.body
    assert list(body) == ["logical_environment", "scope", "deployments", "unattested"]
    assert (body["logical_environment"], body["scope"]) == ("production", "default")
    assert len(body["deployments"]) == 14
    assert body["deployments"][0] == {
        "deployment_name": "checkout.app",
        "kind": "CONTAINER_IMAGE",
        "digest": digest("e"),
        "artifact_name": "ghcr.io/acme/checkout",
        "artifact_version": "1.1.0",
    }
    # Runs without a repository digest: sent for the server to keep as unattested.
    # The invalid name cannot be stored under that name: not sent, shown locally.
    assert body["unattested"] == [
        {
            "deployment_name": "shop.legacy.legacy",
            "kind": "CONTAINER_IMAGE",
            "artifact_name": "index.docker.io/library/legacy-app",
            "artifact_version": "dev",
            "reason": "no_repository_digest",
        }
    ]


def test_table_output_summarizes_and_shows_what_runs_without_evidence(
    cli: CliRunner, stub: StubServer
) -> None:
    r = cli(*SYNC, "--from", EDGE, "--server", stub.url)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == (
        "synced k8s-east/production scope default at 2026-11-28T10:00:00Z: 0 created, "
        "0 superseded, 14 heartbeats, 0 decommissioned, 2 unattested, 0 refused, 0 stale"
    )
    assert any(line.split()[:3] == ["unattested", "shop.legacy.legacy", "-"] for line in lines)
    assert any("ledger service" in line and "invalid_name" in line for line in lines)


def test_json_output_is_the_answer_with_local_unattested_added(cli: CliRunner) -> None:
    def answer(body: dict[str, Any], env: str) -> dict[str, Any]:
        reply = canned_answer(body, env)
        # the server keeps and returns what it was sent: no duplicate locally
        reply["unattested"] = [{**u, "digest": None} for u in body.get("unattested", [])]
        reply["created"] = [
            {"id": "r1", "deployment_name": "shop.web.web", "artifact": {"digest": digest("a")}}
        ]
        return reply

    with StubServer(answer=answer) as stub:
        r = cli(*SYNC, "--from", EDGE, "--server", stub.url, "-o", "json")
    assert r.code == 0, r.err
    shown = r.json()
    assert shown["created"][0]["deployment_name"] == "shop.web.web"
    assert [(u["deployment_name"], u["reason"]) for u in shown["unattested"]] == [
        ("shop.legacy.legacy", "no_repository_digest"),
        ("ledger service", "invalid_name"),
    ]
    assert "where" not in shown["unattested"][0]  # the server's entry, as it sent it
    assert shown["unattested"][1]["where"] == "pod payments/ledger-0 container ledger"


def test_scope_observed_at_and_dry_run(cli: CliRunner, stub: StubServer, tmp_path: Path) -> None:
    doc = tmp_path / "pods.json"
    doc.write_text(json.dumps(pod_list(pod("web-1"))))
    r = cli(
        *SYNC,
        "--from",
        str(doc),
        "--scope",
        "blue",
        "--observed-at",
        "2026-11-27T09:00:00Z",
        "--dry-run",
        "--server",
        stub.url,
    )
    assert r.code == 0, r.err
    body = stub.received[0].body
    assert (body["scope"], body["observed_at"], body["dry_run"]) == (
        "blue",
        "2026-11-27T09:00:00Z",
        True,
    )
    assert r.out.startswith(
        "dry run (nothing changed) k8s-east/production scope blue at 2026-11-27T09:00:00Z"
    )


def test_plain_document(cli: CliRunner, stub: StubServer, tmp_path: Path) -> None:
    doc = tmp_path / "inventory.json"
    doc.write_text(
        json.dumps(
            {
                "deployments": [
                    {"deployment_name": "vm-api", "kind": "container_image", "digest": digest("A")}
                ]
            }
        )
    )
    assert cli(*SYNC, "--from", str(doc), "--server", stub.url).code == 0
    assert stub.received[0].body["deployments"] == [
        {"deployment_name": "vm-api", "kind": "CONTAINER_IMAGE", "digest": digest("a")}
    ]
    assert "unattested" not in stub.received[0].body


def test_stdin(cli: CliRunner, stub: StubServer) -> None:
    r = cli(*SYNC, "--from", "-", "--server", stub.url, stdin=json.dumps(pod_list(pod("web-1"))))
    assert r.code == 0, r.err
    assert [d["deployment_name"] for d in stub.received[0].body["deployments"]] == [
        "shop.web-1.app"
    ]


def test_environment_is_one_escaped_path_segment(cli: CliRunner, stub: StubServer) -> None:
    cli(
        "deployment",
        "sync",
        "--env",
        "a/b c",
        "--logical-env",
        "production",
        "--from",
        EDGE,
        "--server",
        stub.url,
    )
    assert stub.received[0].path == "/v1/environments/a%2Fb%20c/snapshots"


def test_refused_workloads_exit_8_after_showing_the_answer(cli: CliRunner) -> None:
    def answer(body: dict[str, Any], env: str) -> dict[str, Any]:
        return {
            **canned_answer(body, env),
            "refused": [
                {
                    "deployment_name": "shop.web.web",
                    "digest": digest("a"),
                    "reason": "policy_violation",
                }
            ],
        }

    with StubServer(answer=answer) as stub:
        r = cli(*SYNC, "--from", EDGE, "--server", stub.url)
    assert r.code == 8
    assert "1 refused" in r.out.splitlines()[0]
    assert any(
        line.split()[:2] == ["refused", "shop.web.web"] and "policy_violation" in line
        for line in r.out.splitlines()
    )


def test_kubernetes_namespaces_give_the_scope(
    cli: CliRunner, stub: StubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pods = json.loads((DATA / "troubleshoot-k3s-kube-system.json").read_text())["items"]
    with KubeApi(tmp_path, pods) as api:
        monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(context="k3s")))
        r = cli(
            *SYNC,
            "--kubernetes",
            "--context",
            "k3s",
            "--namespace",
            "kube-system",
            "--namespace",
            "default",
            "--namespace",
            "kube-system",
            "--server",
            stub.url,
        )
    assert r.code == 0, r.err
    body = stub.received[0].body
    assert body["scope"] == "ns:default,kube-system"
    assert [d["deployment_name"] for d in body["deployments"]][:1] == [
        "kube-system.coredns.coredns"
    ]
    assert {req.path for req in api.requests} >= {
        "/api/v1/namespaces/default/pods",
        "/api/v1/namespaces/kube-system/pods",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give exactly one of --from FILE and --kubernetes"),
        (["--from", EDGE, "--kubernetes"], "give exactly one of --from FILE and --kubernetes"),
        (["--from", EDGE, "--namespace", "x"], "--context and --namespace go with --kubernetes"),
        (["--from", EDGE, "--health-port", "8080"], "--health-port goes with --every"),
        (["--from", "-", "--every", "60s"], "--every re-reads its input"),
        (
            ["--from", EDGE, "--every", "60s", "--observed-at", "2026-11-27T09:00:00Z"],
            "--observed-at does not apply",
        ),
    ],
)
def test_usage_errors(cli: CliRunner, stub: StubServer, args: list[str], message: str) -> None:
    r = cli(*SYNC, *args, "--server", stub.url)
    assert r.code == 2
    assert message in r.err
    assert stub.received == []


def test_bad_input_is_exit_7_and_nothing_is_sent(
    cli: CliRunner, stub: StubServer, tmp_path: Path
) -> None:
    doc = tmp_path / "pods.yaml"
    doc.write_text("apiVersion: v1\nkind: List\nitems: []\n")
    r = cli(*SYNC, "--from", str(doc), "--server", stub.url)
    assert (r.code, r.out) == (7, "")
    assert r.err.startswith("error: the input is not JSON")
    assert stub.received == []
    r = cli(*SYNC, "--from", str(tmp_path / "missing.json"), "--server", stub.url)
    assert r.code == 7
    assert "cannot read" in r.err


def test_bad_every_duration_is_exit_7(cli: CliRunner, stub: StubServer) -> None:
    r = cli(*SYNC, "--from", EDGE, "--every", "soon", "--server", stub.url)
    assert r.code == 7
    assert "invalid duration 'soon'" in r.err


def test_server_errors_map_to_exit_codes(cli: CliRunner, tmp_path: Path) -> None:
    not_found = {"error": {"code": "not_found", "message": "environment 'k8s-east' not found"}}
    with StubServer(answer=not_found, status=404) as stub:
        r = cli(*SYNC, "--from", EDGE, "--server", stub.url)
    assert (r.code, r.err) == (3, "error: environment 'k8s-east' not found\n")
    r = cli(*SYNC, "--from", EDGE, "--server", "http://127.0.0.1:9")
    assert r.code == 6
    assert "cannot reach server" in r.err
