"""An artifact's page: the components its SBOMs list and the findings its scans report."""

from __future__ import annotations

from typing import Any

from tests.search.helpers import LOG4SHELL, log4j_sbom, log4shell_scan, openvex, vex_statement, wrap
from tests.search.test_log4shell import push
from tests.support.api import ApiHarness
from tests.support.digests import digest

APP = digest("app")
OPENVEX = "https://openvex.dev/ns/v0.2.0"


def _all(api: ApiHarness, path: str) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        r = api.get(path, params={"limit": 1, "cursor": cursor})
        assert r.status == 200, r.body
        page = r.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def test_components_and_findings_of_one_artifact(api: ApiHarness) -> None:
    sbom = push(api, log4j_sbom("2.14.1", APP))
    scan = push(api, log4shell_scan(APP))
    push(api, log4j_sbom("2.17.1", digest("someone else")))
    components = _all(api, f"/v1/artifacts/{APP}/components")
    assert {(c["name"], c["version"]) for c in components} >= {("log4j-core", "2.14.1")}
    assert {c["attestation"] for c in components} == {sbom}
    assert all(c["vulnerability"] is None for c in components)
    findings = _all(api, f"/v1/artifacts/{APP}/findings")
    assert LOG4SHELL in {f["vulnerability"] for f in findings}
    assert {f["attestation"] for f in findings} == {scan}
    assert all(f["suppression"] is None for f in findings)
    vex = push(api, wrap(OPENVEX, openvex(vex_statement(LOG4SHELL, "fixed")), APP))
    suppressed = {
        f["vulnerability"]: f["suppression"] for f in _all(api, f"/v1/artifacts/{APP}/findings")
    }
    assert suppressed[LOG4SHELL]["attestation"] == vex
    assert suppressed[LOG4SHELL]["status"] == "fixed"


def test_an_artifact_without_contents_and_bad_digests(api: ApiHarness) -> None:
    empty = api.get(f"/v1/artifacts/{digest('nothing')}/components").json()
    assert empty == {"items": [], "next_cursor": None}
    assert api.get("/v1/artifacts/sha256:xyz/findings").status == 422
