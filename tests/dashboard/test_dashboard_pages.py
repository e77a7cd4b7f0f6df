"""Record pages (policy, who, why it ended), history rows, search, applications, the audit
log and the artifact's contents, in a real browser over recorded data."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.dashboard.conftest import Dashboard
from tests.dashboard.seed import PAGED_RECORDS

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails in CI) with the reason
    expect = None  # type: ignore[assignment]


def field(page: Any, term: str) -> Any:
    """The <dd> of a record page's field."""
    return page.locator(f"dl.fields > dt:text-is('{term}') + dd").first


def test_record_page_shows_policy_violations(dashboard: Dashboard, shoot: Any) -> None:
    dashboard.sign_in(f"#/deployments/{dashboard.data.qa_id}")
    page = dashboard.page
    expect(page.get_by_role("heading", level=1)).to_have_text("api in k8s-east / qa")
    policy = page.get_by_role("region", name="Policy")
    expect(policy.locator("[data-flag=policy]")).to_have_text("policy violated")
    rows = policy.locator("table.violations tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("sbom-present")
    expect(rows.first).to_contain_text("no CycloneDX SBOM is attested for this artifact")
    shoot(page, "record-policy-violated")

    dashboard.go(f"#/deployments/{dashboard.data.override_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("api in k8s-east / sandbox")
    policy = page.get_by_role("region", name="Policy")
    expect(policy.locator("[data-flag=policy]")).to_have_text("policy overridden")
    expect(policy.locator("dl.fields")).to_contain_text(re.compile(r"Overridden by\s*bootstrap-"))
    expect(policy.locator("dl.fields")).to_contain_text("load test, no SBOM yet")


def test_record_page_shows_who_why_it_ended_and_what_replaced_it(dashboard: Dashboard) -> None:
    dashboard.sign_in(f"#/deployments/{dashboard.data.superseded_id}")
    page = dashboard.page
    expect(page.get_by_role("heading", level=1)).to_have_text("api in k8s-east / production")
    expect(field(page, "Ended because")).to_have_text("superseded")
    expect(field(page, "Superseded by").get_by_role("link")).to_have_text("v1.1.0")
    expect(field(page, "Reported by")).to_have_text(re.compile("^bootstrap-"))
    run = field(page, "CI run")
    expect(run.get_by_role("link", name="GitHub Actions run")).to_have_attribute(
        "href", "https://github.com/acme/api/actions/runs/4141"
    )
    expect(run).to_contain_text("refs/heads/main")
    expect(run).to_contain_text("octocat")
    expect(run).to_contain_text("release")
    expect(field(page, "Heartbeats")).to_have_text("0")
    expect(page.get_by_role("region", name="Policy")).to_contain_text("No policy is attached")


def test_history_rows_show_who_recorded_them(dashboard: Dashboard) -> None:
    dashboard.sign_in(
        "#/history?environment=k8s-east&logical_environment=production&deployment_name=api"
    )
    page = dashboard.page
    rows = page.locator("table.records tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("table.records thead th").last).to_have_text("Reported by")
    for i, run in enumerate(("4242", "4141")):
        who = rows.nth(i).locator("td").last
        expect(who.locator(".token-name")).to_have_text(re.compile("^bootstrap-"))
        expect(who.get_by_role("link", name="GitHub Actions run")).to_have_attribute(
            "href", f"https://github.com/acme/api/actions/runs/{run}"
        )
        expect(who).to_contain_text("by octocat")
    # Records reported without CI carry the token alone.
    dashboard.go("#/history?environment=paging")
    first = page.locator("table.records tbody tr").first.locator("td").last
    expect(first.locator(".token-name")).to_be_visible()
    expect(first.get_by_role("link")).to_have_count(0)


def test_search_box_finds_names_versions_and_digests(dashboard: Dashboard, shoot: Any) -> None:
    dashboard.sign_in()
    page = dashboard.page
    box = page.get_by_label("Search", exact=True)
    box.fill("v1.2.0")
    box.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Search: v1.2.0")
    running = page.get_by_role("region", name="Running versions and artifacts")
    expect(running.locator("tbody tr")).to_have_count(3)  # development, staging, qa
    expect(running).to_contain_text("v1.2.0-rc.1")
    shoot(page, "search-version")

    box.fill("check")
    box.press("Enter")
    names = page.get_by_role("region", name="Deployments")
    names.get_by_role("link", name="checkout").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("checkout")

    prefix = dashboard.data.api_v3[7:19]  # bare hex, no algorithm
    box.fill(prefix)
    box.press("Enter")
    digests = page.get_by_role("region", name="Digests")
    digests.get_by_role("link", name=dashboard.data.api_v3).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Artifact")
    assert dashboard.data.api_v3 in page.url

    box.fill("nothing-is-called-this")
    box.press("Enter")
    expect(page.locator("main")).to_contain_text("Nothing matches “nothing-is-called-this”.")


def test_vulnerability_search_answers_like_artifact_search(
    dashboard: Dashboard, shoot: Any
) -> None:
    dashboard.sign_in("#/search?q=CVE-2021-44228")
    page = dashboard.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Search: CVE-2021-44228")
    if not dashboard.served.has("/v1/search", cve="CVE-2021-44228"):
        expect(page.locator("main")).to_contain_text("does not index SBOMs and scans yet")
        return
    # checkout 3.0.0 carries log4j-core 2.14.1 and runs in k8s-east production.
    hit = page.locator("article.hit")
    expect(hit).to_have_count(1)
    expect(hit.locator("h3")).to_contain_text("3.0.0")
    expect(hit.locator("table.matches")).to_contain_text("log4j-core")
    expect(hit.locator("table.matches")).to_contain_text("CVE-2021-44228")
    expect(hit.locator("[data-flag=severity]")).to_have_text("critical")
    expect(hit.locator("table.records tbody tr")).to_have_count(1)
    expect(hit.locator("table.records")).to_contain_text("k8s-east")
    shoot(page, "search-cve")
    # The advanced form: a purl with a version range, ever.
    page.get_by_text("Search by package or vulnerability").click()
    page.get_by_label("Package URL").fill("pkg:maven/org.apache.logging.log4j/log4j-core")
    page.get_by_label("Version range").fill("vers:maven/>=2.0.0|<2.15.0")
    page.get_by_label("Ever (history)").check()
    page.get_by_role("button", name="Search", exact=True).last.click()
    expect(page.locator("article.hit table.records tbody tr")).to_have_count(3)


def test_application_view_across_every_environment(dashboard: Dashboard) -> None:
    dashboard.sign_in("#/apps")
    page = dashboard.page
    names = page.locator("table.apps tbody tr")
    expect(names.first).to_contain_text("api")
    page.get_by_label("Name contains").fill("pag")
    page.get_by_role("button", name="Apply").click()
    expect(names).to_have_count(1)
    expect(names.first).to_contain_text("pager")
    dashboard.go("#/apps/api")
    expect(page.get_by_role("heading", level=1)).to_have_text("api")
    rows = page.locator("table.app-matrix tbody tr")
    expect(rows.locator("th")).to_have_text(["k8s-east", "k8s-west"])
    east = "k8s-east/{}/api/CONTAINER_IMAGE"
    for logical, version in [
        ("development", "v1.2.0-rc.1"),
        ("staging", "v1.2.0-rc.1"),
        ("qa", "v1.2.0-rc.1"),
        ("production", "v1.1.0"),
        ("sandbox", "v1.1.0"),
    ]:
        slot = page.locator(f'td[data-slot="{east.format(logical)}"] .slot-version')
        expect(slot).to_have_text(version)
    west = page.locator('td[data-slot="k8s-west/production/api/CONTAINER_IMAGE"]')
    expect(west.locator("[data-flag=stale]")).to_be_visible()
    history = page.get_by_role("region", name="Recent history")
    expect(history.locator("tbody tr")).to_have_count(11)
    history.get_by_role("link", name="All the history of api").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("History")
    assert "deployment_name=api" in page.url
    # Every deployment name in a table links here.
    dashboard.go("#/history?environment=paging&limit=3")
    page.locator("table.records tbody tr").first.get_by_role("link", name="pager").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("pager")
    expect(page.get_by_role("region", name="Recent history").locator("tbody tr")).to_have_count(
        PAGED_RECORDS
    )


def test_audit_log_view(dashboard: Dashboard, shoot: Any) -> None:
    dashboard.sign_in("#/audit")
    page = dashboard.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    rows = page.locator("table.audit tbody tr")
    expect(rows).to_have_count(50)  # one page
    page.get_by_role("button", name="Load more").click()
    expect(rows).not_to_have_count(50)
    shoot(page, "audit")
    page.get_by_label("Action").fill("deployment.policy_overridden")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("load test, no SBOM yet")
    rows.first.locator("a", has_text="deployment/").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("api in k8s-east / sandbox")


def test_artifact_page_lists_components_and_findings(dashboard: Dashboard) -> None:
    checkout = dashboard.data.checkout_v1
    dashboard.sign_in(f"#/artifacts/{checkout}")
    page = dashboard.page
    findings = page.get_by_role("region", name="Vulnerability findings")
    components = page.get_by_role("region", name="Components")
    if not dashboard.served.has(f"/v1/artifacts/{checkout}/components"):
        expect(components).to_contain_text("does not index components of artifacts yet")
        expect(findings).to_contain_text("does not index findings of artifacts yet")
        return
    expect(components.locator("tbody tr")).to_have_count(1)
    expect(components).to_contain_text("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1")
    expect(findings).to_contain_text("CVE-2021-44228")
    expect(findings.locator("[data-flag=severity]")).to_have_text("critical")
