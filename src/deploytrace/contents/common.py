"""Small readers shared by the format modules: ids, severities, digests."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from .model import MAX_KEY

_ID = re.compile(r"^[^\s\x00-\x1f\x7f]{1,255}$")
# Advisory ids as scanners write them inside longer texts (grype's SARIF rule ids
# are "CVE-1999-0001-package-1"): CVE, GitHub, Go, Rust, PyPI, OSV-style ids.
_ADVISORY = re.compile(
    r"\b(CVE-\d{4}-\d{4,}|GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}|GO-\d{4}-\d{4,}"
    r"|RUSTSEC-\d{4}-\d{4,}|PYSEC-\d{4}-\d+|OSV-\d{4}-\d+)\b",
    re.IGNORECASE,
)
_DIGEST = re.compile(r"(sha256:[0-9a-fA-F]{64}|sha512:[0-9a-fA-F]{128})(?![0-9a-fA-F])")

SEVERITIES = ("critical", "high", "medium", "low", "negligible", "info", "none", "unknown")
_RANK = {name: i for i, name in enumerate(SEVERITIES)}
_ALIASES = {"moderate": "medium", "important": "high", "informational": "info", "note": "low"}


def text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def vuln_id(value: Any) -> str | None:
    """An advisory or rule id fit for the index (no spaces or control characters)."""
    found = text(value)
    if found is None or not _ID.match(found) or len(found) > MAX_KEY:
        return None
    return found


def advisories(*texts: Any) -> list[str]:
    """Advisory ids mentioned in free text, in order, each once (upper case)."""
    seen: dict[str, None] = {}
    for value in texts:
        if isinstance(value, str):
            for match in _ADVISORY.finditer(value):
                seen.setdefault(match.group(1).upper(), None)
    return list(seen)


def severity(value: Any) -> str | None:
    """A severity word in lower case (`moderate` → `medium`), or None."""
    word = text(value)
    if word is None:
        return None
    word = _ALIASES.get(word.lower(), word.lower())
    return word if word in _RANK else None


def from_score(value: Any) -> str | None:
    """A CVSS-like score (number or numeric text) as a severity word."""
    try:
        score = float(value)
    except (TypeError, ValueError):
        return None
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0.0:
        return "low"
    return "none"


def worst(values: list[str | None]) -> str | None:
    """The most severe of several severities (unknown ones rank last)."""
    known = [v for v in values if v is not None]
    return min(known, key=lambda v: _RANK[v]) if known else None


def digest(value: Any) -> str | None:
    """An OCI digest (sha256/sha512) found in `value`, lower case; percent-decoded first."""
    if not isinstance(value, str) or "sha" not in value.lower():
        return None
    match = _DIGEST.search(unquote(value))
    return match.group(1).lower() if match else None


def hash_digest(algorithm: Any, value: Any) -> str | None:
    """`{"sha-256": hex}` style entries (OpenVEX `hashes`, SPDX checksums)."""
    if not isinstance(algorithm, str) or not isinstance(value, str):
        return None
    name = algorithm.lower().replace("-", "").replace("_", "")
    if name not in ("sha256", "sha512"):
        return None
    return digest(f"{name}:{value.strip()}")
