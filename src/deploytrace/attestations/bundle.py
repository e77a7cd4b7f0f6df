"""Sigstore bundles v0.1-v0.3, read tolerantly (sigstore-python refuses several real ones)."""

from __future__ import annotations

from typing import Any

from deploytrace.errors import InvalidInput

from .dsse import parse_envelope
from .model import BundleMaterial, Envelope

BUNDLE_MEDIA_PREFIX = "application/vnd.dev.sigstore.bundle"


def is_bundle(doc: dict[str, Any]) -> bool:
    media_type = doc.get("mediaType")
    if isinstance(media_type, str) and media_type.startswith(BUNDLE_MEDIA_PREFIX):
        return True
    return "verificationMaterial" in doc and ("dsseEnvelope" in doc or "messageSignature" in doc)


def parse_bundle(doc: dict[str, Any]) -> tuple[str, Envelope, BundleMaterial]:
    media_type = doc.get("mediaType")
    if not isinstance(media_type, str) or not media_type.startswith(BUNDLE_MEDIA_PREFIX):
        raise InvalidInput(f"Sigstore bundle with unknown mediaType {media_type!r}")
    if "dsseEnvelope" not in doc:
        if "messageSignature" in doc:
            raise InvalidInput(
                "found a Sigstore bundle with a message signature (a signed file), "
                "not an attestation"
            )
        raise InvalidInput("Sigstore bundle has no dsseEnvelope")
    envelope = parse_envelope(doc["dsseEnvelope"], "the bundle's DSSE envelope")
    return media_type, envelope, _material(doc.get("verificationMaterial"))


def _material(doc: Any) -> BundleMaterial:
    if not isinstance(doc, dict):
        doc = {}
    chain = _chain(doc.get("x509CertificateChain"))
    leaf = _raw_bytes(doc.get("certificate"))
    if leaf is None and chain:
        leaf, chain = chain[0], chain[1:]
    hint = doc.get("publicKey")
    hint = hint.get("hint") if isinstance(hint, dict) else None
    return BundleMaterial(
        certificate=leaf,
        chain=tuple(chain),
        public_key_hint=hint if isinstance(hint, str) and hint else None,
        tlog_entries=_count(doc.get("tlogEntries")),
        rfc3161_timestamps=_count(_get(doc.get("timestampVerificationData"), "rfc3161Timestamps")),
    )


def _chain(doc: Any) -> list[str]:
    certificates = _get(doc, "certificates")
    if not isinstance(certificates, list):
        return []
    return [raw for cert in certificates if (raw := _raw_bytes(cert)) is not None]


def _raw_bytes(doc: Any) -> str | None:
    raw = _get(doc, "rawBytes")
    return raw if isinstance(raw, str) and raw else None


def _get(doc: Any, key: str) -> Any:
    return doc.get(key) if isinstance(doc, dict) else None


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0
