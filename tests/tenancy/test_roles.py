"""Roles: admin does everything in its org, writer pushes and records, viewer reads."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.api import ApiHarness, Reply
from tests.support.digests import digest
from tests.support.statements import corpus, statement
from tests.tenancy.conftest import Org

Call = Callable[[ApiHarness], Reply]

READS: dict[str, Call] = {
    "list environments": lambda a: a.get("/v1/environments"),
    "describe environment": lambda a: a.get("/v1/environments/k8s-east"),
    "list logical environments": lambda a: a.get("/v1/logical-environments"),
    "list deployments": lambda a: a.get("/v1/deployments"),
    "list attestations": lambda a: a.get("/v1/attestations"),
    "describe artifact": lambda a: a.get(f"/v1/artifacts/{digest('seed')}"),
    "list trust": lambda a: a.get("/v1/trust"),
    "list audit": lambda a: a.get("/v1/audit"),
    "verify audit": lambda a: a.get("/v1/audit/verify"),
}
WRITES: dict[str, Call] = {
    "push attestation": lambda a: a.push(statement(digest("w"))),
    "record deployment": lambda a: a.record(digest=digest("seed"), deployment_name="w"),
}
ADMIN: dict[str, Call] = {
    "create environment": lambda a: a.post("/v1/environments", {"name": "new"}),
    "update environment": lambda a: a.patch("/v1/environments/k8s-east", {"description": "d"}),
    "delete environment": lambda a: a.delete("/v1/environments/spare"),
    "create logical environment": lambda a: a.post("/v1/logical-environments", {"name": "qa"}),
    "delete logical environment": lambda a: a.delete("/v1/logical-environments/canary"),
    "add trusted key": lambda a: a.post(
        "/v1/trust/keys", {"name": "k2", "pem": corpus("witness/testpub.pem").decode()}
    ),
    "remove trusted key": lambda a: a.delete("/v1/trust/k"),
    "create token": lambda a: a.post("/v1/tokens", {"name": "t", "role": "viewer"}),
    "list tokens": lambda a: a.get("/v1/tokens"),
    "revoke token": lambda a: a.delete("/v1/tokens/viewer-token"),
}


@pytest.fixture
def acme(orgs: tuple[Org, Org]) -> Org:
    org = orgs[0]
    a = org.admin
    a.env("k8s-east")
    a.env("spare")
    a.post("/v1/logical-environments", {"name": "canary"})
    a.post("/v1/trust/keys", {"name": "k", "pem": corpus("chainloop/release-cosign.pub").decode()})
    a.record(digest=digest("seed"))
    return org


@pytest.mark.parametrize("role", ["admin", "writer", "viewer"])
@pytest.mark.parametrize("name", sorted(READS))
def test_everyone_reads(acme: Org, role: str, name: str) -> None:
    r = READS[name](getattr(acme, role))
    assert r.status == 200, (role, name, r.body)


@pytest.mark.parametrize("role", ["admin", "writer", "viewer"])
@pytest.mark.parametrize("name", sorted(WRITES))
def test_writers_push_and_record(acme: Org, role: str, name: str) -> None:
    harness = getattr(acme, role)
    harness.auto_attest = False
    r = WRITES[name](harness)
    if role == "viewer":
        assert r.status == 403, r.body
        assert r.error_code == "forbidden"
    else:
        assert r.status in (200, 201), (role, r.body)


@pytest.mark.parametrize("role", ["admin", "writer", "viewer"])
@pytest.mark.parametrize("name", sorted(ADMIN))
def test_only_admins_administer(acme: Org, role: str, name: str) -> None:
    r = ADMIN[name](getattr(acme, role))
    if role == "admin":
        assert r.status in (200, 201, 204), (name, r.body)
    else:
        assert r.status == 403, (role, name, r.body)
        assert r.error_code == "forbidden"
        assert role in r.json()["error"]["message"]


def test_refused_writes_change_nothing(acme: Org) -> None:
    before = acme.admin.get("/v1/audit").json()["items"]
    acme.viewer.auto_attest = False
    acme.viewer.record(digest=digest("seed"), deployment_name="nope")
    acme.viewer.post("/v1/environments", {"name": "nope"})
    assert acme.admin.get("/v1/audit").json()["items"] == before
    assert acme.admin.get("/v1/environments/nope").status == 404
