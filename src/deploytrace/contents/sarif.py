"""SARIF 2.1.0: one finding per result.

The vulnerability is the advisory id the result names (in its rule id, rule
descriptions or message: grype's rule ids are "CVE-…-package"), else the rule id.
The package is a purl the result or its rule carries (properties, logical
locations), else trivy's and grype's "Package: …" / "Installed Version: …" lines.
"""

from __future__ import annotations

import re
from typing import Any

from . import common, purls
from .model import Contents, Finding, Package

_LINE = re.compile(r"^(Package|Installed Version|Version|Severity):[ \t]*(\S.*?)[ \t]*$", re.M)
_LEVEL = {"error": "high", "warning": "medium", "note": "low"}


def is_sarif(doc: dict[str, Any]) -> bool:
    schema = doc.get("$schema")
    return isinstance(doc.get("runs"), list) and (
        doc.get("version") == "2.1.0" or (isinstance(schema, str) and "sarif" in schema.lower())
    )


def extract(doc: dict[str, Any]) -> Contents:
    found = Contents(formats=["sarif"])
    seen: set[Finding] = set()
    for run in doc["runs"]:
        if not isinstance(run, dict):
            found.skipped += 1
            continue
        rules = _rules(run)
        results = run.get("results")
        for result in results if isinstance(results, list) else ():
            finding = _finding(result, rules) if isinstance(result, dict) else None
            if finding is None:
                found.skipped += 1
            elif finding not in seen:
                seen.add(finding)
                found.findings.append(finding)
    return found


def _rules(run: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    tool = run.get("tool")
    driver = tool.get("driver") if isinstance(tool, dict) else None
    listed = driver.get("rules") if isinstance(driver, dict) else None
    rules = [r for r in listed if isinstance(r, dict)] if isinstance(listed, list) else []
    return rules, {r["id"]: r for r in rules if isinstance(r.get("id"), str)}


def _message(value: Any) -> str | None:
    if isinstance(value, dict):
        return common.text(value.get("text"))
    return None


def _finding(
    result: dict[str, Any], rules: tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]
) -> Finding | None:
    listed, by_id = rules
    rule_id = result.get("ruleId")
    rule: dict[str, Any] = by_id.get(rule_id, {}) if isinstance(rule_id, str) else {}
    index = result.get("ruleIndex")
    if not rule and isinstance(index, int) and 0 <= index < len(listed):
        rule = listed[index]
        rule_id = rule.get("id")
    texts = [
        rule_id,
        _message(rule.get("shortDescription")),
        _message(result.get("message")),
        _message(rule.get("help")),
    ]
    ids = common.advisories(*texts)
    primary = ids[0] if ids else common.vuln_id(rule_id)
    if primary is None:
        return None
    lines = _lines(_message(result.get("message")), _message(rule.get("help")))
    severity = (
        common.severity(lines.get("Severity"))
        or _severity_of(rule, result)
        or _LEVEL.get(str(result.get("level") or _default_level(rule)))
    )
    return Finding(primary, tuple(ids[1:]), severity, _package(result, rule, lines))


def _lines(*texts: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in texts:
        for match in _LINE.finditer(value or ""):
            out.setdefault(match.group(1), match.group(2))
    return out


def _severity_of(rule: dict[str, Any], result: dict[str, Any]) -> str | None:
    for props in (result.get("properties"), rule.get("properties")):
        if not isinstance(props, dict):
            continue
        score = common.from_score(props.get("security-severity"))
        if score is not None:
            return score
        tags = props.get("tags")
        for tag in tags if isinstance(tags, list) else ():
            word = common.severity(tag)
            if word is not None and word != "unknown":
                return word
    return None


def _default_level(rule: dict[str, Any]) -> str | None:
    config = rule.get("defaultConfiguration")
    level = config.get("level") if isinstance(config, dict) else None
    return level if isinstance(level, str) else None


def _package(result: dict[str, Any], rule: dict[str, Any], lines: dict[str, str]) -> Package | None:
    for candidate in _purl_candidates(result, rule):
        package = purls.package(candidate, None, None)
        if package is not None:
            return package
    name = lines.get("Package")
    version = lines.get("Installed Version") or lines.get("Version")
    return purls.package(None, name, version) if name else None


def _purl_candidates(result: dict[str, Any], rule: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for props in (result.get("properties"), rule.get("properties")):
        if isinstance(props, dict):
            found.extend(v for v in props.values() if isinstance(v, str) and v.startswith("pkg:"))
    locations = result.get("locations")
    for location in locations if isinstance(locations, list) else ():
        logical = location.get("logicalLocations") if isinstance(location, dict) else None
        for entry in logical if isinstance(logical, list) else ():
            if isinstance(entry, dict):
                found.extend(
                    v
                    for v in (entry.get("fullyQualifiedName"), entry.get("name"))
                    if isinstance(v, str) and v.startswith("pkg:")
                )
    return found
