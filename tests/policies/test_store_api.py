"""/v1/policies on SQLite and PostgreSQL: versions, attachments, audit, roles, tenancy."""

from __future__ import annotations

from typing import Any

import pytest

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.settings import Settings
from deploytrace.storage.db import Database
from tests.policies.conftest import policy_yaml, rego
from tests.support.api import ApiHarness
from tests.support.digests import digest
from tests.support.statements import statement
from tests.tenancy.conftest import Org, make_org

NEEDS_SBOM = rego(
    'violations contains "no SBOM" if not has_sbom\n'
    "has_sbom if {\n"
    "    some a in input.attestations\n"
    '    a.predicate_type == "https://cyclonedx.org/bom"\n'
    "}"
)


@pytest.fixture
def orgs(db: Database) -> tuple[Org, Org]:
    app = create_app(Runtime(db=db, settings=Settings()))
    acme, globex = make_org(db, app, "acme"), make_org(db, app, "globex")
    for org in (acme, globex):
        org.admin.env("k8s-east")
        org.admin.env("k8s-west")
    return acme, globex


def _add(api: ApiHarness, content: bytes) -> Any:
    return api.request(
        "POST", "/v1/policies", content=content, headers={"content-type": "application/yaml"}
    )


def _evaluate(api: ApiHarness, d: str, **where: str) -> Any:
    body = {
        "digest": d,
        "kind": "CONTAINER_IMAGE",
        "environment": where.get("environment", "k8s-east"),
        "logical_environment": where.get("logical_environment", "production"),
        "deployment_name": "api-server",
    }
    r = api.post("/v1/policies/evaluate", body)
    assert r.status == 200, r.body
    return r.json()


def _audit(api: ApiHarness, action: str) -> list[Any]:
    return list(api.get("/v1/audit", params={"action": action}).json()["items"])


def test_add_keeps_versions_and_same_content_is_a_no_op(orgs: tuple[Org, Org]) -> None:
    api = orgs[0].admin
    first = _add(api, policy_yaml("sbom-required", NEEDS_SBOM))
    assert first.status == 201, first.body
    assert first.json()["version"] == 1
    assert first.json()["changed"] is True
    again = _add(api, policy_yaml("sbom-required", NEEDS_SBOM))
    assert again.status == 200
    assert again.json()["changed"] is False
    assert again.json()["version"] == 1
    changed = _add(api, policy_yaml("sbom-required", NEEDS_SBOM, description="v2"))
    assert changed.status == 201
    assert changed.json()["version"] == 2
    detail = api.get("/v1/policies/sbom-required").json()
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert detail["content"] == policy_yaml("sbom-required", NEEDS_SBOM, description="v2").decode()
    assert detail["entries"] == [{"kind": None, "package": "main"}]
    assert [e["details"]["version"] for e in _audit(api, "policy.added")] == [2, 1]


def test_a_refused_policy_stores_nothing(orgs: tuple[Org, Org]) -> None:
    api = orgs[0].admin
    r = _add(api, policy_yaml("net", rego('violations := {x | x := http.send({"url": "a"})}')))
    assert r.status == 422
    assert r.error_code == "invalid"
    assert "http.send" in r.json()["error"]["message"]
    bad = _add(api, policy_yaml("broken", "package main\nimport rego.v1\nresult := {\n"))
    assert bad.status == 422
    assert "line 3" in bad.json()["error"]["message"]
    assert api.get("/v1/policies").json()["items"] == []
    assert _audit(api, "policy.added") == []


def test_attachments_follow_the_latest_version(orgs: tuple[Org, Org]) -> None:
    api = orgs[0].admin
    _add(api, policy_yaml("gate", rego('violations := {"from version one"}')))
    r = api.post("/v1/policies/gate/attachments", {"logical_environment": "production"})
    assert r.status == 201, r.body
    assert r.json()["mode"] == "enforce"
    d = digest("image")
    api.attest(d)
    assert _evaluate(api, d)["results"][0]["violations"] == ["from version one"]
    _add(api, policy_yaml("gate", rego('violations := {"from version two"}')))
    result = _evaluate(api, d)["results"][0]
    assert (result["version"], result["violations"]) == (2, ["from version two"])


def test_attach_modes_and_scopes(orgs: tuple[Org, Org]) -> None:
    api = orgs[0].admin
    _add(api, policy_yaml("gate", rego('violations := {"no"}')))
    d = digest("image")
    api.attest(d)
    assert _evaluate(api, d)["status"] == "none"
    r = api.post(
        "/v1/policies/gate/attachments",
        {"logical_environment": "production", "environment": "k8s-west", "mode": "advisory"},
    )
    assert r.status == 201
    assert (r.json()["environment"], r.json()["mode"]) == ("k8s-west", "advisory")
    # Only k8s-west is gated; there the violation is advisory.
    assert _evaluate(api, d, environment="k8s-east")["status"] == "none"
    west = _evaluate(api, d, environment="k8s-west")
    assert (west["status"], west["enforced"]) == ("violated", False)
    same = api.post(
        "/v1/policies/gate/attachments",
        {"logical_environment": "production", "environment": "k8s-west", "mode": "advisory"},
    )
    assert same.status == 200
    stricter = api.post(
        "/v1/policies/gate/attachments",
        {"logical_environment": "production", "environment": "k8s-west", "mode": "enforce"},
    )
    assert stricter.status == 201
    assert _evaluate(api, d, environment="k8s-west")["enforced"] is True
    listed = api.get("/v1/policies").json()["items"][0]["attachments"]
    assert [(a["logical_environment"], a["environment"], a["mode"]) for a in listed] == [
        ("production", "k8s-west", "enforce")
    ]
    gone = api.delete(
        "/v1/policies/gate/attachments",
        params={"logical_environment": "production", "environment": "k8s-west"},
    )
    assert gone.status == 200
    assert _evaluate(api, d, environment="k8s-west")["status"] == "none"
    again = api.delete(
        "/v1/policies/gate/attachments",
        params={"logical_environment": "production", "environment": "k8s-west"},
    )
    assert again.status == 404
    actions = [e["action"] for e in api.get("/v1/audit").json()["items"]]
    assert actions.count("policy.attached") == 2  # the no-op attach is not audited
    assert actions.count("policy.detached") == 1


