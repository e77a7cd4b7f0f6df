"""Signing certificates: loading them and naming who they were issued to."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat import asn1

from .dsse import b64decode_loose

# Fulcio's extensions: the OIDC issuer (v2 is DER UTF8String, v1 raw bytes)
# and the "other name" SAN of username identities.
_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_OTHERNAME = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7")


def load_der_b64(text: str) -> x509.Certificate | None:
    der = b64decode_loose(text)
    if der is None:
        return None
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def load_pem(text: str) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(text.encode())
    except ValueError:
        return None


def identity(cert: x509.Certificate) -> str:
    """`<SAN> (issuer <OIDC issuer>)`, the way Sigstore identities are written."""
    san = _san(cert) or cert.subject.rfc4514_string() or "(no subject)"
    issuer = _oidc_issuer(cert)
    return f"{san} (issuer {issuer})" if issuer else san


def issuer_name(cert: x509.Certificate) -> str:
    return cert.issuer.rfc4514_string() or "(empty issuer)"


def _san(cert: x509.Certificate) -> str | None:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    for kind in (x509.UniformResourceIdentifier, x509.RFC822Name, x509.DNSName):
        values = names.get_values_for_type(kind)
        if values:
            return str(values[0])
    for other in names.get_values_for_type(x509.OtherName):
        if other.type_id == _OTHERNAME:
            return _utf8_string(other.value)
    return None


def _oidc_issuer(cert: x509.Certificate) -> str | None:
    for oid, der in ((_ISSUER_V2, True), (_ISSUER_V1, False)):
        try:
            value = cert.extensions.get_extension_for_oid(oid).value
        except (x509.ExtensionNotFound, ValueError):
            continue
        raw = getattr(value, "value", b"")
        text = _utf8_string(raw) if der else raw.decode("utf-8", "replace")
        if text:
            return text
    return None


def _utf8_string(der: bytes) -> str | None:
    try:
        text = asn1.decode_der(str, der)
    except ValueError:
        return None
    return text if isinstance(text, str) else None
