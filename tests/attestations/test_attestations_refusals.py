"""Inputs that are not attestations are refused with a message naming what they are."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from deploytrace.attestations import parse
from deploytrace.errors import InvalidInput

CORPUS = Path(__file__).resolve().parents[1] / "data" / "attestations"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("slsa-verifier/gcb-us-west2.pub.pem", "found a PEM public key, not an attestation"),
        ("slsa-verifier/vsa_signing_public_key.pem", "found a PEM public key, not an attestation"),
        ("chainloop/release-cosign.pub", "found a PEM public key, not an attestation"),
        ("witness/testpub.pem", "found a PEM public key, not an attestation"),
        ("chainloop/verifier-testdata-ca.crt.pem", "found a PEM certificate, not an attestation"),
        ("sigstore-python/trusted_root.public-good.json", "found a Sigstore trusted root"),
        ("sigstore-python/trusted_root.staging.json", "found a Sigstore trusted root"),
        (
            "slsa-verifier/container_workflow_dispatch.cosign-att-manifest.sha256-31cc4fb6.json",
            "found an OCI image manifest, not an attestation",
        ),
    ],
)
def test_corpus_non_attestations(name: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse((CORPUS / name).read_bytes())
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty input"),
        (b" \n\t\r\n", "empty input"),
        (b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", "private key"),
        (b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n", "found a PEM private key"),
        (b"-----BEGIN PGP SIGNATURE-----\n", "found PEM data (PGP SIGNATURE)"),
        (b'{"a": 1, "b": [2], "c": null}', "JSON object with keys a, b, c is not an in-toto"),
        (b"{}", "an empty JSON object is not"),
        (b"[1, 2]", "a JSON array is not"),
        (b'"text"', "a JSON string is not"),
        (b"42", "a JSON number is not"),
        (b"null", "a JSON null is not"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8"),
        (b"hello world", "input is not JSON"),
        (b"NaN", "input is not JSON"),
        (b"[" * 100_000, "not JSON"),
        (b'{"schemaVersion": 2, "manifests": []}', "found an OCI image index"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.5"}', "found a CycloneDX SBOM"),
        (b'{"spdxVersion": "SPDX-2.3"}', "found an SPDX SBOM"),
        (
            b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "dsseEnvelope": 1}',
            "envelope is not a JSON object",
        ),
    ],
)
def test_refused_inputs(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(data)
    assert message in caught.value.message


def test_many_keys_are_abbreviated() -> None:
    data = ("{" + ", ".join(f'"k{i}": {i}' for i in range(12)) + "}").encode()
    with pytest.raises(InvalidInput, match=r"keys k0, k1, k2, k3, k4, k5, k6, k7, \.\.\. is not"):
        parse(data)


def test_random_binary_is_refused() -> None:
    with pytest.raises(InvalidInput):
        parse(random.Random(7).randbytes(4096))
