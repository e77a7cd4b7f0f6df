"""OpenVEX documents: statements about vulnerabilities in products.

A product is identified by the digest in its `@id` (`pkg:oci/name@sha256:…`,
`pkg:oci/name?digest=sha256:…`, or an image reference `…@sha256:…`), in its
`identifiers` (a purl) or its `hashes`; a product without a digest (or a
statement without products) is the attestation's subject.
"""

from __future__ import annotations

from typing import Any

from packageurl import PackageURL

from . import common, purls
from .model import VEX_STATUSES, Contents, Package, VexStatement

CONTEXT_PREFIX = "https://openvex.dev/ns"


def is_openvex(doc: dict[str, Any]) -> bool:
    context = doc.get("@context")
    return (isinstance(context, str) and context.startswith(CONTEXT_PREFIX)) or (
        isinstance(doc.get("statements"), list) and "author" in doc
    )


def extract(doc: dict[str, Any]) -> Contents:
    found = Contents(formats=["openvex"])
    statements = doc.get("statements")
    default_time = common.text(doc.get("timestamp"))
    for entry in statements if isinstance(statements, list) else ():
        if not isinstance(entry, dict):
            found.skipped += 1
            continue
        vulnerability = _vulnerability(entry.get("vulnerability"))
        status = common.text(entry.get("status"))
        if vulnerability is None or status not in VEX_STATUSES:
            found.skipped += 1
            continue
        vid, aliases = vulnerability
        products = entry.get("products")
        targets = [_product(p) for p in products] if isinstance(products, list) else []
        for digests, subcomponents in targets or [((), ())]:
            found.statements.append(
                VexStatement(
                    vulnerability=vid,
                    aliases=aliases,
                    status=status,
                    products=digests,
                    subcomponents=subcomponents,
                    timestamp=common.text(entry.get("timestamp")) or default_time,
                    justification=common.text(entry.get("justification")),
                )
            )
    # Products without a digest all mean "the subject": one statement for them.
    found.statements = list(dict.fromkeys(found.statements))
    return found


def _vulnerability(value: Any) -> tuple[str, tuple[str, ...]] | None:
    if isinstance(value, str):
        vid = common.vuln_id(value)
        return (vid, ()) if vid else None
    if not isinstance(value, dict):
        return None
    vid = common.vuln_id(value.get("name")) or _last_segment(value.get("@id"))
    if vid is None:
        return None
    listed = value.get("aliases")
    aliases = tuple(
        a
        for a in (common.vuln_id(x) for x in (listed if isinstance(listed, list) else ()))
        if a and a.upper() != vid.upper()
    )
    return vid, aliases


def _last_segment(value: Any) -> str | None:
    # `"@id": "https://nvd.nist.gov/vuln/detail/CVE-2026-12345"`
    ids = common.advisories(value)
    return ids[0] if ids else None


def _product(value: Any) -> tuple[tuple[str, ...], tuple[Package, ...]]:
    """(digests, subcomponent packages) of one product entry."""
    if isinstance(value, str):
        found = _digest_of(value)
        return ((found,) if found else ()), ()
    if not isinstance(value, dict):
        return (), ()
    digests: dict[str, None] = {}
    for candidate in (value.get("@id"), _identifier_purl(value.get("identifiers"))):
        found = _digest_of(candidate)
        if found:
            digests.setdefault(found, None)
    hashes = value.get("hashes")
    for algorithm, hex_value in hashes.items() if isinstance(hashes, dict) else ():
        found = common.hash_digest(algorithm, hex_value)
        if found:
            digests.setdefault(found, None)
    subcomponents: dict[Package, None] = {}
    listed = value.get("subcomponents")
    for sub in listed if isinstance(listed, list) else ():
        if isinstance(sub, dict):
            ref = sub.get("@id") or _identifier_purl(sub.get("identifiers"))
        else:
            ref = sub
        package = purls.package(ref, None, None) if isinstance(ref, str) else None
        if package is not None:
            subcomponents.setdefault(package, None)
    return tuple(digests), tuple(subcomponents)


def _identifier_purl(value: Any) -> str | None:
    return common.text(value.get("purl")) if isinstance(value, dict) else None


def _digest_of(value: Any) -> str | None:
    text = common.text(value)
    if text is None:
        return None
    if text.startswith("pkg:"):
        try:
            parsed = PackageURL.from_string(text)
        except ValueError:
            return None
        return common.digest(parsed.qualifiers.get("digest")) or common.digest(parsed.version)
    return common.digest(text)
