"""Signature verification at push time: stored, shown, and tampering refused."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from tests.support.api import ApiHarness
from tests.support.statements import corpus


def _verification(api: ApiHarness, path: str) -> dict[str, object]:
    r = api.push(corpus(path))
    assert r.status in (200, 201), (path, r.body)
    return dict(r.json()["items"][0]["verification"])


def _add_key(api: ApiHarness, name: str, path: str) -> None:
    r = api.post("/v1/trust/keys", {"name": name, "pem": corpus(path).decode()})
    assert r.status == 201, r.body


@pytest.mark.parametrize(
    "path",
    [
        "sigstore-conformance/happy-path-intoto-in-dsse-v3.bundle.sigstore.json",
        "slsa-verifier/rules_lint-v1.3.1.tar.gz.intoto.jsonl",
        "cosign/oci-attestation.sigstore.json",
        "trivy/sigstore-bundle.json",
    ],
)
def test_public_good_bundles_verify_offline_by_default(api: ApiHarness, path: str) -> None:
    v = _verification(api, path)
    assert v["status"] == "verified", v
    assert v["method"] == "sigstore"
    assert v["identity"]


@pytest.mark.parametrize(
    "path",
    [
        "sigstore-go/bundle-provenance.json",  # v0.1 without inclusion proof
        "gh-cli/sigstore-js-2.1.0-bundle.json",  # Rekor intoto 0.0.2
        "gh-cli/github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl",  # GitHub, TSA only
        "chainloop/wasm-policy-sdk-release-attestation.json",  # Chainloop CA
        "sigstore-conformance/statement.json",  # unsigned
        "cosign/policy-valid-vuln.dsse.json",  # signed by an unknown key
    ],
)
def test_genuine_files_sigstore_cannot_verify_are_unverified_with_a_reason(
    api: ApiHarness, path: str
) -> None:
    v = _verification(api, path)
    assert v["status"] == "unverified", v
    assert v["reason"]


def test_staging_bundle_needs_the_staging_root(api: ApiHarness) -> None:
    path = "sigstore-python/a.dsse.staging-rekor-v2.txt.sigstore.json"
    assert _verification(api, path)["status"] == "unverified"
    r = api.post(
        "/v1/trust/roots",
        {
            "name": "staging",
            "trusted_root": corpus("sigstore-python/trusted_root.staging.json").decode(),
        },
    )
    assert r.status == 201, r.body
    # Already stored: the stored verdict stands; a fresh org would now verify it.
    fresh = ApiHarness(api.app, token=_second_org_token(api), db=api.db)
    fresh.post(
        "/v1/trust/roots",
        {
            "name": "staging",
            "trusted_root": corpus("sigstore-python/trusted_root.staging.json").decode(),
        },
    )
    assert _verification(fresh, path)["status"] == "verified"


def _second_org_token(api: ApiHarness) -> str:
    from deploytrace.services import tenancy

    return tenancy.bootstrap(api.db, "second")[1]


@pytest.mark.parametrize(
    ("path", "key", "identity"),
    [
        ("chainloop/attestation-dsse.json", "chainloop/release-cosign.pub", "key:cl"),
        ("witness/cdx-att.json", "witness/testpub.pem", "key:cl"),
        (
            "slsa-verifier/gke-gce-pre.bcid-vsa.jsonl",
            "slsa-verifier/vsa_signing_public_key.pem",
            "key:cl",
        ),
        (
            "slsa-verifier/gcloud-container-github.json",
            "slsa-verifier/gcb-us-west2.pub.pem",
            "key:cl",
        ),
    ],
)
def test_dsse_verifies_against_a_trusted_key(
    api: ApiHarness, path: str, key: str, identity: str
) -> None:
    _add_key(api, "cl", key)
    v = _verification(api, path)
    assert v == {
        "status": "verified",
        "method": "public-key",
        "identity": identity,
        "key_fingerprint": "sha256:" + hashlib.sha256(corpus(key)).hexdigest(),
        "reason": None,
    }


def _tamper_payload(data: bytes) -> bytes:
    envelope = json.loads(data)
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["predicateType"] = "https://evil.example/forged"
    envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps(envelope).encode()


def test_tampered_dsse_with_a_keyid_is_refused(api: ApiHarness) -> None:
    _add_key(api, "witness", "witness/testpub.pem")
    r = api.push(_tamper_payload(corpus("witness/cdx-att.json")))
    assert r.status == 422
    assert "invalid" in r.json()["error"]["message"]
    assert api.get("/v1/attestations").json()["items"] == []


def test_tampered_dsse_without_keyid_is_refused_when_the_key_is_required(api: ApiHarness) -> None:
    _add_key(api, "chainloop-release", "chainloop/release-cosign.pub")
    tampered = _tamper_payload(corpus("chainloop/attestation-dsse.json"))
    r = api.push(tampered, key="chainloop-release")
    assert r.status == 422
    assert "chainloop-release" in r.json()["error"]["message"]
    assert api.get("/v1/attestations").json()["items"] == []
    genuine = api.push(corpus("chainloop/attestation-dsse.json"), key="chainloop-release")
    assert genuine.status == 201
    assert api.push(corpus("witness/cdx-att.json"), key="nope").status == 404


def test_tampered_bundle_is_refused(api: ApiHarness) -> None:
    bundle = json.loads(
        corpus("sigstore-conformance/happy-path-intoto-in-dsse-v3.bundle.sigstore.json")
    )
    bundle["dsseEnvelope"] = json.loads(
        _tamper_payload(json.dumps(bundle["dsseEnvelope"]).encode())
    )
    r = api.push(json.dumps(bundle).encode())
    assert r.status == 422
    assert api.get("/v1/attestations").json()["items"] == []


def test_trust_management(api: ApiHarness) -> None:
    listed = api.get("/v1/trust").json()["items"]
    assert [(t["name"], t["builtin"]) for t in listed] == [("public-good", True)]
    _add_key(api, "cl", "chainloop/release-cosign.pub")
    assert (
        api.post(
            "/v1/trust/keys", {"name": "cl", "pem": corpus("witness/testpub.pem").decode()}
        ).status
        == 409
    )
    for bad in (
        "chainloop/verifier-testdata-ca.crt.pem",
        "sigstore-python/trusted_root.staging.json",
    ):
        r = api.post("/v1/trust/keys", {"name": "bad", "pem": corpus(bad).decode()})
        assert r.status == 422, bad
    r = api.post("/v1/trust/roots", {"name": "bad", "trusted_root": "{}"})
    assert r.status == 422
    names = [t["name"] for t in api.get("/v1/trust").json()["items"]]
    assert names == ["public-good", "cl"]
    assert api.delete("/v1/trust/cl").status == 204
    assert api.delete("/v1/trust/cl").status == 404
    assert api.delete("/v1/trust/public-good").status == 409


def test_the_service_constants_are_the_library_s() -> None:
    from deploytrace.attestations import PUBLIC_GOOD
    from deploytrace.attestations.verify import KEY_METHOD
    from deploytrace.services import trust

    assert trust.PUBLIC_GOOD == PUBLIC_GOOD
    assert trust.KEY_METHOD == KEY_METHOD


def test_a_certificate_key_of_unknown_type_is_invalid_not_an_error(api: ApiHarness) -> None:
    """Found by the fuzzer: an unknown key algorithm made verification raise (HTTP 500)."""
    path = "sigstore-conformance/happy-path-intoto-in-dsse-v3.bundle.sigstore.json"
    bundle = json.loads(corpus(path))
    der = base64.b64decode(bundle["verificationMaterial"]["certificate"]["rawBytes"])
    ec_public_key = bytes.fromhex("06072a8648ce3d0201")  # OID 1.2.840.10045.2.1
    assert der.count(ec_public_key) == 1
    unknown = der.replace(ec_public_key, bytes.fromhex("06072a8648ce3d0209"))
    bundle["verificationMaterial"]["certificate"]["rawBytes"] = base64.b64encode(unknown).decode()
    r = api.push(json.dumps(bundle).encode())
    assert r.status == 422, r.body
    assert "no supported type" in r.json()["error"]["message"]
