"""Envelopes we sign ourselves: key types, signature encodings and the keyid rules."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey  # type: ignore[attr-defined]

from deploytrace.attestations import TrustStore, Verification, parse, verify
from deploytrace.attestations.dsse import pae

CORPUS = Path(__file__).resolve().parents[1] / "data" / "attestations"
IN_TOTO = "application/vnd.in-toto+json"
STATEMENT = {
    "_type": "https://in-toto.io/Statement/v1",
    "subject": [{"name": "app", "digest": {"sha256": "ab" * 32}}],
    "predicateType": "https://example.com/deployment/v1",
    "predicate": {"environment": "prod"},
}
PAYLOAD = json.dumps(STATEMENT).encode()
NO_KEY = "signed, but by no key this organization trusts"


def _pem(signer: CryptoSigner) -> bytes:
    public = signer.public_key.keyval["public"]
    if public.startswith("-----BEGIN"):
        return str(public).encode()
    key = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(public))
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def _sign(signer: CryptoSigner, payload: bytes = PAYLOAD) -> dict[str, Any]:
    envelope = Envelope(payload=payload, payload_type=IN_TOTO, signatures={})
    envelope.sign(signer)
    wire: dict[str, Any] = envelope.to_dict()
    return wire


def _verify(wire: dict[str, Any], trust: TrustStore) -> Verification:
    (att,) = parse(json.dumps(wire).encode())
    return verify(att, trust)


def _trust(**keys: CryptoSigner) -> TrustStore:
    return TrustStore(keys=[(name, _pem(s)) for name, s in keys.items()], include_public_good=False)


SIGNERS: dict[str, Callable[[], CryptoSigner]] = {
    "ecdsa-p256": CryptoSigner.generate_ecdsa,
    "ecdsa-p384": lambda: CryptoSigner(ec.generate_private_key(ec.SECP384R1())),
    "ed25519": CryptoSigner.generate_ed25519,
    "rsa-pss": lambda: CryptoSigner.generate_rsa(size=2048),
    "rsa-pkcs1v15": lambda: CryptoSigner.generate_rsa(scheme="rsa-pkcs1v15-sha256", size=2048),
    "rsa-pss-sha512": lambda: CryptoSigner.generate_rsa(scheme="rsassa-pss-sha512", size=2048),
}


@pytest.fixture(scope="module")
def signers() -> dict[str, CryptoSigner]:
    return {name: make() for name, make in SIGNERS.items()}


@pytest.mark.parametrize("kind", SIGNERS)
@pytest.mark.parametrize("keyid", ["as-signed", ""])
def test_own_envelopes_verify_with_a_trusted_key(
    kind: str, keyid: str, signers: dict[str, CryptoSigner]
) -> None:
    wire = _sign(signers[kind])
    if keyid != "as-signed":
        wire["signatures"][0]["keyid"] = keyid
    assert _verify(wire, _trust(mine=signers[kind])) == Verification.verified(
        "public-key", "key:mine"
    )
    others = {k: s for k, s in signers.items() if k != kind}
    result = _verify(wire, _trust(**others))
    assert (result.status, result.reason) == ("unverified", NO_KEY)
    assert _verify(wire, TrustStore(include_public_good=False)).status == "unverified"


@pytest.mark.parametrize("kind", SIGNERS)
def test_tampered_payload_naming_the_trusted_key_is_invalid(
    kind: str, signers: dict[str, CryptoSigner]
) -> None:
    wire = _sign(signers[kind])  # keyid = securesystemslib keyid of the key
    wire["payload"] = base64.b64encode(PAYLOAD.replace(b"prod", b"dev!")).decode()
    result = _verify(wire, _trust(mine=signers[kind]))
    assert result.status == "invalid"
    assert "'mine'" in (result.reason or "")
    wire["signatures"][0]["keyid"] = ""
    assert _verify(wire, _trust(mine=signers[kind])).status == "unverified"


def test_keyid_naming_another_trusted_key_is_invalid(signers: dict[str, CryptoSigner]) -> None:
    alice, bob = signers["ecdsa-p256"], signers["ed25519"]
    wire = _sign(alice)
    trust = _trust(bob=bob)
    for keyid in ("bob", hashlib.sha256(_pem(bob)).hexdigest(), bob.public_key.keyid):
        wire["signatures"][0]["keyid"] = keyid
        assert _verify(wire, trust).status == "invalid", keyid
    wire["signatures"][0]["keyid"] = alice.public_key.keyid  # names an untrusted key
    assert _verify(wire, trust).status == "unverified"
    wire["signatures"][0]["keyid"] = "someone-else"
    assert _verify(wire, trust).status == "unverified"


def test_one_trusted_signature_among_several_is_enough(signers: dict[str, CryptoSigner]) -> None:
    wire = _sign(signers["rsa-pss"])
    wire["signatures"] += _sign(signers["ed25519"])["signatures"]
    wire["signatures"].insert(0, {"keyid": "bob", "sig": "AAAA"})  # broken, names "bob"
    assert _verify(wire, _trust(ed=signers["ed25519"])).identity == "key:ed"
    # ... but when nothing verifies, a signature naming a trusted key makes it invalid.
    assert _verify(wire, _trust(bob=signers["ecdsa-p256"])).status == "invalid"


def _ecdsa_envelope(
    curve: ec.EllipticCurve, hash_type: hashes.HashAlgorithm
) -> tuple[dict[str, Any], bytes, bytes]:
    """(envelope without sig, DER signature over PAE, public PEM)."""
    key = ec.generate_private_key(curve)
    der = key.sign(pae(IN_TOTO, PAYLOAD), ec.ECDSA(hash_type))
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    wire = {"payloadType": IN_TOTO, "payload": base64.b64encode(PAYLOAD).decode()}
    return wire, der, pem


@pytest.mark.parametrize(
    ("curve", "hash_type", "size"),
    [(ec.SECP256R1(), hashes.SHA256(), 32), (ec.SECP384R1(), hashes.SHA384(), 48)],
)
def test_ieee_p1363_signatures(
    curve: ec.EllipticCurve, hash_type: hashes.HashAlgorithm, size: int
) -> None:
    wire, der, pem = _ecdsa_envelope(curve, hash_type)
    r, s = decode_dss_signature(der)
    p1363 = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    wire["signatures"] = [{"keyid": "", "sig": base64.b64encode(p1363).decode()}]
    trust = TrustStore(keys=[("k", pem)], include_public_good=False)
    assert _verify(wire, trust).status == "verified"


def test_double_base64_signature() -> None:
    wire, der, pem = _ecdsa_envelope(ec.SECP256R1(), hashes.SHA256())
    twice = base64.b64encode(base64.b64encode(der)).decode()
    wire["signatures"] = [{"sig": twice}]
    trust = TrustStore(keys=[("k", pem)], include_public_good=False)
    assert _verify(wire, trust).status == "verified"


def test_legacy_signature_over_the_raw_payload() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    sig = key.sign(PAYLOAD, ec.ECDSA(hashes.SHA256()))
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    wire = {
        "payloadType": IN_TOTO,
        "payload": base64.b64encode(PAYLOAD).decode(),
        "signatures": [{"keyid": "gcb", "sig": base64.b64encode(sig).decode()}],
    }
    assert _verify(wire, TrustStore(keys=[("gcb", pem)])).status == "verified"


def test_sslib_envelope_verify_agrees(signers: dict[str, CryptoSigner]) -> None:
    """Our verdict matches securesystemslib's own where it can decide (keyid set)."""
    signer = signers["ecdsa-p256"]
    wire = _sign(signer)
    Envelope.from_dict(copy.deepcopy(wire)).verify([signer.public_key], threshold=1)  # mutates
    assert _verify(wire, _trust(k=signer)).status == "verified"
    assert SSlibKey.from_crypto(ec.generate_private_key(ec.SECP256R1()).public_key()).keyid


