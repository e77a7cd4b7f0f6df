"""Trust material: `load_public_key`, `load_trusted_root` and `TrustStore`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from deploytrace.attestations import (
    PUBLIC_GOOD,
    TrustStore,
    load_public_key,
    load_trusted_root,
)
from deploytrace.errors import InvalidInput

CORPUS = Path(__file__).resolve().parents[1] / "data" / "attestations"
PACKAGED_ROOT = (
    Path(__file__).resolve().parents[2] / "src/deploytrace/attestations/roots/public-good.json"
)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("slsa-verifier/gcb-us-west2.pub.pem", ec.EllipticCurvePublicKey),
        ("slsa-verifier/vsa_signing_public_key.pem", ec.EllipticCurvePublicKey),
        ("chainloop/release-cosign.pub", ec.EllipticCurvePublicKey),
        ("witness/testpub.pem", ed25519.Ed25519PublicKey),
    ],
)
def test_corpus_public_keys_load(name: str, kind: type) -> None:
    assert isinstance(load_public_key((CORPUS / name).read_bytes()), kind)


def _public_pem(key: object) -> bytes:
    assert hasattr(key, "public_bytes")
    pem: bytes = key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return pem


def test_rsa_and_p384_keys_load() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    assert isinstance(load_public_key(_public_pem(rsa_key)), rsa.RSAPublicKey)
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    assert isinstance(load_public_key(_public_pem(p384)), ec.EllipticCurvePublicKey)


def _private_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            (CORPUS / "chainloop/verifier-testdata-ca.crt.pem").read_bytes(),
            "found a PEM certificate",
        ),
        (_private_pem(), "found a PEM private key, not a public key"),
        (b"", "not a PEM public key"),
        (b"garbage", "not a PEM public key"),
        ((CORPUS / "trivy/attestation.json").read_bytes(), "not a PEM public key"),
        (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "cannot read"),
        (
            (CORPUS / "witness/testpub.pem").read_bytes() * 2,
            "found 2 PEM blocks",
        ),
        (
            _public_pem(
                rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
            ),
            "too weak",
        ),
        (
            _public_pem(ec.generate_private_key(ec.SECP521R1()).public_key()),
            "unsupported ECDSA curve",
        ),
        (_public_pem(dsa.generate_private_key(2048).public_key()), "unsupported key type"),
    ],
)
def test_bad_public_keys(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_public_key(data)


def test_trusted_roots_load() -> None:
    for name in ("trusted_root.public-good.json", "trusted_root.staging.json"):
        root = load_trusted_root((CORPUS / "sigstore-python" / name).read_bytes())
        assert root.get_fulcio_certs()


def test_packaged_public_good_root_is_the_corpus_copy() -> None:
    corpus_root = CORPUS / "sigstore-python/trusted_root.public-good.json"
    assert PACKAGED_ROOT.read_bytes() == corpus_root.read_bytes()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ((CORPUS / "witness/testpub.pem").read_bytes(), "found a PEM public key, not a Sigstore"),
        (
            (CORPUS / "trivy/sigstore-bundle.json").read_bytes(),
            "found a Sigstore bundle, not a Sigstore trusted root",
        ),
        ((CORPUS / "trivy/attestation.json").read_bytes(), "is not a Sigstore trusted root"),
        (b"[]", "a JSON array is not a Sigstore trusted root"),
        (b"\xff\xfe", "not JSON"),
        (
            json.dumps({"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}),
            "unusable Sigstore trusted root",
        ),
        (
            json.dumps({"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=9"}),
            "unusable Sigstore trusted root",
        ),
    ],
)
def test_bad_trusted_roots(data: bytes | str, message: str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(InvalidInput, match=message):
        load_trusted_root(raw)


def test_trust_store_contents_and_errors() -> None:
    store = TrustStore(
        keys=[("w", (CORPUS / "witness/testpub.pem").read_bytes())],
        roots=[("staging", (CORPUS / "sigstore-python/trusted_root.staging.json").read_bytes())],
    )
    assert [k.name for k in store.keys] == ["w"]
    assert [r.name for r in store.roots] == [PUBLIC_GOOD, "staging"]
    assert TrustStore(include_public_good=False).roots == ()
    with pytest.raises(InvalidInput, match="trusted key 'bad': found a PEM certificate"):
        TrustStore(keys=[("bad", (CORPUS / "chainloop/verifier-testdata-ca.crt.pem").read_bytes())])
    with pytest.raises(InvalidInput, match="trusted root 'nope': "):
        TrustStore(roots=[("nope", b"{}")])
