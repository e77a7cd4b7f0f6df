"""Organizations never see each other: another org's resource is answered like a missing one."""

from __future__ import annotations

from tests.support.digests import digest
from tests.support.statements import corpus, statement
from tests.tenancy.conftest import Org

RELEASE = "chainloop/wasm-policy-sdk-release-attestation.json"
CAS_IMAGE = "sha256:757af6163c378f2f364a1d1b6f9a85cade0535b19e2fbadfd0dfb630272c0476"


def _populate(org: Org) -> dict[str, str]:
    a = org.admin
    a.env("k8s-east", "east")
    assert a.post("/v1/logical-environments", {"name": "canary"}).status == 201
    a.push(corpus(RELEASE))
    att = a.push(statement(digest("acme-only"))).json()["items"][0]["digest"]
    rec = a.record(digest=CAS_IMAGE, deployment_name="cas").json()
    a.post("/v1/trust/keys", {"name": "k", "pem": corpus("witness/testpub.pem").decode()})
    return {"record": rec["id"], "attestation": att}


def test_every_resource_is_invisible_to_another_org(orgs: tuple[Org, Org]) -> None:
    acme, globex = orgs
    ids = _populate(acme)
    g = globex.admin
    # Lists: nothing of acme's.
    assert [e["name"] for e in g.get("/v1/environments").json()["items"]] == []
    assert [e["name"] for e in g.get("/v1/logical-environments").json()["items"]] == [
        "development",
        "production",
        "staging",
    ]
    assert g.get("/v1/deployments", params={"history": True}).json()["items"] == []
    assert g.get("/v1/attestations").json()["items"] == []
    assert [t["name"] for t in g.get("/v1/trust").json()["items"]] == ["public-good"]
    acme_tokens = {t["id"] for t in acme.admin.get("/v1/tokens").json()["items"]}
    globex_tokens = {t["id"] for t in g.get("/v1/tokens").json()["items"]}
    assert len(globex_tokens) == 3 and not (acme_tokens & globex_tokens)
    audit_targets = {e["target"] for e in g.get("/v1/audit").json()["items"]}
    assert "environment/k8s-east" not in audit_targets
    # Describes: 404, exactly like a missing resource.
    missing = [
        g.get("/v1/environments/k8s-east"),
        g.get("/v1/logical-environments/canary"),
        g.get(f"/v1/deployments/{ids['record']}"),
        g.get(f"/v1/attestations/{ids['attestation']}"),
        g.get(f"/v1/attestations/{ids['attestation']}/content"),
        g.get(f"/v1/artifacts/{CAS_IMAGE}"),
        g.patch("/v1/environments/k8s-east", {"description": "x"}),
        g.delete("/v1/environments/k8s-east"),
        g.delete("/v1/logical-environments/canary"),
        g.delete("/v1/trust/k"),
        g.get("/v1/deployments", params={"environment": "k8s-east"}),
        g.get("/v1/deployments", params={"project": "chainloop"}),
    ]
    for r in missing:
        assert r.status == 404, r.body
        assert r.error_code == "not_found"
    for token_id in acme_tokens:
        assert g.delete(f"/v1/tokens/{token_id}").status == 404
    # Recording into acme's environment from globex: not found, and acme unchanged.
    g.auto_attest = False
    assert g.record(digest=CAS_IMAGE, deployment_name="cas").status == 404
    assert len(acme.admin.get("/v1/deployments").json()["items"]) == 1
    # The same names can exist in both orgs.
    g.env("k8s-east")
    assert g.post("/v1/logical-environments", {"name": "canary"}).status == 201


def test_a_token_id_of_another_org_is_not_found(orgs: tuple[Org, Org]) -> None:
    acme, globex = orgs
    token_id = acme.admin.get("/v1/tokens").json()["items"][0]["id"]
    assert globex.admin.delete(f"/v1/tokens/{token_id}").status == 404
    assert acme.admin.get("/v1/tokens").json()["items"][0]["revoked_at"] is None


def test_audit_chains_are_per_org(orgs: tuple[Org, Org]) -> None:
    acme, globex = orgs
    _populate(acme)
    assert acme.admin.get("/v1/audit/verify").json()["intact"] is True
    verdict = globex.admin.get("/v1/audit/verify").json()
    assert verdict["intact"] is True
    assert verdict["entries"] == len(globex.admin.get("/v1/audit").json()["items"])
