"""Sigstore bundles with a certificate: offline verification with sigstore-python."""

from __future__ import annotations

import re

from cryptography import x509
from sigstore.models import Bundle

from .certs import identity, issuer_name
from .model import Verification
from .trust import TrustStore

METHOD = "sigstore"

# sigstore-python 4.5 refuses some genuine bundles; say why in words.
_KNOWN_LIMITS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"tlogEntries\s+Field required", re.S),
        "it has no transparency-log entry (timestamp-only bundle), which sigstore-python "
        "cannot verify",
    ),
    (
        re.compile(r"inclusionProof", re.S),
        "its transparency-log entry has no usable inclusion proof (old v0.1 bundle)",
    ),
    (
        re.compile(r"Integrated time only supported"),
        "its transparency-log entry is a Rekor intoto 0.0.2 entry, which sigstore-python "
        "cannot verify",
    ),
    (
        re.compile(r"Unsupported DSSE log entry type"),
        "its transparency-log entry kind is not supported by sigstore-python",
    ),
)


class _AnyIdentity:
    """Accept every signer: the identity is reported to the caller, whose policy judges it."""

    def verify(self, cert: x509.Certificate) -> None:
        return None


def verify_with_sigstore(raw: bytes, cert: x509.Certificate, trust: TrustStore) -> Verification:
    """Trust check for a bundle whose signature already matches its own certificate."""
    who = identity(cert)
    roots = [root for root in trust.roots if root.issued(cert)]
    if not roots:
        return Verification.unverified(
            f"certificate not issued by a trusted root (signer {who}; "
            f"certificate issuer {issuer_name(cert)})",
            METHOD,
        )
    try:
        bundle = Bundle.from_json(raw)
    except Exception as exc:  # any refusal by the library is a limit, not tampering
        return Verification.unverified(
            f"sigstore cannot verify this bundle: {summarise(exc)}", METHOD
        )
    failures: list[str] = []
    for root in roots:
        try:
            root.verifier.verify_dsse(bundle, _AnyIdentity())
        except Exception as exc:  # same: report, never crash ingestion
            failures.append(f"{summarise(exc)} (root {root.name})")
            continue
        return Verification.verified(METHOD, who)
    return Verification.unverified(f"sigstore verification failed: {'; '.join(failures)}", METHOD)


def summarise(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    for pattern, sentence in _KNOWN_LIMITS:
        if pattern.search(text):
            return sentence
    text = re.sub(r"\s*\[type=.*", "", text) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