def test_unsigned_inputs() -> None:
    unsigned = {"payloadType": IN_TOTO, "payload": base64.b64encode(PAYLOAD).decode()}
    result = _verify({**unsigned, "signatures": []}, TrustStore())
    assert (result.status, result.method) == ("unverified", None)
    assert "no signatures" in (result.reason or "")
    (att,) = parse(PAYLOAD)
    assert verify(att, TrustStore()) == Verification.unverified("unsigned statement")


def test_public_key_bundle_with_the_key_from_its_log_entry() -> None:
    """Corpus #5: the npm registry key is only inside the Rekor entry; trusting it verifies."""
    data = (CORPUS / "sigstore-go/bundle-publish.json").read_bytes()
    body = json.loads(
        base64.b64decode(
            json.loads(data)["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]
        )
    )
    npm_pem = base64.b64decode(body["spec"]["content"]["envelope"]["signatures"][0]["publicKey"])
    (att,) = parse(data)
    assert verify(att, TrustStore(keys=[("npm", npm_pem)])) == Verification.verified(
        "public-key", "key:npm"
    )
    hint = "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA"
    tampered = json.loads(data)
    tampered["dsseEnvelope"]["payload"] = base64.b64encode(PAYLOAD).decode()
    (att,) = parse(json.dumps(tampered).encode())
    assert verify(att, TrustStore(keys=[(hint, npm_pem)])).status == "invalid"
