"""`verify`: is an attestation intact, and signed by someone the organization trusts?

Two separate questions. Integrity is checked against the material the
attestation carries itself (bundle certificate, DSSE `cert`): if no signature
matches it, the file was altered -> `invalid`. Trust is checked against the
TrustStore: Sigstore roots for certificates, public keys for the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from .certs import identity, load_der_b64, load_pem
from .model import Envelope, ParsedAttestation, Verification
from .signatures import envelope_signature_verifies
from .sigstore_check import verify_with_sigstore
from .trust import TrustStore

KEY_METHOD = "public-key"
NO_TRUSTED_KEY = "signed, but by no key this organization trusts"
ALTERED = "payload, signature or certificate was altered"


def verify(att: ParsedAttestation, trust: TrustStore) -> Verification:
    if not att.envelopes:
        return Verification.unverified("unsigned statement")
    if att.bundle is None:
        return verify_envelopes(att.envelopes, trust)
    if att.bundle.certificate is None:
        hint = att.bundle.public_key_hint
        return verify_envelopes(att.envelopes, trust, (hint,) if hint else ())
    return _verify_certificate_bundle(att, att.bundle.certificate, trust)


def _verify_certificate_bundle(
    att: ParsedAttestation, certificate: str, trust: TrustStore
) -> Verification:
    cert = load_der_b64(certificate)
    if cert is None:
        return Verification.invalid(
            f"the bundle's certificate cannot be read ({ALTERED})", "sigstore"
        )
    envelope = att.envelopes[0]
    key = _public_key(cert)
    if key is None:
        return Verification.invalid(
            f"the bundle's certificate holds a key of no supported type ({ALTERED})", "sigstore"
        )
    if not any(envelope_signature_verifies(key, envelope, sig) for sig in envelope.signatures):
        return Verification.invalid(
            f"no signature verifies with the bundle's own certificate ({ALTERED})", "sigstore"
        )
    return verify_with_sigstore(att.raw, cert, trust)


def verify_envelopes(
    envelopes: Sequence[Envelope], trust: TrustStore, key_hints: Sequence[str] = ()
) -> Verification:
    """DSSE signatures against the trusted public keys (keyids are often empty: try all)."""
    if not any(env.signatures for env in envelopes):
        return Verification.unverified("unsigned DSSE envelope (it has no signatures)")
    broken, signer = _check_embedded_certificates(envelopes)
    if broken is not None:
        return broken
    for envelope in envelopes:
        for signature in envelope.signatures:
            for trusted in trust.keys:
                if envelope_signature_verifies(trusted.key, envelope, signature):
                    return Verification.verified(KEY_METHOD, f"key:{trusted.name}")
    claimed = _named_trusted_key(envelopes, trust, key_hints)
    if claimed is not None:
        return Verification.invalid(
            f"a signature names trusted key {claimed!r} but does not verify with it "
            "(payload or signature was altered)",
            KEY_METHOD,
        )
    return Verification.unverified(_untrusted_reason(signer, key_hints), KEY_METHOD)


def _check_embedded_certificates(
    envelopes: Sequence[Envelope],
) -> tuple[Verification | None, str | None]:
    """(`invalid` result or None, the identity of a matching embedded certificate)."""
    pairs = [(env, sig) for env in envelopes for sig in env.signatures if sig.cert]
    if not pairs:
        return None, None
    for envelope, signature in pairs:
        cert = load_pem(signature.cert or "")
        key = _public_key(cert) if cert is not None else None
        if (
            cert is not None
            and key is not None
            and envelope_signature_verifies(key, envelope, signature)
        ):
            return None, identity(cert)
    return Verification.invalid(
        f"no signature verifies with its embedded certificate ({ALTERED})", KEY_METHOD
    ), None


def _public_key(cert: x509.Certificate) -> object | None:
    """The certificate's key, or None when its algorithm is one cryptography does not know."""
    try:
        return cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return None


def _named_trusted_key(
    envelopes: Sequence[Envelope], trust: TrustStore, key_hints: Sequence[str]
) -> str | None:
    keyids = [sig.keyid for env in envelopes for sig in env.signatures if sig.keyid]
    keyids.extend(key_hints)
    for trusted in trust.keys:
        if any(trusted.named_by(keyid) for keyid in keyids):
            return trusted.name
    return None


def _untrusted_reason(signer: str | None, key_hints: Sequence[str]) -> str:
    if signer is not None:
        return (
            f"{NO_TRUSTED_KEY}: signed with an embedded certificate for {signer}, but a bare "
            "DSSE envelope has no transparency-log entry to check it against a trusted root"
        )
    if key_hints:
        return f"{NO_TRUSTED_KEY} (public key hint {key_hints[0]})"
    return NO_TRUSTED_KEY
