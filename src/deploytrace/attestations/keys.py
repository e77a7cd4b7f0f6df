"""Trusted public keys: validating PEM input and the key ids a signature may name."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)
from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]  # no __all__

from deploytrace.errors import InvalidInput

from .detect import PEM_LABEL, pem_kind

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}
_MIN_RSA_BITS = 2048
_RSA_HASHES = ("sha256", "sha384", "sha512")


def load_public_key(pem: bytes) -> PublicKey:
    """The key of a PEM public key (ECDSA P-256/P-384, RSA >= 2048 bits, Ed25519)."""
    labels = [m.group(1).decode() for m in PEM_LABEL.finditer(bytes(pem))]
    if not labels:
        raise InvalidInput("not a PEM public key (no -----BEGIN PUBLIC KEY----- block)")
    if len(labels) > 1:
        raise InvalidInput(f"found {len(labels)} PEM blocks; give exactly one public key")
    kind = pem_kind(labels[0])
    if kind == "a PEM certificate":
        raise InvalidInput(
            "found a PEM certificate, not a public key "
            "(extract it with `openssl x509 -pubkey -noout -in CERT`)"
        )
    if kind != "a PEM public key":
        raise InvalidInput(f"found {kind}, not a public key")
    try:
        key = load_pem_public_key(bytes(pem))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidInput(f"cannot read the PEM public key: {exc}") from None
    return _check_supported(key)


def _check_supported(key: object) -> PublicKey:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _CURVES:
            raise InvalidInput(f"unsupported ECDSA curve {key.curve.name} (use P-256 or P-384)")
        return key
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            raise InvalidInput(f"RSA key of {key.key_size} bits is too weak (2048 at least)")
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise InvalidInput(
        f"unsupported key type {type(key).__name__} (use ECDSA P-256/P-384, RSA or Ed25519)"
    )


@dataclass(frozen=True)
class TrustedKey:
    name: str
    key: PublicKey
    keyids: frozenset[str]  # what a DSSE `keyid` may say to name this key

    @classmethod
    def from_pem(cls, name: str, pem: bytes) -> TrustedKey:
        key = load_public_key(pem)
        return cls(name=name, key=key, keyids=frozenset(_keyids(name, pem, key)))

    def named_by(self, keyid: str) -> bool:
        return bool(keyid) and (keyid in self.keyids or keyid.lower() in self.keyids)


def _keyids(name: str, pem: bytes, key: PublicKey) -> set[str]:
    canonical = key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    # witness uses sha256 of the PEM file as given; also accept the canonical form.
    ids = {name, hashlib.sha256(pem).hexdigest(), hashlib.sha256(canonical).hexdigest()}
    # A securesystemslib keyid covers the signing scheme too, and RSA has several.
    schemes: tuple[str | None, ...] = (None,)
    if isinstance(key, rsa.RSAPublicKey):
        schemes = tuple(f"{p}-{h}" for p in ("rsassa-pss", "rsa-pkcs1v15") for h in _RSA_HASHES)
    for scheme in schemes:
        # securesystemslib knows fewer key shapes; the other ids still apply then.
        with contextlib.suppress(ValueError, TypeError, UnsupportedAlgorithm):
            ids.add(SSlibKey.from_crypto(key, scheme=scheme).keyid)
    return ids
