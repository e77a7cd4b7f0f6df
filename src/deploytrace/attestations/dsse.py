"""DSSE envelopes: reading them tolerantly and the pre-authentication encoding."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from deploytrace.errors import InvalidInput

from .model import DsseSignature, Envelope

_B64_TEXT = re.compile(rb"^[A-Za-z0-9+/_-]+={0,2}$")
_WHITESPACE = re.compile(r"\s+")


def b64decode_loose(text: str) -> bytes | None:
    """Decode standard or URL-safe base64, padded or not (the DSSE spec allows both)."""
    compact = _WHITESPACE.sub("", text)
    if not compact.isascii():
        return None
    if "-" in compact or "_" in compact:
        compact = compact.replace("-", "+").replace("_", "/")
    compact = compact.rstrip("=")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def looks_like_base64(data: bytes) -> bool:
    return len(data) >= 8 and _B64_TEXT.match(data) is not None


def pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def is_in_toto_payload_type(payload_type: str) -> bool:
    # Older tools wrote the statement type URI instead of the media type.
    kind = payload_type.strip().lower()
    return (kind.startswith("application/vnd.in-toto") and kind.endswith("json")) or (
        kind.startswith("https://in-toto.io/statement/")
    )


def is_envelope(doc: dict[str, Any]) -> bool:
    return "payloadType" in doc or ("payload" in doc and "signatures" in doc)


def parse_envelope(doc: Any, where: str = "DSSE envelope") -> Envelope:
    """Read an envelope; its payload must be declared an in-toto statement."""
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where} is not a JSON object")
    payload_type = doc.get("payloadType")
    if not isinstance(payload_type, str):
        raise InvalidInput(f"{where} has no payloadType")
    if not is_in_toto_payload_type(payload_type):
        raise InvalidInput(
            f"{where} with payloadType {payload_type!r} does not carry an in-toto statement"
        )
    payload_text = doc.get("payload")
    if not isinstance(payload_text, str):
        raise InvalidInput(f"{where} has no payload")
    payload = b64decode_loose(payload_text)
    if payload is None:
        raise InvalidInput(f"{where} payload is not base64")
    signatures = doc.get("signatures", [])
    if signatures is None:
        signatures = []
    if not isinstance(signatures, list):
        raise InvalidInput(f"{where}: signatures is not a list")
    return Envelope(
        payload_type=payload_type,
        payload=payload,
        signatures=tuple(
            _parse_signature(s, f"{where}: signatures[{i}]") for i, s in enumerate(signatures)
        ),
    )


def _parse_signature(doc: Any, where: str) -> DsseSignature:
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where} is not a JSON object")
    sig = doc.get("sig", "")
    keyid = doc.get("keyid", "")
    cert = doc.get("cert")
    if not isinstance(sig, str):
        raise InvalidInput(f"{where}.sig is not a string")
    if keyid is None:
        keyid = ""
    if not isinstance(keyid, str):
        raise InvalidInput(f"{where}.keyid is not a string")
    if cert is not None and not isinstance(cert, str):
        raise InvalidInput(f"{where}.cert is not a string")
    return DsseSignature(keyid=keyid, sig=sig, cert=cert or None)
