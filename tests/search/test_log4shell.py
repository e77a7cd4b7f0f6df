"""SPEC §10 end to end through the API, on SQLite and PostgreSQL: log4j-core 2.14.1
pushed as an SBOM of a recorded digest is found by purl (with and without version
or range) and, once a scan says so, by CVE; superseded by a fixed digest, it is
gone from "now" and back with --at before the superseding, and in --history."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from tests.search.helpers import (
    LOG4J,
    LOG4SHELL,
    cosign_vuln,
    fixture,
    log4j_sbom,
    log4shell_scan,
    wrap,
)
from tests.support.api import ApiHarness
from tests.support.digests import digest

VULNERABLE = digest("app 1.0.0 with log4j 2.14.1")
FIXED = digest("app 1.0.1 with log4j 2.17.1")
STAGING_ONLY = digest("app 0.9 in staging")


def search(api: ApiHarness, **params: Any) -> list[dict[str, Any]]:
    r = api.get("/v1/search", params=params)
    assert r.status == 200, r.body
    return list(r.json()["items"])


def digests(items: list[dict[str, Any]]) -> list[str]:
    return [i["artifact"]["digest"] for i in items]


def push(api: ApiHarness, data: bytes) -> str:
    r = api.push(data)
    assert r.status in (200, 201), r.body
    return str(r.json()["items"][0]["digest"])


def record(api: ApiHarness, digest_: str, **fields: Any) -> dict[str, Any]:
    r = api.record(digest=digest_, artifact_name="ghcr.io/acme/app", **fields)
    assert r.status in (200, 201), r.body
    return dict(r.json())


@pytest.fixture
def world(api: ApiHarness) -> dict[str, Any]:
    api.env("k8s-east")
    sbom = push(api, log4j_sbom("2.14.1", VULNERABLE))
    push(api, log4j_sbom("2.17.1", FIXED))
    push(api, log4j_sbom("2.14.1", STAGING_ONLY))
    first = record(api, VULNERABLE, artifact_version="1.0.0")
    record(
        api,
        STAGING_ONLY,
        logical_environment="staging",
        deployment_name="app",
        artifact_version="0.9",
    )
    return {"sbom": sbom, "first": first}


def test_found_by_purl_with_and_without_version_or_range(
    api: ApiHarness, world: dict[str, Any]
) -> None:
    [hit, staging] = sorted(
        search(api, purl=f"{LOG4J}@2.14.1"), key=lambda h: h["artifact"]["digest"] != VULNERABLE
    )
    assert hit["artifact"] == {"digest": VULNERABLE, "name": "ghcr.io/acme/app", "version": "1.0.0"}
    assert hit["matches"] == [
        {
            "purl": f"{LOG4J}@2.14.1",
            "name": "log4j-core",
            "version": "2.14.1",
            "vulnerability": None,
            "severity": None,
            "attestation": world["sbom"],
            "suppression": None,
        }
    ]
    assert [r["id"] for r in hit["records"]] == [world["first"]["id"]]
    assert hit["records"][0]["logical_environment"] == "production"
    assert hit["records"][0]["status"] == "deployed" and hit["suppressed"] is False
    assert staging["artifact"]["digest"] == STAGING_ONLY
    # versionless: every version that runs; the fixed digest runs nowhere yet
    assert sorted(digests(search(api, purl=LOG4J))) == sorted([VULNERABLE, STAGING_ONLY])
    assert sorted(digests(search(api, purl=LOG4J, all=True))) == sorted(
        [VULNERABLE, FIXED, STAGING_ONLY]
    )
    # case and qualifiers do not matter to the match
    assert sorted(
        digests(search(api, purl="pkg:maven/Org.Apache.Logging.Log4j/Log4j-Core@2.14.1?type=jar"))
    ) == sorted([VULNERABLE, STAGING_ONLY])
    in_range = search(api, purl=LOG4J, version_range="vers:maven/>=2.0.0|<2.15.0", all=True)
    assert sorted(digests(in_range)) == sorted([VULNERABLE, STAGING_ONLY])
    assert digests(search(api, purl=LOG4J, version_range="vers:maven/>=2.17.0", all=True)) == [
        FIXED
    ]
    assert search(api, purl=LOG4J, version_range="vers:maven/<2.0") == []
    assert search(api, purl=f"{LOG4J}@2.15.0") == []
    assert search(api, purl="pkg:npm/log4j-core") == []
    # by name, any ecosystem
    assert sorted(digests(search(api, component="LOG4J-CORE"))) == sorted(
        [VULNERABLE, STAGING_ONLY]
    )
    assert digests(
        search(api, component="log4j-core", version_range="vers:maven/>=2.17.0", all=True)
    ) == [FIXED]


def test_found_by_cve_once_a_scan_says_so(api: ApiHarness, world: dict[str, Any]) -> None:
    assert search(api, cve=LOG4SHELL) == []  # an SBOM names packages, not vulnerabilities
    scan = push(api, log4shell_scan(VULNERABLE))
    [hit] = search(api, cve=LOG4SHELL.lower())
    assert hit["artifact"]["digest"] == VULNERABLE
    assert hit["matches"] == [
        {
            "purl": f"{LOG4J}@2.14.1",
            "name": "org.apache.logging.log4j:log4j-core",
            "version": "2.14.1",
            "vulnerability": LOG4SHELL,
            "severity": "critical",
            "attestation": scan,
            "suppression": None,
        }
    ]
    assert [r["deployment_name"] for r in hit["records"]] == ["api-server"]
    # narrowed to a package
    assert digests(search(api, cve=LOG4SHELL, purl=LOG4J)) == [VULNERABLE]
    assert search(api, cve=LOG4SHELL, purl="pkg:maven/org.apache.logging.log4j/log4j-api") == []
    assert digests(search(api, cve=LOG4SHELL, component="log4j-core")) == [VULNERABLE]


def test_superseded_by_a_fixed_digest_and_back_with_at(
    api: ApiHarness, world: dict[str, Any]
) -> None:
    push(api, log4shell_scan(VULNERABLE))
    time.sleep(0.01)
    fixed = record(api, FIXED, artifact_version="1.0.1")
    assert fixed["action"] == "superseded_previous"
    now = search(api, purl=f"{LOG4J}@2.14.1")
    assert digests(now) == [STAGING_ONLY]  # production runs the fixed digest now
    assert search(api, cve=LOG4SHELL) == []
    assert digests(search(api, purl=LOG4J, version_range="vers:maven/>=2.17.0")) == [FIXED]
    # at an instant while the vulnerable digest ran in production
    created = dt.datetime.fromisoformat(world["first"]["created_at"])
    ended = dt.datetime.fromisoformat(fixed["created_at"])
    between = (created + (ended - created) / 2).isoformat()
    [then] = search(api, cve=LOG4SHELL, at=between)
    assert then["artifact"]["digest"] == VULNERABLE
    assert [(r["id"], r["status"]) for r in then["records"]] == [
        (world["first"]["id"], "superseded")
    ]
    # before anything was deployed, nothing ran
    before = (created - dt.timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert search(api, cve=LOG4SHELL, at=before) == []
    assert digests(search(api, cve=LOG4SHELL, at=before, all=True)) == [VULNERABLE]
    [ever] = search(api, cve=LOG4SHELL, history=True)
    assert [r["status"] for r in ever["records"]] == ["superseded"]


def test_real_scan_reports_and_pages(api: ApiHarness) -> None:
    api.env("k8s-east")
    images = [digest(f"image {i}") for i in range(5)]
    # trivy's own report (jackson-databind 2.9.1) as a cosign vuln attestation for each image
    for i, image in enumerate(images):
        push(api, cosign_vuln(fixture("scans/trivy-pom.json"), image))
        record(api, image, deployment_name=f"svc-{i}")
    page = api.get("/v1/search", params={"cve": "CVE-2020-9548", "limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    seen = digests(page["items"])
    while page["next_cursor"]:
        page = api.get(
            "/v1/search", params={"cve": "CVE-2020-9548", "limit": 2, "cursor": page["next_cursor"]}
        ).json()
        seen += digests(page["items"])
    assert seen == sorted(images)
    hit = search(
        api, purl="pkg:maven/com.fasterxml.jackson.core/jackson-databind", cve="CVE-2021-20190"
    )[0]
    assert hit["matches"][0]["severity"] == "high"
    # grype's SARIF as the predicate of another image's attestation
    push(
        api,
        wrap("https://sarif.example/v2.1.0", fixture("sarif/grype-image.sarif.json"), images[0]),
    )
    [sarif] = search(api, cve="CVE-1999-0002")
    assert sarif["matches"][0]["name"] == "package-2"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"purl": "pkg:maven"}, "missing the required type component"),
        ({"purl": "log4j-core"}, 'missing the required "pkg" scheme'),
        ({"purl": LOG4J, "version_range": ">=2.0"}, "must start with the 'vers:' URI scheme"),
        ({"purl": LOG4J, "version_range": "vers:maven/>=2.0.0||<2.15"}, "invalid version range"),
        ({"purl": LOG4J, "version_range": "vers:npm/>=1"}, "npm scheme"),
        ({"purl": f"{LOG4J}@2.14.1", "version_range": "vers:maven/>=1"}, "drop @version"),
        ({"cve": LOG4SHELL, "version_range": "vers:maven/>=1"}, "needs --purl"),
        ({}, "--purl, --component or --cve"),
        ({"purl": LOG4J, "component": "x"}, "exclude each other"),
        ({"cve": LOG4SHELL, "at": "yesterday"}, "invalid time"),
        ({"cve": LOG4SHELL, "at": "2026-01-01T00:00:00Z", "history": True}, "exclude each other"),
        ({"cve": "CVE 2021"}, "no spaces"),
        ({"component": "a\x01b"}, "control characters"),
        ({"cve": LOG4SHELL, "cursor": "garbage!"}, "invalid cursor"),
    ],
)
def test_bad_queries_are_invalid_input(
    api: ApiHarness, params: dict[str, Any], message: str
) -> None:
    r = api.get("/v1/search", params=params)
    assert r.status == 422, r.body
    assert r.error_code == "invalid"
    assert message in r.json()["error"]["message"]


def test_any_role_may_search_and_orgs_do_not_see_each_other(api: ApiHarness) -> None:
    api.env("k8s-east")
    push(api, log4j_sbom("2.14.1", VULNERABLE))
    record(api, VULNERABLE)
    viewer = api.post("/v1/tokens", {"name": "reader", "role": "viewer"})
    assert viewer.status == 201, viewer.body
    r = api.get("/v1/search", params={"purl": LOG4J}, token=viewer.json()["token"])
    assert r.status == 200 and digests(r.json()["items"]) == [VULNERABLE]
    from deploytrace.services import tenancy

    _, other = tenancy.bootstrap(api.db, "other")
    r = api.get("/v1/search", params={"purl": LOG4J, "all": True}, token=other)
    assert r.status == 200 and r.json()["items"] == []
