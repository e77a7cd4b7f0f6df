"""SPEC §2: every value rule, with a clear error that names the rule and nothing stored."""

from __future__ import annotations

import pytest

from tests.support.api import ApiHarness
from tests.support.digests import digest

D = digest("D")


@pytest.fixture
def ready(api: ApiHarness) -> ApiHarness:
    api.env("k8s-east")
    return api


def _nothing_stored(api: ApiHarness) -> None:
    assert api.get("/v1/deployments", params={"history": True}).json()["items"] == []


@pytest.mark.parametrize(
    "name",
    ["", "A", "UPPER", "-lead", "trail-", "under_score", "dot.ted", "a" * 64, "spa ce", "é"],
)
def test_environment_name_must_be_a_dns_label(api: ApiHarness, name: str) -> None:
    r = api.post("/v1/environments", {"name": name})
    assert r.status == 422, r.body
    assert "DNS-1123 label" in r.json()["error"]["message"]
    assert api.get("/v1/environments").json()["items"] == []


@pytest.mark.parametrize("name", ["a", "k8s-east", "0", "a" * 63, "x-1-y"])
def test_valid_environment_names(api: ApiHarness, name: str) -> None:
    assert api.post("/v1/environments", {"name": name}).status == 201


def test_logical_environment_name_must_be_a_dns_label(api: ApiHarness) -> None:
    r = api.post("/v1/logical-environments", {"name": "Canary"})
    assert r.status == 422
    assert "DNS-1123 label" in r.json()["error"]["message"]
    assert api.post("/v1/logical-environments", {"name": "canary"}).status == 201


@pytest.mark.parametrize(
    "name", ["", "API", "-a", "a-", "a..b", ".a", "a.", "a_b", "a" * 254, "a/b"]
)
def test_deployment_name_must_be_a_dns_subdomain(ready: ApiHarness, name: str) -> None:
    r = ready.record(digest=D, deployment_name=name)
    assert r.status == 422, r.body
    assert "DNS-1123 subdomain" in r.json()["error"]["message"]
    _nothing_stored(ready)


@pytest.mark.parametrize("name", ["api", "api.v2", "a" * 253, "a-b.c-d.e"])
def test_valid_deployment_names(ready: ApiHarness, name: str) -> None:
    assert ready.record(digest=D, deployment_name=name).status == 201


@pytest.mark.parametrize("kind", ["container_image", "Helm_Chart", "HELM_CHART"])
def test_kind_is_case_insensitive_and_stored_upper(ready: ApiHarness, kind: str) -> None:
    r = ready.record(digest=D, kind=kind)
    assert r.status == 201
    assert r.json()["kind"] == kind.upper()


@pytest.mark.parametrize("kind", ["", "IMAGE", "CONTAINER-IMAGE", "oci"])
def test_kind_must_be_known(ready: ApiHarness, kind: str) -> None:
    r = ready.record(digest=D, kind=kind)
    assert r.status == 422
    assert "CONTAINER_IMAGE or HELM_CHART" in r.json()["error"]["message"]
    _nothing_stored(ready)


def test_digest_is_stored_lower_case(ready: ApiHarness) -> None:
    r = ready.record(digest=D.upper().replace("SHA256", "sha256"))
    assert r.status == 201
    assert r.json()["artifact"]["digest"] == D


def test_sha512_digests_are_accepted(ready: ApiHarness) -> None:
    d512 = digest("x", "sha512")
    assert ready.record(digest=d512).json()["artifact"]["digest"] == d512


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        "sha256:" + "a" * 65,
        "sha256:" + "g" * 64,
        "sha1:" + "a" * 40,
        "md5:" + "a" * 32,
        "a" * 64,
    ],
)
def test_digest_must_be_sha256_or_sha512(ready: ApiHarness, value: str) -> None:
    r = ready.record(digest=value)
    assert r.status == 422
    assert "sha256:" in r.json()["error"]["message"]
    _nothing_stored(ready)


@pytest.mark.parametrize(
    ("value", "whole"), [("sha256:" + "a" * 63, 64), ("sha512:" + "a" * 64, 128)]
)
def test_a_short_digest_is_a_prefix_of_attested_ones(
    ready: ApiHarness, value: str, whole: int
) -> None:
    # 8+ hex digits are a prefix (tables show 12); one naming no attested digest says so.
    r = ready.record(digest=value)
    assert (r.status, r.error_code) == (404, "not_attested")
    assert f"has {whole} hex digits" in r.json()["error"]["message"]
    _nothing_stored(ready)


@pytest.mark.parametrize("status", ["", "running", "DEPLOYED!", "superseded"])
def test_status_must_be_deployed_or_decommissioned(ready: ApiHarness, status: str) -> None:
    r = ready.record(digest=D, status=status)
    assert r.status == 422
    _nothing_stored(ready)


def test_status_defaults_to_deployed(ready: ApiHarness) -> None:
    assert ready.record(digest=D).json()["status"] == "deployed"


def test_unknown_environment_is_not_found(ready: ApiHarness) -> None:
    r = ready.record(digest=D, environment="nowhere")
    assert r.status == 404
    assert "nowhere" in r.json()["error"]["message"]
    r = ready.record(digest=D, logical_environment="qa")
    assert r.status == 404
    _nothing_stored(ready)


def test_default_logical_environments_exist(api: ApiHarness) -> None:
    names = [e["name"] for e in api.get("/v1/logical-environments").json()["items"]]
    assert names == ["development", "production", "staging"]


def test_control_characters_refused_in_free_text(ready: ApiHarness) -> None:
    r = ready.record(digest=D, artifact_name="bad\x00name")
    assert r.status == 422
    r = ready.post("/v1/environments", {"name": "ok", "description": "line\nbreak"})
    assert r.status == 422
    _nothing_stored(ready)


def test_unknown_fields_are_refused(ready: ApiHarness) -> None:
    r = ready.record(digest=D, colour="blue")
    assert r.status == 422
    assert "unknown field" in r.json()["error"]["message"]
    _nothing_stored(ready)


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"environment": 1}', b"null", b'{"digest": ["x"]}'],
)
def test_malformed_bodies_are_422(ready: ApiHarness, body: bytes) -> None:
    r = ready.request(
        "POST", "/v1/deployments", content=body, headers={"content-type": "application/json"}
    )
    assert r.status == 422, r.body
    assert r.error_code == "invalid"


def test_timestamps_are_utc_rfc3339(ready: ApiHarness) -> None:
    rec = ready.record(digest=D).json()
    for key in ("created_at", "updated_at", "last_seen_at"):
        assert rec[key].endswith("Z")
        assert "T" in rec[key]
