"""CycloneDX JSON: components (nested ones too) and `vulnerabilities`.

Read as plain JSON rather than through cyclonedx-python-lib: its model validates
and builds an object per field, which for a 100,000-component SBOM costs seconds
where reading the four fields the index needs costs a fraction of one.
"""

from __future__ import annotations

from typing import Any

from . import common, purls
from .model import (
    FIXED,
    NOT_AFFECTED,
    Component,
    Contents,
    Finding,
    Package,
    VexStatement,
)

# CycloneDX VEX analysis states that say the finding does not apply.
_STATE_TO_VEX = {
    "not_affected": NOT_AFFECTED,
    "false_positive": NOT_AFFECTED,
    "resolved": FIXED,
    "resolved_with_pedigree": FIXED,
}


def is_bom(doc: dict[str, Any]) -> bool:
    return doc.get("bomFormat") == "CycloneDX"


def extract(bom: dict[str, Any]) -> Contents:
    found = Contents(formats=["cyclonedx"])
    refs: dict[str, Package] = {}
    metadata = bom.get("metadata")
    main = metadata.get("component") if isinstance(metadata, dict) else None
    if isinstance(main, dict):
        # The artifact itself: a target for `affects`, not one of its components.
        package = purls.package(main.get("purl"), main.get("name"), main.get("version"))
        ref = main.get("bom-ref")
        if package is not None and isinstance(ref, str):
            refs[ref] = package
    seen: set[Package] = set()
    stack: list[Any] = [bom.get("components")]
    while stack:
        entries = stack.pop()
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, dict):
                found.skipped += 1
                continue
            if "components" in entry:
                stack.append(entry["components"])
            package = purls.package(entry.get("purl"), entry.get("name"), entry.get("version"))
            if package is None:
                found.skipped += 1
                continue
            ref = entry.get("bom-ref")
            if isinstance(ref, str):
                refs[ref] = package
            if package not in seen:
                seen.add(package)
                found.components.append(Component(package))
    _vulnerabilities(bom.get("vulnerabilities"), refs, found)
    return found


def _vulnerabilities(entries: Any, refs: dict[str, Package], found: Contents) -> None:
    if not isinstance(entries, list):
        return
    for entry in entries:
        vid = common.vuln_id(entry.get("id")) if isinstance(entry, dict) else None
        if vid is None or not isinstance(entry, dict):
            found.skipped += 1
            continue
        aliases = _aliases(entry, vid)
        severity = _severity(entry.get("ratings"))
        packages: list[Package | None] = []
        affects = entry.get("affects")
        for target in affects if isinstance(affects, list) else ():
            ref = target.get("ref") if isinstance(target, dict) else None
            # A ref to another BOM (BOM-Link) or an unknown one: the artifact as a whole.
            packages.append(refs.get(ref) if isinstance(ref, str) else None)
        for package in dict.fromkeys(packages or [None]):
            found.findings.append(Finding(vid, aliases, severity, package))
        analysis = entry.get("analysis")
        state = analysis.get("state") if isinstance(analysis, dict) else None
        status = _STATE_TO_VEX.get(state) if isinstance(state, str) else None
        if status is not None and isinstance(analysis, dict):
            subcomponents = tuple(p for p in dict.fromkeys(packages) if p is not None)
            found.statements.append(
                VexStatement(
                    vulnerability=vid,
                    aliases=aliases,
                    status=status,
                    products=(),
                    subcomponents=subcomponents,
                    timestamp=None,
                    justification=common.text(analysis.get("justification")),
                )
            )
            if "vex" not in found.formats:
                found.formats.append("vex")


def _aliases(entry: dict[str, Any], vid: str) -> tuple[str, ...]:
    out: dict[str, None] = {}
    references = entry.get("references")
    for ref in references if isinstance(references, list) else ():
        alias = common.vuln_id(ref.get("id")) if isinstance(ref, dict) else None
        if alias is not None and alias.upper() != vid.upper():
            out.setdefault(alias, None)
    return tuple(out)


def _severity(ratings: Any) -> str | None:
    values: list[str | None] = []
    for rating in ratings if isinstance(ratings, list) else ():
        if isinstance(rating, dict):
            values.append(
                common.severity(rating.get("severity")) or common.from_score(rating.get("score"))
            )
    return common.worst(values)
