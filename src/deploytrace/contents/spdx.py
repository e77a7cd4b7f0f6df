"""SPDX 2.x JSON: packages, with purls from `externalRefs` (PACKAGE-MANAGER purl).

The packages the document describes (`documentDescribes`, or DESCRIBES
relationships of the document) are the artifact itself, not its contents.
"""

from __future__ import annotations

from typing import Any

from . import common, purls
from .model import Component, Contents, Package


def is_document(doc: dict[str, Any]) -> bool:
    version = doc.get("spdxVersion")
    return isinstance(version, str) and version.upper().startswith("SPDX-2")


def extract(doc: dict[str, Any]) -> Contents:
    found = Contents(formats=["spdx"])
    described = _described(doc)
    packages = doc.get("packages")
    seen: set[Package] = set()
    for entry in packages if isinstance(packages, list) else ():
        if not isinstance(entry, dict):
            found.skipped += 1
            continue
        if entry.get("SPDXID") in described:
            continue
        package = purls.package(_purl(entry), entry.get("name"), entry.get("versionInfo"))
        if package is None:
            found.skipped += 1
            continue
        if package not in seen:
            seen.add(package)
            found.components.append(Component(package))
    return found


def _purl(entry: dict[str, Any]) -> str | None:
    refs = entry.get("externalRefs")
    for ref in refs if isinstance(refs, list) else ():
        if not isinstance(ref, dict):
            continue
        category = str(ref.get("referenceCategory", "")).upper().replace("_", "-")
        if category == "PACKAGE-MANAGER" and ref.get("referenceType") == "purl":
            return common.text(ref.get("referenceLocator"))
    return None


def _described(doc: dict[str, Any]) -> set[str]:
    listed = doc.get("documentDescribes")
    ids = {d for d in listed if isinstance(d, str)} if isinstance(listed, list) else set()
    document = doc.get("SPDXID", "SPDXRef-DOCUMENT")
    relationships = doc.get("relationships")
    for rel in relationships if isinstance(relationships, list) else ():
        if (
            isinstance(rel, dict)
            and rel.get("spdxElementId") == document
            and rel.get("relationshipType") == "DESCRIBES"
            and isinstance(rel.get("relatedSpdxElement"), str)
        ):
            ids.add(rel["relatedSpdxElement"])
    return ids
