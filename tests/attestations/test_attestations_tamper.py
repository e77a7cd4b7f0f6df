"""Tampered payloads, signatures and certificates are `invalid`; genuine files never are."""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from deploytrace.attestations import TrustStore, parse, verify
from deploytrace.attestations.keys import TrustedKey

CORPUS = Path(__file__).resolve().parents[1] / "data" / "attestations"
Doc = dict[str, Any]
Tamper = Callable[[Doc], None]

CHAINLOOP_DSSE = "chainloop/attestation-dsse.json"
WITNESS_DSSE = "witness/cdx-att.json"
EMBEDDED_CERT_DSSE = "slsa-verifier/binary-linux-amd64-workflow_dispatch.intoto.jsonl"
BUNDLE_V3 = "sigstore-conformance/happy-path-intoto-in-dsse-v3.bundle.sigstore.json"
BUNDLE_V1 = "sigstore-go/bundle-provenance.json"
TWO_SIGS = "sigstore-go/dsse-2sigs.sigstore.json"
DOUBLE_B64 = "chainloop/bundle_valid.json"
OTHER_LEAF = "trivy/sigstore-bundle.json"


def _load(name: str) -> Doc:
    doc = json.loads((CORPUS / name).read_bytes())
    assert isinstance(doc, dict)
    return doc


def _status(doc: Doc, trust: TrustStore) -> tuple[str, str | None]:
    (att,) = parse(json.dumps(doc).encode())
    result = verify(att, trust)
    return result.status, result.reason


def _envelope(doc: Doc) -> Doc:
    env = doc.get("dsseEnvelope", doc)
    assert isinstance(env, dict)
    return env


