"""Checking one DSSE signature against one public key, in the encodings met in the wild.

All the mathematics is `cryptography`'s; this module only decides which
bytes to hand it: DER or IEEE P1363 ECDSA signatures, a `sig` that was
base64-encoded twice, and PAE or (legacy GCB) the bare payload as message.
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .dsse import b64decode_loose, looks_like_base64, pae
from .model import DsseSignature, Envelope

_CURVE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}


def envelope_signature_verifies(key: object, envelope: Envelope, signature: DsseSignature) -> bool:
    """Whether `signature` of `envelope` was made by `key`."""
    messages = (pae(envelope.payload_type, envelope.payload), envelope.payload)
    return any(
        verify_raw(key, sig, message)
        for message in messages
        for sig in signature_candidates(signature.sig)
    )


def signature_candidates(text: str) -> Iterator[bytes]:
    """The bytes `sig` may stand for: decoded once and, if that is base64 again, twice."""
    once = b64decode_loose(text)
    if once is None:
        return
    yield once
    if looks_like_base64(once):
        twice = b64decode_loose(once.decode("ascii"))
        if twice is not None:
            yield twice


def verify_raw(key: object, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            return _verify_ecdsa(key, signature, message)
        if isinstance(key, rsa.RSAPublicKey):
            return _verify_rsa(key, signature, message)
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
            return True
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return False
    return False


def _verify_ecdsa(key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> bool:
    hash_types = [_CURVE_HASHES.get(key.curve.name, hashes.SHA256)]
    if hashes.SHA256 not in hash_types:
        hash_types.append(hashes.SHA256)
    encodings = [signature]
    size = (key.curve.key_size + 7) // 8
    if len(signature) == 2 * size:  # IEEE P1363 r||s, as Google Cloud KMS VSAs have it
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        encodings.append(encode_dss_signature(r, s))
    for der in encodings:
        for hash_type in hash_types:
            try:
                key.verify(der, message, ec.ECDSA(hash_type()))
                return True
            except InvalidSignature:
                continue
    return False


def _verify_rsa(key: rsa.RSAPublicKey, signature: bytes, message: bytes) -> bool:
    for hash_type in (hashes.SHA256, hashes.SHA384, hashes.SHA512):
        schemes: tuple[padding.AsymmetricPadding, ...] = (
            padding.PKCS1v15(),
            padding.PSS(mgf=padding.MGF1(hash_type()), salt_length=padding.PSS.AUTO),
        )
        for scheme in schemes:
            try:
                key.verify(signature, message, scheme, hash_type())
                return True
            except InvalidSignature:
                continue
    return False
