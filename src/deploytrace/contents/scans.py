"""Scanner reports: cosign vulnerability attestations and the trivy and grype JSON
reports they carry (`predicate.scanner.result`), or the reports on their own."""

from __future__ import annotations

from typing import Any

from . import common, purls
from .model import Contents, Finding

COSIGN_VULN = "https://cosign.sigstore.dev/attestation/vuln/v1"


def is_cosign_vuln(doc: dict[str, Any]) -> bool:
    scanner = doc.get("scanner")
    return isinstance(scanner, dict) and "result" in scanner


def is_trivy(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("Results"), list) and "SchemaVersion" in doc


def is_grype(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("matches"), list) and (
        "descriptor" in doc or "source" in doc or not doc["matches"]
    )


def extract_cosign(predicate: dict[str, Any]) -> Contents:
    """A cosign vuln predicate; its result is whatever report the scanner wrote."""
    result = predicate["scanner"].get("result")
    if isinstance(result, dict) and is_trivy(result):
        found = extract_trivy(result)
    elif isinstance(result, dict) and is_grype(result):
        found = extract_grype(result)
    else:
        found = Contents()
    found.formats.insert(0, "cosign-vuln")
    return found


def extract_trivy(report: dict[str, Any]) -> Contents:
    found = Contents(formats=["trivy"])
    seen: set[Finding] = set()
    for result in report["Results"]:
        vulns = result.get("Vulnerabilities") if isinstance(result, dict) else None
        for vuln in vulns if isinstance(vulns, list) else ():
            if not isinstance(vuln, dict):
                found.skipped += 1
                continue
            vid = common.vuln_id(vuln.get("VulnerabilityID"))
            identifier = vuln.get("PkgIdentifier")
            purl = identifier.get("PURL") if isinstance(identifier, dict) else None
            package = purls.package(purl, vuln.get("PkgName"), vuln.get("InstalledVersion"))
            if vid is None or package is None:
                found.skipped += 1
                continue
            vendor = vuln.get("VendorIDs")
            aliases = tuple(
                a
                for a in (common.vuln_id(v) for v in (vendor if isinstance(vendor, list) else ()))
                if a and a.upper() != vid.upper()
            )
            finding = Finding(vid, aliases, common.severity(vuln.get("Severity")), package)
            if finding not in seen:
                seen.add(finding)
                found.findings.append(finding)
    return found


def extract_grype(report: dict[str, Any]) -> Contents:
    found = Contents(formats=["grype"])
    seen: set[Finding] = set()
    for match in report["matches"]:
        vuln = match.get("vulnerability") if isinstance(match, dict) else None
        artifact = match.get("artifact") if isinstance(match, dict) else None
        if not isinstance(vuln, dict) or not isinstance(artifact, dict):
            found.skipped += 1
            continue
        vid = common.vuln_id(vuln.get("id"))
        package = purls.package(artifact.get("purl"), artifact.get("name"), artifact.get("version"))
        if vid is None or package is None:
            found.skipped += 1
            continue
        related = match.get("relatedVulnerabilities")
        aliases = tuple(
            dict.fromkeys(
                a
                for a in (
                    common.vuln_id(r.get("id")) if isinstance(r, dict) else None
                    for r in (related if isinstance(related, list) else ())
                )
                if a and a.upper() != vid.upper()
            )
        )
        finding = Finding(vid, aliases, common.severity(vuln.get("severity")), package)
        if finding not in seen:
            seen.add(finding)
            found.findings.append(finding)
    return found
