"""/v1/dashboard/*: the read-only answers behind the dashboard's views, on SQLite and
PostgreSQL, scoped to the caller's organization."""

from __future__ import annotations

import datetime as dt
import json

from deploytrace.services import tenancy
from tests.support.api import ApiHarness
from tests.support.digests import digest
from tests.support.statements import corpus, statement

# The subject of a Sigstore bundle that verifies offline (public-good instance).
SIGNED = "sha256:ea9c657ca44371fadd027510f2a1a68b799003294bf6a4827827971cc4390ad4"


def _other_org(api: ApiHarness) -> ApiHarness:
    _, token = tenancy.bootstrap(api.db, "other")
    return ApiHarness(api.app, token=token, db=api.db)


def _attested(api: ApiHarness, *digests: str) -> tuple[int, dict[str, dict[str, object]]]:
    """GET /v1/dashboard/attested with the digest parameter repeated."""
    reply = api._transport.send(
        "GET",
        "/v1/dashboard/attested",
        [("digest", d) for d in digests],
        None,
        {"authorization": f"Bearer {api.token}"},
    )
    body = json.loads(reply.body)
    return reply.status, {i["digest"]: i for i in body.get("items", [])}


def test_attested_counts_by_verification_status(api: ApiHarness) -> None:
    plain = digest("plain")
    api.attest(plain)
    assert api.push(statement(plain, predicate_type="https://example.com/other")).status == 201
    assert api.push(corpus("trivy/sigstore-bundle.json")).status == 201
    never = digest("never-attested")

    status, items = _attested(api, plain, never.upper(), SIGNED)
    assert status == 200
    assert list(items) == sorted([plain, never, SIGNED])  # digest order
    assert items[SIGNED] == {"digest": SIGNED, "verified": 1, "unverified": 0, "invalid": 0}
    assert items[plain] == {"digest": plain, "verified": 0, "unverified": 2, "invalid": 0}
    assert items[never] == {"digest": never, "verified": 0, "unverified": 0, "invalid": 0}

    # Another organization sees none of these attestations.
    _, theirs = _attested(_other_org(api), plain)
    assert theirs[plain]["unverified"] == 0

    assert _attested(api)[0] == 422  # at least one digest
    bad = api.get("/v1/dashboard/attested", params={"digest": "sha256:nothex"})
    assert bad.status == 422
    assert "invalid digest" in bad.json()["error"]["message"]
    too_many = [digest(i) for i in range(501)]
    assert _attested(api, *too_many)[0] == 422


def test_deployment_names_page_in_name_order(api: ApiHarness) -> None:
    api.env("k8s-east")
    api.env("k8s-west")
    for name in ["web", "api", "api-worker", "batch_x".replace("_", "-")]:
        assert api.record(deployment_name=name, digest=digest(name)).status == 201
    assert (
        api.record(deployment_name="api", digest=digest("api"), environment="k8s-west").status
        == 201
    )
    api.record(deployment_name="web", digest=digest("web"), status="decommissioned")

    r = api.get("/v1/dashboard/deployment-names", params={"limit": 2})
    page = r.json()
    assert [n["deployment_name"] for n in page["items"]] == ["api", "api-worker"]
    assert page["items"][0] == {"deployment_name": "api", "slots": 2, "active": 2}
    rest = api.get(
        "/v1/dashboard/deployment-names", params={"limit": 2, "cursor": page["next_cursor"]}
    ).json()
    assert [n["deployment_name"] for n in rest["items"]] == ["batch-x", "web"]
    assert rest["items"][1] == {"deployment_name": "web", "slots": 1, "active": 0}
    assert rest["next_cursor"] is None

    # `contains` is literal: LIKE's wildcards in it match only themselves.
    found = api.get("/v1/dashboard/deployment-names", params={"contains": "api"}).json()
    assert [n["deployment_name"] for n in found["items"]] == ["api", "api-worker"]
    for wildcard in ("%", "_"):
        none = api.get("/v1/dashboard/deployment-names", params={"contains": wildcard}).json()
        assert none["items"] == []
    assert _other_org(api).get("/v1/dashboard/deployment-names").json()["items"] == []


def test_lookup_finds_names_versions_and_digest_prefixes(api: ApiHarness) -> None:
    api.env("k8s-east")
    v1, v2 = digest("lookup-v1"), digest("lookup-v2")
    api.record(
        deployment_name="checkout",
        digest=v1,
        artifact_name="ghcr.io/acme/checkout",
        artifact_version="v3.1.0",
    )
    api.record(
        deployment_name="checkout",
        digest=v2,
        artifact_name="ghcr.io/acme/checkout",
        artifact_version="v3.2.0",
    )
    # Only what runs now answers a version: v3.1.0 was superseded.
    found = api.get("/v1/dashboard/lookup", params={"q": "V3."}).json()
    assert [r["artifact"]["version"] for r in found["records"]] == ["v3.2.0"]
    assert found["deployment_names"] == []
    by_name = api.get("/v1/dashboard/lookup", params={"q": "acme/check"}).json()
    assert [r["deployment_name"] for r in by_name["records"]] == ["checkout"]
    names = api.get("/v1/dashboard/lookup", params={"q": "check"}).json()
    assert [n["deployment_name"] for n in names["deployment_names"]] == ["checkout"]

    # Digest prefixes: with or without the algorithm, records' and attested ones.
    attested_only = digest("attested-only")
    api.attest(attested_only)
    for text, expected in [
        (v1[:20], [v1]),
        (v1[7:20], [v1]),
        (attested_only[:16].upper(), [attested_only]),
        (v2, [v2]),
        ("sha256:1234567", []),  # shorter than 8 hex characters: no prefix
    ]:
        r = api.get("/v1/dashboard/lookup", params={"q": text})
        assert r.status == 200, (text, r.body)
        assert r.json()["digests"] == expected, text

    for bad in (" ", "\x00"):
        assert api.get("/v1/dashboard/lookup", params={"q": bad}).status == 422
    assert (
        _other_org(api).get("/v1/dashboard/lookup", params={"q": v1[:20]}).json()["digests"] == []
    )


def test_timeline_starts_at_the_earliest_record(api: ApiHarness) -> None:
    assert api.get("/v1/dashboard/timeline").json() == {"first_record_at": None}
    api.env("k8s-east")
    api.record(digest=digest("now"))
    earlier = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    api.record(
        deployment_name="old",
        digest=digest("old"),
        observed_at=earlier.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    first = api.get("/v1/dashboard/timeline").json()["first_record_at"]
    assert dt.datetime.fromisoformat(first.replace("Z", "+00:00")) == earlier
    assert _other_org(api).get("/v1/dashboard/timeline").json() == {"first_record_at": None}


def test_every_support_call_needs_a_token(api: ApiHarness) -> None:
    for path in ("attested?digest=" + digest("x"), "deployment-names", "lookup?q=a", "timeline"):
        route, _, query = path.partition("?")
        params = dict([query.split("=")]) if query else None
        r = api.get(f"/v1/dashboard/{route}", params=params, token=None)
        assert r.status == 401, path
