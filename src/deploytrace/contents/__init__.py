"""What attestations say about an artifact's contents (a pure library: no I/O).

`extract(parsed)` reads a parsed in-toto statement and returns its
`Contents`: components (purl, name, version) from CycloneDX and SPDX 2.x
SBOMs, vulnerability findings from cosign vuln attestations (trivy, grype),
CycloneDX `vulnerabilities` and SARIF, and VEX statements from OpenVEX
(and CycloneDX analysis states). Malformed entries are skipped and counted,
never fatal. `purls.query` and `ranges.parse` read what users search for.
"""

from __future__ import annotations

from .extract import StatementLike, extract, extract_predicate
from .model import (
    SUPPRESSING,
    Component,
    Contents,
    Finding,
    Package,
    VexStatement,
)

__all__ = [
    "SUPPRESSING",
    "Component",
    "Contents",
    "Finding",
    "Package",
    "StatementLike",
    "VexStatement",
    "extract",
    "extract_predicate",
]
