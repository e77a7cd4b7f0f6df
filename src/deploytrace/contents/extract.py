"""Which reader a statement needs: by predicate type first, then by the document's shape."""

from __future__ import annotations

import json
from typing import Any, Protocol

from . import chainloop, cyclonedx, openvex, sarif, scans, spdx
from .model import Contents

# Wrappers nest documents (a witness collection, cosign's `Data` string); a
# wrapper inside a wrapper inside … is not real, and the limit keeps it cheap.
_MAX_DEPTH = 3


class StatementLike(Protocol):
    """What `extract` reads of a parsed attestation (deploytrace.attestations)."""

    @property
    def predicate_type(self) -> str: ...

    @property
    def statement(self) -> dict[str, Any]: ...


def extract(parsed: StatementLike) -> Contents:
    """What an attestation says about its subjects' contents (empty when nothing)."""
    predicate = parsed.statement.get("predicate", parsed.statement.get("predicate_json"))
    return extract_predicate(parsed.predicate_type, predicate)


def extract_predicate(predicate_type: str, predicate: Any) -> Contents:
    if not isinstance(predicate, dict):
        return Contents()
    if chainloop.is_chainloop(predicate_type):
        return chainloop.extract(predicate, lambda doc: _document("", doc, 1))
    return _document(predicate_type.lower(), predicate, 0)


def _document(predicate_type: str, doc: dict[str, Any], depth: int) -> Contents:
    if "cyclonedx" in predicate_type or cyclonedx.is_bom(doc):
        return cyclonedx.extract(doc)
    if "spdx.dev/document" in predicate_type or spdx.is_document(doc):
        return spdx.extract(doc)
    if predicate_type.startswith(openvex.CONTEXT_PREFIX) or openvex.is_openvex(doc):
        return openvex.extract(doc)
    if scans.is_cosign_vuln(doc):
        return scans.extract_cosign(doc)
    if sarif.is_sarif(doc):
        return sarif.extract(doc)
    if scans.is_trivy(doc):
        return scans.extract_trivy(doc)
    if scans.is_grype(doc):
        return scans.extract_grype(doc)
    if depth < _MAX_DEPTH:
        return _wrapped(doc, depth + 1)
    return Contents()


def _wrapped(doc: dict[str, Any], depth: int) -> Contents:
    found = Contents()
    data = doc.get("Data")
    if isinstance(data, str) and data.lstrip().startswith("{"):
        # cosign attest --type custom: the document as a JSON string.
        try:
            inner = json.loads(data)
        except (ValueError, RecursionError):
            inner = None
        if isinstance(inner, dict):
            found.merge(_document("", inner, depth))
    collection = doc.get("attestations")
    for entry in collection if isinstance(collection, list) else ():
        # A witness attestation collection: {type, attestation} pairs.
        if isinstance(entry, dict) and isinstance(entry.get("attestation"), dict):
            kind = entry.get("type")
            kind = kind.lower() if isinstance(kind, str) else ""
            found.merge(_document(kind, entry["attestation"], depth))
    return found
