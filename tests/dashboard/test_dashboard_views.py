"""The dashboard's views in a real browser, over data recorded through the API."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.dashboard.conftest import Dashboard
from tests.dashboard.seed import CHART, PAGED_RECORDS

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails in CI) with the reason
    expect = None  # type: ignore[assignment]


def slot(env: str, logical: str, name: str, kind: str = "CONTAINER_IMAGE") -> str:
    """The matrix cell of one slot."""
    return f'td[data-slot="{env}/{logical}/{name}/{kind}"]'


def version_in(page: Any, env: str, logical: str, name: str, kind: str = "CONTAINER_IMAGE") -> Any:
    """The version (or short digest) shown in a slot's cell."""
    return page.locator(f"{slot(env, logical, name, kind)} .slot-version")


def test_home_shows_what_runs_where(dashboard: Dashboard, shoot: Any) -> None:
    dashboard.sign_in()
    page = dashboard.page
    expect(page.get_by_role("heading", level=1)).to_have_text("What runs where")
    expect(page.locator(slot("k8s-east", "production", "api") + " .slot-version")).to_have_text(
        "v1.1.0"
    )
    expect(page.locator(slot("k8s-east", "staging", "api") + " .slot-version")).to_have_text(
        "v1.2.0-rc.1"
    )
    expect(page.locator(slot("k8s-west", "production", "api") + " .slot-version")).to_have_text(
        "v1.0.0"
    )
    chart = page.locator(slot("k8s-east", "production", "chainloop", "HELM_CHART"))
    expect(chart.locator(".slot-version")).to_have_text("0.93.7")
    expect(chart).to_contain_text("last seen")
    expect(page.locator(slot("k8s-east", "development", "checkout"))).to_have_text("—")
    # Columns in promotion order (qa was put after staging), then those outside it.
    east = page.get_by_role("region", name="k8s-east")
    expect(east.locator("thead th")).to_have_text(
        ["Deployment", "development", "staging", "qa", "production", "sandbox"]
    )
    shoot(page, "home-1280x800")

    # Filtering by environment keeps only that environment's table.
    page.get_by_label("Environment", exact=True).select_option("k8s-west")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("section.env h2")).to_have_text(["k8s-west"])
    assert "environment=k8s-west" in page.url


