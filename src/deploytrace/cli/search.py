"""`deploytrace artifact search`: which artifacts contain a package or carry a vulnerability,
and where they run now, at an instant, or ever."""

from __future__ import annotations

from typing import Any

import click

from deploytrace.cli import output
from deploytrace.cli.main import State, common_options


def _safe(value: object) -> str:
    """Text from SBOMs and scans, made harmless for a terminal (tables print it as plain
    text, never as markup)."""
    return output.safe(value)


def _match(m: dict[str, Any]) -> str:
    if m.get("purl"):
        return str(m["purl"])
    name = m.get("name") or "-"
    return f"{name}@{m['version']}" if m.get("version") else str(name)


def _matches(hit: dict[str, Any]) -> str:
    matches = hit["matches"]
    first = matches[0]
    text = _match(first)
    if first.get("vulnerability"):
        text = f"{first['vulnerability']} in {text}"
    if first.get("suppression"):
        text += f" ({first['suppression']['status']})"
    return _safe(text + (f" (+{len(matches) - 1})" if len(matches) > 1 else ""))


def _artifact(hit: dict[str, Any]) -> str:
    a = hit["artifact"]
    if a.get("name"):
        return _safe(f"{a['name']}:{a['version']}" if a.get("version") else a["name"])
    return output.short_digest(a["digest"])


def _severity(hit: dict[str, Any]) -> str:
    order = ["critical", "high", "medium", "low", "negligible", "info", "none", "unknown"]
    found = [m.get("severity") for m in hit["matches"] if m.get("severity") in order]
    return min(found, key=order.index) if found else "-"


def _where(hit: dict[str, Any]) -> str:
    places = [
        f"{r['environment']}/{r['logical_environment']}/{r['deployment_name']}"
        + ("" if r["status"] == "deployed" else f" ({r['status']})")
        for r in hit["records"]
    ]
    if not places:
        return "-"
    shown = ", ".join(places[:3])
    return _safe(shown + (f" (+{len(places) - 3})" if len(places) > 3 else ""))


# Where it runs is the question; the columns that answer it go last when narrow.
_COLUMNS: list[output.Column] = [
    ("ARTIFACT", _artifact, 9),
    ("DIGEST", lambda h: output.short_digest(h["artifact"]["digest"]), 5),
    ("MATCH", _matches, 8),
    ("SEVERITY", _severity, 6),
    ("RUNNING", _where, 10),
    ("VEX", lambda h: "suppressed" if h["suppressed"] else "-", 4),
]


@click.command(
    name="search",
    help="Find the artifacts that contain a package (--purl, --component) or carry a "
    "vulnerability (--cve), and where they run: now, --at an instant, or --history.",
)
@click.option("--purl", default=None, help="Package URL, with or without @version.")
@click.option("--component", default=None, help="Package name (any ecosystem), case-insensitive.")
@click.option("--cve", default=None, help="Vulnerability id (CVE, GHSA, ...) from scan results.")
@click.option(
    "--version-range",
    default=None,
    help="With a versionless --purl or --component: vers range, e.g. vers:maven/>=2.0.0|<2.15.0.",
)
@click.option("--at", "at", default=None, help="Deployed at this instant (RFC 3339).")
@click.option("--history", is_flag=True, help="Deployed at any time, not only now.")
@click.option("--all", "all_", is_flag=True, help="Also artifacts that run nowhere in that time.")
@click.option(
    "--include-suppressed", is_flag=True, help="Also findings a VEX statement suppresses."
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many.")
@common_options
def search(
    state: State,
    purl: str | None,
    component: str | None,
    cve: str | None,
    version_range: str | None,
    at: str | None,
    history: bool,
    all_: bool,
    include_suppressed: bool,
    limit: int | None,
) -> None:
    params = {
        "purl": purl,
        "component": component,
        "cve": cve,
        "version_range": version_range,
        "at": at,
        "history": history or None,
        "all": all_ or None,
        "include_suppressed": include_suppressed or None,
        "limit": min(limit, 500) if limit else 500,
    }
    items = state.client.pages("/v1/search", params, limit)
    if state.json:
        output.emit_json(items)
    else:
        output.table(items, _COLUMNS, "no matching artifacts")
