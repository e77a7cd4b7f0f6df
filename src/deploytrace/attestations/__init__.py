"""Parsing and verifying in-toto attestation files (a pure library: no I/O besides its own data).

`parse(bytes)` turns a file (one JSON document or JSON Lines) into
`ParsedAttestation`s or raises `InvalidInput`; `verify(att, TrustStore(...))`
says whether one is intact and signed by someone the organization trusts.
"""

from __future__ import annotations

from .keys import PublicKey, TrustedKey, load_public_key
from .model import (
    ArtifactRef,
    BundleMaterial,
    DsseSignature,
    Envelope,
    Format,
    ParsedAttestation,
    Role,
    Status,
    Subject,
    Verification,
)
from .parse import parse
from .trust import PUBLIC_GOOD, TrustedSigstoreRoot, TrustStore, load_trusted_root
from .verify import verify

__all__ = [
    "PUBLIC_GOOD",
    "ArtifactRef",
    "BundleMaterial",
    "DsseSignature",
    "Envelope",
    "Format",
    "ParsedAttestation",
    "PublicKey",
    "Role",
    "Status",
    "Subject",
    "TrustStore",
    "TrustedKey",
    "TrustedSigstoreRoot",
    "Verification",
    "load_public_key",
    "load_trusted_root",
    "parse",
    "verify",
]
