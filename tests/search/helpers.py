"""Attestations about contents, built around real documents: SBOMs, scans, VEX."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SBOM_DATA = Path(__file__).resolve().parent.parent / "data" / "sbom"

LOG4J = "pkg:maven/org.apache.logging.log4j/log4j-core"
LOG4SHELL = "CVE-2021-44228"


def fixture(path: str) -> Any:
    return json.loads((SBOM_DATA / path).read_text())


def wrap(
    predicate_type: str, predicate: Any, *digests: str, name: str = "ghcr.io/acme/app"
) -> bytes:
    """An in-toto Statement v1 whose subjects are `digests` (all named `name`)."""
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [
                {"name": name, "digest": {d.split(":")[0]: d.split(":")[1]}} for d in digests
            ],
            "predicateType": predicate_type,
            "predicate": predicate,
        }
    ).encode()


def cyclonedx(
    *components: dict[str, Any], vulnerabilities: list[Any] | None = None
) -> dict[str, Any]:
    """A CycloneDX 1.5 BOM shaped like syft's and trivy's output."""
    bom: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "component": {"bom-ref": "image", "type": "container", "name": "ghcr.io/acme/app"}
        },
        "components": list(components),
    }
    if vulnerabilities is not None:
        bom["vulnerabilities"] = vulnerabilities
    return bom


def maven(group: str, artifact: str, version: str, **extra: Any) -> dict[str, Any]:
    purl = f"pkg:maven/{group}/{artifact}@{version}"
    return {
        "bom-ref": purl,
        "type": "library",
        "group": group,
        "name": artifact,
        "version": version,
        "purl": purl,
        **extra,
    }


def log4j_sbom(version: str, *digests: str) -> bytes:
    bom = cyclonedx(
        maven("org.apache.logging.log4j", "log4j-api", version),
        maven("org.apache.logging.log4j", "log4j-core", version),
        maven("org.springframework", "spring-core", "5.3.20"),
    )
    return wrap("https://cyclonedx.org/bom", bom, *digests)


def trivy_report(*vulns: tuple[str, str, str, str]) -> dict[str, Any]:
    """A trivy JSON report (SchemaVersion 2) with (id, purl, version, severity) findings,
    in the shape of trivy's own golden files (tests/data/sbom/scans/trivy-pom.json)."""
    entries = []
    for vid, purl, version, severity in vulns:
        group, _, artifact = purl.removeprefix("pkg:maven/").partition("/")
        entries.append(
            {
                "VulnerabilityID": vid,
                "PkgID": f"{group}:{artifact}:{version}",
                "PkgName": f"{group}:{artifact}",
                "PkgIdentifier": {"PURL": f"{purl}@{version}"},
                "InstalledVersion": version,
                "Severity": severity,
            }
        )
    return {
        "SchemaVersion": 2,
        "ArtifactName": "ghcr.io/acme/app",
        "ArtifactType": "container_image",
        "Results": [
            {"Target": "Java", "Class": "lang-pkgs", "Type": "jar", "Vulnerabilities": entries}
        ],
    }


def cosign_vuln(report: dict[str, Any], *digests: str, scanner: str = "trivy") -> bytes:
    """`cosign attest --type vuln`: the report is the predicate's scanner.result."""
    predicate = {
        "invocation": {"parameters": None, "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {
            "uri": f"pkg:github/aquasecurity/{scanner}@v0.50.0",
            "version": "0.50.0",
            "db": {"uri": "", "version": ""},
            "result": report,
        },
        "metadata": {
            "scanStartedOn": "2026-11-01T00:00:00Z",
            "scanFinishedOn": "2026-11-01T00:00:10Z",
        },
    }
    return wrap("https://cosign.sigstore.dev/attestation/vuln/v1", predicate, *digests)


def log4shell_scan(*digests: str) -> bytes:
    return cosign_vuln(
        trivy_report(
            (LOG4SHELL, LOG4J, "2.14.1", "CRITICAL"),
            ("CVE-2021-45046", LOG4J, "2.14.1", "CRITICAL"),
        ),
        *digests,
    )


def openvex(*statements: dict[str, Any], timestamp: str = "2026-11-02T00:00:00Z") -> dict[str, Any]:
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/1",
        "author": "Acme security",
        "timestamp": timestamp,
        "version": 1,
        "statements": list(statements),
    }


def vex_statement(vulnerability: str, status: str, *products: Any, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"vulnerability": {"name": vulnerability}, "status": status, **extra}
    if products:
        entry["products"] = list(products)
    if status == "not_affected" and "justification" not in extra:
        entry["justification"] = "vulnerable_code_not_in_execute_path"
    return entry