def test_history_shows_a_supersede_newest_first(dashboard: Dashboard) -> None:
    dashboard.sign_in("#/history")
    page = dashboard.page
    page.get_by_label("Environment", exact=True).select_option("k8s-east")
    page.get_by_label("Logical environment").select_option("production")
    page.get_by_label("Deployment name").fill("api")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("table.records tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("v1.1.0")
    expect(rows.nth(0)).to_contain_text("deployed")
    expect(rows.nth(1)).to_contain_text("v1.0.0")
    expect(rows.nth(1)).to_contain_text("superseded")

    # The superseded record links to the one that replaced it, by its version.
    rows.nth(1).get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("api in k8s-east / production")
    page.get_by_role("link", name="v1.1.0", exact=True).first.click()
    expect(page).to_have_url(re.compile(f"#/deployments/{dashboard.data.current_id}$"))
    expect(page.locator("dl.fields").first).to_contain_text("deployed")


def test_history_pages_with_load_more(dashboard: Dashboard) -> None:
    dashboard.sign_in("#/history?environment=paging&limit=3")
    page = dashboard.page
    rows = page.locator("table.records tbody tr")
    expect(rows).to_have_count(3)
    more = page.get_by_role("button", name="Load more")
    more.click()
    expect(rows).to_have_count(6)
    more.click()
    expect(rows).to_have_count(PAGED_RECORDS)
    expect(more).to_be_hidden()
    expect(page.get_by_text("Showing 7 records.")).to_be_visible()
    # Newest first: the last of the alternating deploys is the active one.
    expect(rows.nth(0)).to_contain_text("deployed")
    expect(rows.nth(0)).to_contain_text("v1.0.0")
    expect(rows.nth(1)).to_contain_text("v1.1.0")
    for i in range(1, PAGED_RECORDS):
        expect(rows.nth(i)).to_contain_text("superseded")


def test_record_shows_the_evidence_behind_it(dashboard: Dashboard) -> None:
    dashboard.sign_in()
    page = dashboard.page
    page.locator(slot("k8s-east", "production", "chainloop", "HELM_CHART")).get_by_role(
        "link"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("chainloop in k8s-east / production")
    evidence = page.get_by_role("region", name="Evidence")
    expect(evidence.locator("dl.fields")).to_contain_text("chainloop-vault-release")
    expect(evidence.locator("dl.fields dd").nth(1)).to_have_text("chainloop")
    expect(evidence.locator("table.evidence tbody tr")).to_have_count(1)
    expect(evidence.locator("table.evidence")).to_contain_text("material (HELM_CHART)")
    expect(evidence.locator("table.evidence")).to_contain_text("chainloop.dev/attestation/v0.2")

    # From the record to its artifact...
    page.get_by_role("link", name=CHART).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Artifact")
    expect(page.get_by_role("region", name="Where it runs now")).to_contain_text("k8s-east")
    # ...and to the attestation, with what it names and how it was verified.
    page.get_by_role("region", name="Evidence").locator("a.digest").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Attestation")
    expect(page.get_by_role("region", name="Verification")).to_contain_text("unverified")
    names = page.get_by_role("region", name="Artifacts it names")
    expect(names.get_by_role("link", name=CHART)).to_be_visible()
    subjects = page.get_by_role("region", name="Subjects")
    expect(subjects).to_contain_text("git.head")
    # A git commit (sha1) is no OCI artifact: shown, not linked to an artifact view.
    expect(subjects.get_by_role("link")).to_have_count(1)
    page.get_by_role("button", name="Show the stored bytes").click()
    expect(page.locator("pre.raw")).to_contain_text('"predicateType"')


def test_artifact_lists_attestations_and_every_deployment(dashboard: Dashboard) -> None:
    dashboard.sign_in(f"#/artifacts/{dashboard.data.api_v1}")
    page = dashboard.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Artifact")
    now = page.get_by_role("region", name="Where it runs now").locator("tbody tr")
    expect(now).to_have_count(2)  # k8s-west production, and the last deploy of the pager
    expect(now).to_contain_text(["paging", "k8s-west"])
    ran = page.get_by_role("region", name="Where it ran").locator("tbody tr")
    # east development, staging and production (superseded), west, and 4 of the pager's
    expect(ran).to_have_count(4 + PAGED_RECORDS // 2 + 1)
    east_production = ran.filter(has_text="k8s-east").filter(has_text="production")
    expect(east_production).to_contain_text("superseded")
    evidence = page.get_by_role("region", name="Evidence")
    expect(evidence.locator("table.evidence tbody tr")).to_have_count(1)
    expect(evidence.locator("dl.fields")).to_contain_text("acme-api 1.0.0")
    expect(evidence.locator("dl.fields")).to_contain_text("api-build")


def test_attestations_filter_by_project(dashboard: Dashboard) -> None:
    dashboard.sign_in("#/attestations")
    page = dashboard.page
    rows = page.locator("table.attestations tbody tr")
    expect(rows).to_have_count(9)
    page.get_by_label("Project").fill("acme-api")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(3)
    expect(rows).to_contain_text(["1.2.0-rc.1", "1.1.0", "1.0.0"])


def test_environments_view(dashboard: Dashboard) -> None:
    dashboard.sign_in("#/environments")
    page = dashboard.page
    envs = page.get_by_role("region", name="Environments", exact=True)
    expect(envs.locator("tbody tr")).to_have_count(4)
    expect(envs).to_contain_text("Main cluster, us-east-1")
    logical = page.get_by_role("region", name="Logical environments")
    expect(logical).to_contain_text("production")
    # An environment links to what runs there.
    envs.get_by_role("link", name="k8s-west").click()
    expect(page.locator("section.env h2")).to_have_text(["k8s-west"])


def test_keyboard_only(dashboard: Dashboard) -> None:
    dashboard.open()
    page = dashboard.page
    expect(page.get_by_label("API token")).to_be_focused()
    page.keyboard.type(dashboard.served.token)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("What runs where")
    # Signed in, focus is on the page's content; the navigation is just before it.
    expect(page.locator("main")).to_be_focused()
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.dataset.nav") == "history":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("History")
    expect(page.locator("main")).to_be_focused()
    expect(page.get_by_role("link", name="History", exact=True)).to_have_attribute(
        "aria-current", "page"
    )


def test_narrow_window_does_not_overflow(dashboard: Dashboard) -> None:
    page = dashboard.page
    page.set_viewport_size({"width": 400, "height": 800})
    dashboard.sign_in()
    for route, heading in [
        ("#/", "What runs where"),
        ("#/history", "History"),
        (f"#/deployments/{dashboard.data.superseded_id}", "api in k8s-east / production"),
        (f"#/artifacts/{CHART}", "Artifact"),
    ]:
        dashboard.go(route)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 400, route