def tamper_payload(doc: Doc) -> None:
    env = _envelope(doc)
    statement = json.loads(base64.b64decode(env["payload"]))
    statement["subject"][0]["digest"] = {"sha256": "0" * 64}
    env["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()


def tamper_signature(doc: Doc) -> None:
    for signature in _envelope(doc)["signatures"]:
        raw = bytearray(base64.b64decode(signature["sig"]))
        raw[-1] ^= 0x01
        signature["sig"] = base64.b64encode(bytes(raw)).decode()


def swap_bundle_certificate(doc: Doc) -> None:
    other = _load(OTHER_LEAF)["verificationMaterial"]["certificate"]["rawBytes"]
    material = doc["verificationMaterial"]
    if "certificate" in material:
        material["certificate"]["rawBytes"] = other
    else:
        material["x509CertificateChain"]["certificates"][0]["rawBytes"] = other


def damage_bundle_certificate(doc: Doc) -> None:
    material = doc["verificationMaterial"]
    holder = material.get("certificate") or material["x509CertificateChain"]["certificates"][0]
    holder["rawBytes"] = base64.b64encode(b"\x30\x03garbage").decode()


TAMPERINGS: dict[str, Tamper] = {
    "payload": tamper_payload,
    "signature": tamper_signature,
}
BUNDLE_TAMPERINGS: dict[str, Tamper] = {
    **TAMPERINGS,
    "certificate-swapped": swap_bundle_certificate,
    "certificate-damaged": damage_bundle_certificate,
}


@pytest.fixture(scope="module")
def witness_trust() -> TrustStore:
    return TrustStore(keys=[("witness-test", (CORPUS / "witness/testpub.pem").read_bytes())])


@pytest.mark.parametrize("how", TAMPERINGS)
@pytest.mark.parametrize("name", [WITNESS_DSSE, "witness/spdx-att.json"])
def test_witness_dsse_tampering_is_invalid(name: str, how: str, witness_trust: TrustStore) -> None:
    doc = _load(name)
    assert _status(doc, witness_trust)[0] == "verified"
    TAMPERINGS[how](doc)
    status, reason = _status(doc, witness_trust)
    assert status == "invalid"
    assert "witness-test" in (reason or "")


@pytest.mark.parametrize("how", TAMPERINGS)
def test_chainloop_dsse_tampering(how: str) -> None:
    """The signature's keyid is empty: only a keyid naming the trusted key makes it `invalid`.

    An empty keyid says nothing about the signer, and genuine envelopes signed by
    unknown keys (corpus #23, #25, #26, #31, #32) must not become `invalid` just
    because the organization trusts some key. See the report on this point.
    """
    pem = (CORPUS / "chainloop/release-cosign.pub").read_bytes()
    trust = TrustStore(keys=[("chainloop-release", pem)])
    doc = _load(CHAINLOOP_DSSE)
    TAMPERINGS[how](doc)
    assert _status(doc, trust) == ("unverified", "signed, but by no key this organization trusts")
    # name, sha256 of the PEM bytes (witness), securesystemslib keyid, ...
    keyids = TrustedKey.from_pem("chainloop-release", pem).keyids
    assert len(keyids) >= 3
    for keyid in sorted(keyids):
        _envelope(doc)["signatures"][0]["keyid"] = keyid
        assert _status(doc, trust)[0] == "invalid", keyid


@pytest.mark.parametrize("how", [*TAMPERINGS, "certificate-swapped"])
def test_dsse_with_embedded_certificate(how: str, default_trust: TrustStore) -> None:
    doc = _load(EMBEDDED_CERT_DSSE)
    if how == "certificate-swapped":
        leaf = _load(OTHER_LEAF)["verificationMaterial"]["certificate"]["rawBytes"]
        body = "\n".join(textwrap.wrap(leaf, 64))
        pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
        x509.load_pem_x509_certificate(pem.encode())  # a real, readable certificate
        doc["signatures"][0]["cert"] = pem
    else:
        TAMPERINGS[how](doc)
    status, reason = _status(doc, default_trust)
    assert status == "invalid"
    assert "embedded certificate" in (reason or "")


@pytest.mark.parametrize("how", BUNDLE_TAMPERINGS)
@pytest.mark.parametrize("name", [BUNDLE_V3, BUNDLE_V1, TWO_SIGS, DOUBLE_B64])
def test_bundle_tampering_is_invalid(name: str, how: str, default_trust: TrustStore) -> None:
    doc = _load(name)
    assert _status(doc, default_trust)[0] in {"verified", "unverified"}
    BUNDLE_TAMPERINGS[how](doc)
    status, reason = _status(doc, default_trust)
    assert status == "invalid", reason
    assert "certificate" in (reason or "")


def test_two_signatures_one_good_is_enough(default_trust: TrustStore) -> None:
    doc = _load(TWO_SIGS)
    assert _status(doc, default_trust)[0] == "unverified"
    first = doc["dsseEnvelope"]["signatures"][0]
    doc["dsseEnvelope"]["signatures"].reverse()  # the good one second: still fine
    assert _status(doc, default_trust)[0] == "unverified"
    doc["dsseEnvelope"]["signatures"] = [doc["dsseEnvelope"]["signatures"][0]]
    assert doc["dsseEnvelope"]["signatures"][0] is not first
    assert _status(doc, default_trust)[0] == "invalid"  # only the bad one left


def test_tampered_log_entry_is_unverified_not_invalid(default_trust: TrustStore) -> None:
    # The signature still matches the certificate; the transparency-log proof does not.
    doc = _load(BUNDLE_V3)
    doc["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = "1700000000"
    status, reason = _status(doc, default_trust)
    assert status == "unverified"
    assert "sigstore" in (reason or "")


@pytest.mark.parametrize(
    ("name", "key_file", "keyid"),
    [
        (
            "slsa-verifier/gke-gce-pre.bcid-vsa.jsonl",
            "slsa-verifier/vsa_signing_public_key.pem",
            "keystore://76574:prod:vsa_signing_public_key",
        ),
        (
            "slsa-verifier/gcloud-container-github.json",
            "slsa-verifier/gcb-us-west2.pub.pem",
            "projects/verified-builder/locations/us-west2/keyRings/attestor/cryptoKeys/"
            "builtByGCB/cryptoKeyVersions/1",
        ),
    ],
)
def test_key_named_like_the_keyid(name: str, key_file: str, keyid: str) -> None:
    pem = (CORPUS / key_file).read_bytes()
    doc = _load(name)
    envelope = (
        doc["provenance_summary"]["provenance"][0]["envelope"] if "image_summary" in doc else doc
    )
    named = TrustStore(keys=[(keyid, pem)])
    assert _status(doc, named)[0] == "verified"
    tamper_payload(envelope)
    assert _status(doc, named)[0] == "invalid"
    assert _status(doc, TrustStore(keys=[("other-name", pem)]))[0] == "unverified"