def test_attach_needs_existing_places_and_a_known_mode(orgs: tuple[Org, Org]) -> None:
    api = orgs[0].admin
    _add(api, policy_yaml("gate", rego()))
    missing = api.post("/v1/policies/gate/attachments", {"logical_environment": "qa"})
    assert missing.status == 404
    env = api.post(
        "/v1/policies/gate/attachments",
        {"logical_environment": "production", "environment": "nowhere"},
    )
    assert env.status == 404
    mode = api.post(
        "/v1/policies/gate/attachments", {"logical_environment": "production", "mode": "maybe"}
    )
    assert mode.status == 422
    unknown = api.post("/v1/policies/nope/attachments", {"logical_environment": "production"})
    assert unknown.status == 404


def test_remove_drops_attachments_and_re_adding_continues_the_numbering(
    orgs: tuple[Org, Org],
) -> None:
    api = orgs[0].admin
    _add(api, policy_yaml("gate", rego()))
    _add(api, policy_yaml("gate", rego('violations := {"v2"}')))
    api.post("/v1/policies/gate/attachments", {"logical_environment": "production"})
    r = api.delete("/v1/policies/gate")
    assert r.status == 200
    assert r.json()["version"] == 2
    assert api.get("/v1/policies/gate").status == 404
    assert api.get("/v1/policies").json()["items"] == []
    assert _audit(api, "policy.removed")[0]["details"] == {"version": 2, "attachments": 1}
    back = _add(api, policy_yaml("gate", rego()))
    assert (back.status, back.json()["version"], back.json()["attachments"]) == (201, 3, [])


def test_roles_admin_changes_anyone_reads_and_evaluates(orgs: tuple[Org, Org]) -> None:
    acme = orgs[0]
    content = policy_yaml("gate", rego())
    assert _add(acme.writer, content).status == 403
    assert _add(acme.viewer, content).status == 403
    assert _add(acme.admin, content).status == 201
    attach = {"logical_environment": "production"}
    assert acme.writer.post("/v1/policies/gate/attachments", attach).status == 403
    assert acme.admin.post("/v1/policies/gate/attachments", attach).status == 201
    assert acme.writer.delete("/v1/policies/gate").status == 403
    d = digest("image")
    acme.admin.attest(d)
    for reader in (acme.viewer, acme.writer):
        assert reader.get("/v1/policies/gate").status == 200
        assert _evaluate(reader, d)["status"] == "passed"


def test_one_organizations_policies_are_never_seen_by_another(orgs: tuple[Org, Org]) -> None:
    acme, globex = orgs
    _add(acme.admin, policy_yaml("gate", rego('violations := {"acme says no"}')))
    acme.admin.post("/v1/policies/gate/attachments", {"logical_environment": "production"})
    d = digest("shared image")
    acme.admin.attest(d)
    globex.admin.attest(d)
    assert _evaluate(acme.admin, d)["status"] == "violated"
    # Same digest, same environment names, same policy name: nothing of acme's applies.
    assert _evaluate(globex.admin, d)["status"] == "none"
    assert globex.admin.get("/v1/policies").json()["items"] == []
    assert globex.admin.get("/v1/policies/gate").status == 404
    assert globex.admin.delete("/v1/policies/gate").status == 404
    r = globex.admin.post("/v1/policies/gate/attachments", {"logical_environment": "production"})
    assert r.status == 404
    # globex may have its own policy of that name, with its own numbering.
    own = _add(globex.admin, policy_yaml("gate", rego()))
    assert (own.status, own.json()["version"]) == (201, 1)
    assert _audit(globex.admin, "policy.added")[0]["details"]["version"] == 1
    assert len(_audit(acme.admin, "policy.added")) == 1


def test_evaluate_names_unknown_places_and_bad_digests(orgs: tuple[Org, Org]) -> None:
    api = orgs[0].admin
    base = {"digest": digest("x"), "kind": "CONTAINER_IMAGE", "environment": "k8s-east"}
    r = api.post("/v1/policies/evaluate", {**base, "logical_environment": "qa"})
    assert r.status == 404
    r = api.post(
        "/v1/policies/evaluate",
        {**base, "logical_environment": "production", "digest": "sha256:nope"},
    )
    assert r.status == 422


def test_evaluate_reads_the_attestations_of_the_digest_only(orgs: tuple[Org, Org]) -> None:
    api = orgs[0].admin
    _add(api, policy_yaml("sbom-required", NEEDS_SBOM))
    api.post("/v1/policies/sbom-required/attachments", {"logical_environment": "production"})
    with_sbom, without = digest("with sbom"), digest("without")
    api.push(statement(with_sbom, predicate_type="https://cyclonedx.org/bom"))
    api.push(statement(without))
    api.push(statement(digest("someone else"), predicate_type="https://cyclonedx.org/bom"))
    assert _evaluate(api, with_sbom)["status"] == "passed"
    refused = _evaluate(api, without)
    assert (refused["status"], refused["enforced"]) == ("violated", True)
    assert refused["results"][0]["violations"] == ["no SBOM"]
