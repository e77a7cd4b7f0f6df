"""The seed's typical workflow through the CLI, against two server replicas on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.postgres.conftest import Cluster
from tests.support.cli import CliRunner
from tests.support.digests import digest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_seed_workflow_against_two_replicas(
    two_replicas: Cluster, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYTRACE_TOKEN", two_replicas.token)
    a, b = (s.url for s in two_replicas.servers)
    v100, v110 = digest("v1.0.0"), digest("v1.1.0")
    two_replicas.attest(v100)
    two_replicas.attest(v110)
    base = ["deployment", "record", "--env", "k8s-east", "--deployment-name", "api-server"]
    base += ["--kind", "CONTAINER_IMAGE", "-o", "json"]

    # 1. environments: k8s-east exists (fixture); create k8s-west through the other replica.
    r = cli(
        "--server",
        b,
        *["environment", "create", "--name", "k8s-west", "-o", "json"],
        "--description",
        "Kubernetes US-West",
    )
    assert r.code == 0, r.err
    names = [e["name"] for e in cli("--server", a, "environment", "list", "-o", "json").json()]
    assert names == ["k8s-east", "k8s-west"]
    # 2-4. staging, production, new version, alternating replicas
    staged = cli(*base, "--server", a, "--logical-env", "staging", "--digest", v100)
    assert staged.json()["action"] == "created"
    promoted = cli(*base, "--server", b, "--logical-env", "production", "--digest", v100)
    assert promoted.json()["action"] == "created"
    beat = cli(*base, "--server", a, "--logical-env", "production", "--digest", v100).json()
    assert beat["action"] == "heartbeat"
    newer = cli(*base, "--server", b, "--logical-env", "production", "--digest", v110).json()
    assert newer["action"] == "superseded_previous"
    # 5. what runs in production, asked of either replica
    for server in (a, b):
        running = cli(
            "--server", server, *["deployment", "list", "--logical-env", "production", "-o", "json"]
        )
        running = running.json()
        assert [x["artifact"]["digest"] for x in running] == [v110]
    # 6. history
    history = cli(
        "--server",
        a,
        *["deployment", "list", "--env", "k8s-east", "--logical-env", "production"],
        *["--history", "-o", "json"],
    ).json()
    assert [(h["artifact"]["digest"], h["status"]) for h in history] == [
        (v110, "deployed"),
        (v100, "superseded"),
    ]
    # Without a token the server refuses: exit 5.
    monkeypatch.delenv("DEPLOYTRACE_TOKEN")
    assert cli("--server", a, "deployment", "list").code == 5
