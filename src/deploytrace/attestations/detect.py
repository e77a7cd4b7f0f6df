"""Naming what a refused input is, so the user learns what they gave us instead."""

from __future__ import annotations

import re
from typing import Any

PEM_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
ATTESTATION = "an attestation"
_ATTESTATION_KINDS = "an in-toto statement, DSSE envelope or Sigstore bundle"

_OCI_MEDIA_TYPES = {
    "application/vnd.oci.image.manifest.v1+json": "an OCI image manifest",
    "application/vnd.oci.image.index.v1+json": "an OCI image index",
    "application/vnd.docker.distribution.manifest.v2+json": "a Docker image manifest",
    "application/vnd.docker.distribution.manifest.list.v2+json": "a Docker manifest list",
}


def describe_pem(data: bytes, wanted: str = ATTESTATION) -> str | None:
    """A sentence for PEM input, or None when the input is not PEM."""
    match = PEM_LABEL.search(data[:4096])
    if match is None or data.lstrip()[:5] != b"-----":
        return None
    label = match.group(1).decode()
    return f"found {pem_kind(label)}, not {wanted}"


def pem_kind(label: str) -> str:
    if label.endswith("PRIVATE KEY"):
        return "a PEM private key"
    if label.endswith("PUBLIC KEY"):
        return "a PEM public key"
    if label in {"CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"}:
        return "a PEM certificate"
    return f"PEM data ({label})"


def describe_json(doc: Any, wanted: str = ATTESTATION, kinds: str = _ATTESTATION_KINDS) -> str:
    """Why a JSON document that is not `wanted` (one of `kinds`) was refused."""
    if not isinstance(doc, dict):
        return f"a JSON {_json_kind(doc)} is not {kinds}"
    known = _known_document(doc)
    if known is not None:
        noun, advice = known
        return f"found {noun}, not {wanted}" + (f" ({advice})" if advice else "")
    keys = list(doc)
    if not keys:
        return f"an empty JSON object is not {kinds}"
    shown = ", ".join(_short_key(k) for k in keys[:8]) + (", ..." if len(keys) > 8 else "")
    return f"JSON object with keys {shown} is not {kinds}"


def _known_document(doc: dict[str, Any]) -> tuple[str, str] | None:
    """(what a well-known non-attestation document is, advice or "")."""
    media_type = doc.get("mediaType")
    media_type = media_type if isinstance(media_type, str) else ""
    if media_type.startswith("application/vnd.dev.sigstore.trustedroot") or (
        "certificateAuthorities" in doc and "tlogs" in doc
    ):
        return "a Sigstore trusted root", "it is trust material: add it with `trust add-root`"
    if media_type.startswith("application/vnd.dev.sigstore.clienttrustconfig"):
        return "a Sigstore client trust config", "its `trustedRoot` member is the trusted root"
    if media_type.startswith("application/vnd.dev.sigstore.signingconfig"):
        return "a Sigstore signing config", ""
    if media_type.startswith("application/vnd.dev.sigstore.bundle"):
        return "a Sigstore bundle", ""
    oci = _describe_oci(doc, media_type)
    if oci is not None:
        return oci
    if doc.get("bomFormat") == "CycloneDX":
        return "a CycloneDX SBOM", "attest it first, e.g. with `cosign attest`"
    if "spdxVersion" in doc:
        return "an SPDX SBOM", "attest it first, e.g. with `cosign attest`"
    return None


def _describe_oci(doc: dict[str, Any], media_type: str) -> tuple[str, str] | None:
    kind = _OCI_MEDIA_TYPES.get(media_type)
    if kind is None and doc.get("schemaVersion") == 2:
        if "manifests" in doc:
            kind = "an OCI image index"
        elif "layers" in doc:
            kind = "an OCI image manifest"
    if kind is None:
        return None
    layers = doc.get("layers")
    if isinstance(layers, list) and any(
        isinstance(layer, dict) and "dsse" in str(layer.get("mediaType", "")) for layer in layers
    ):
        return kind, "a cosign attestation manifest: push its DSSE layer blob instead"
    return kind, ""


def _json_kind(doc: Any) -> str:
    if isinstance(doc, list):
        return "array"
    if isinstance(doc, str):
        return "string"
    if isinstance(doc, bool):
        return "boolean"
    if doc is None:
        return "null"
    return "number"


def _short_key(key: str) -> str:
    return key if len(key) <= 40 else key[:37] + "..."
