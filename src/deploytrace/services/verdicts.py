"""An attestation's verification verdict, as stored with it.

Its own module so that what shows a verdict (artifact and record views, the record
path) does not import the push and verification machinery of `services.attestations`.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploytrace.storage import attestations as store
from deploytrace.vocabulary import VerificationStatus


@dataclass(frozen=True)
class Verdict:
    """What signature verification said when the attestation was pushed (or re-checked)."""

    status: VerificationStatus
    method: str | None
    identity: str | None  # key:NAME, or the certificate's signer
    key_fingerprint: str | None  # of the trusted key behind a key:NAME identity
    reason: str | None


def verdict_of(row: store.AttestationRow) -> Verdict:
    """The verdict a stored attestation carries."""
    return Verdict(
        VerificationStatus(row.verification_status),
        row.verification_method,
        row.verification_identity,
        row.verification_key_fingerprint,
        row.verification_reason,
    )
