"""What runs where: what each cell says beyond "deployed", time travel, auto-refresh."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest

from tests.dashboard.conftest import Dashboard, Served
from tests.dashboard.seed import SBOM_DEMO
from tests.support.digests import digest
from tests.support.statements import statement

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails in CI) with the reason
    expect = None  # type: ignore[assignment]


def cell(page: Any, env: str, logical: str, name: str, kind: str = "CONTAINER_IMAGE") -> Any:
    return page.locator(f'td[data-slot="{env}/{logical}/{name}/{kind}"]')


def flag(locator: Any, name: str) -> Any:
    return locator.locator(f'[data-flag="{name}"]')


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_cells_say_more_than_deployed(dashboard: Dashboard, shoot: Any) -> None:
    dashboard.sign_in()
    page = dashboard.page
    summary = page.locator("[data-summary]")
    expect(summary).to_contain_text("1 running without evidence")
    expect(summary).to_contain_text("1 stale")
    expect(summary).to_contain_text("2 policy violations")

    # How well the artifact is attested: a Sigstore-verified SBOM, or unsigned statements.
    expect(flag(cell(page, "k8s-east", "qa", "sbom-demo"), "evidence")).to_have_text("verified")
    api = cell(page, "k8s-east", "production", "api")
    expect(flag(api, "evidence")).to_have_text("unverified")
    expect(flag(api, "evidence")).to_have_attribute("title", "1 attestation: 1 unverified")
    # Staleness: the failover cluster's reporter stopped three days ago (stale after 24h).
    west = cell(page, "k8s-west", "production", "api")
    expect(flag(west, "stale")).to_be_visible()
    expect(west).to_have_class(re.compile(r"\bhas-stale\b"))
    expect(west.locator(".slot-meta")).to_have_text("last seen 3d ago")
    expect(flag(api, "stale")).to_have_count(0)
    # A chart that went straight to production skipped staging.
    chart = cell(page, "k8s-east", "production", "chainloop", "HELM_CHART")
    expect(flag(chart, "skipped-promotion")).to_have_text("skipped staging")
    expect(flag(api, "skipped-promotion")).to_have_count(0)
    # Policy verdicts, including an admin's override.
    expect(flag(cell(page, "k8s-east", "qa", "api"), "policy")).to_have_text("policy violated")
    expect(flag(cell(page, "k8s-east", "qa", "sbom-demo"), "policy")).to_have_text("policy passed")
    sandbox = flag(cell(page, "k8s-east", "sandbox", "api"), "policy")
    expect(sandbox).to_have_text("policy overridden")
    expect(sandbox).to_have_attribute("title", re.compile("load test, no SBOM yet"))
    # Running without evidence: in red in its cell, and listed on top.
    payments = cell(page, "k8s-east", "production", "payments")
    expect(payments).to_have_class(re.compile(r"\bhas-unattested\b"))
    expect(flag(payments, "unattested")).to_have_text("running without evidence")
    expect(payments).to_contain_text("2.0.0")
    expect(payments).to_contain_text("no attestation names its digest")
    alert = page.get_by_role("region", name="Running without evidence (1)")
    expect(alert.locator("tbody tr")).to_have_count(1)
    expect(alert).to_contain_text("payments")
    expect(alert).to_contain_text("ghcr.io/acme/payments")
    # No "deployed" badge on every cell: an active cell is deployed by definition.
    expect(page.locator("table.matrix .badge", has_text=re.compile("^deployed$"))).to_have_count(0)
    shoot(page, "matrix-flags")


def test_repository_once_per_row_and_no_mid_word_wrapping(dashboard: Dashboard) -> None:
    page = dashboard.page
    page.set_viewport_size({"width": 900, "height": 800})
    dashboard.sign_in()
    east = page.get_by_role("region", name="k8s-east")
    row = east.locator("tbody tr", has=page.locator("th", has_text="checkout"))
    expect(row.locator("th .repository")).to_have_text("ghcr.io/acme/checkout")
    # The cells do not repeat it.
    expect(row.locator("td .artifact-name")).to_have_count(0)
    expect(cell(page, "k8s-east", "production", "checkout").locator(".slot-version")).to_have_text(
        "3.0.0"
    )
    # Every version sits on one line, every repository and name breaks only after "/" or ".".
    for width in (900, 640):
        page.set_viewport_size({"width": width, "height": 800})
        wrapped = page.evaluate(
            r"""() => {
              // Text broken between two characters that are not spaces: a mid-word wrap.
              const midWord = (text) => {
                const range = document.createRange();
                let top = null;
                for (let i = 0; i < text.data.length; i += 1) {
                  range.setStart(text, i);
                  range.setEnd(text, i + 1);
                  const rect = range.getClientRects()[0];
                  if (!rect) continue;
                  const y = Math.round(rect.top);
                  if (top !== null && y > top && !/\s/.test(text.data[i - 1] + text.data[i])) {
                    return true;
                  }
                  top = y;
                }
                return false;
              };
              const bad = [];
              for (const el of document.querySelectorAll(".matrix .slot-version")) {
                const range = document.createRange();
                range.selectNodeContents(el);
                const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
                if (tops.size > 1) bad.push(el.textContent);
              }
              for (const el of document.querySelectorAll(
                  ".matrix .repository, .matrix .deployment-name")) {
                for (const text of el.childNodes) {
                  if (text.nodeType === Node.TEXT_NODE && midWord(text)) bad.push(text.data);
                }
              }
              return bad;
            }"""
        )
        assert wrapped == [], width


def test_promotion_order_by_position(dashboard: Dashboard) -> None:
    """qa was created after the others with --after staging: it sorts by its place in the
    order, not by name; sandbox (outside the order) comes after."""
    dashboard.sign_in("#/?environment=k8s-east")
    page = dashboard.page
    expect(page.locator("section.env thead th")).to_have_text(
        ["Deployment", "development", "staging", "qa", "production", "sandbox"]
    )
    # The filter offers them in the same order.
    options = page.get_by_label("Logical environment").locator("option")
    expect(options).to_have_text(
        ["All logical environments", "development", "staging", "qa", "production", "sandbox"]
    )


def test_time_travel_shows_the_matrix_at_an_instant(dashboard: Dashboard, shoot: Any) -> None:
    data = dashboard.data
    at = iso(data.days_ago(5.5))
    dashboard.sign_in(f"#/?at={at}")
    page = dashboard.page
    expect(page.get_by_role("heading", level=1)).to_have_text("What ran where")
    expect(cell(page, "k8s-east", "production", "api").locator(".slot-version")).to_have_text(
        "v1.0.0"
    )
    expect(cell(page, "k8s-east", "staging", "api").locator(".slot-version")).to_have_text("v1.1.0")
    # Not yet deployed then; and what runs without evidence is only known for now.
    expect(page.get_by_role("region", name="k8s-west")).to_contain_text(
        "Nothing was deployed here then."
    )
    expect(page.get_by_role("region", name=re.compile("Running without evidence"))).to_have_count(0)
    expect(page.get_by_role("checkbox", name=re.compile("Auto-refresh"))).to_have_count(0)
    expect(page.get_by_label("Instant (UTC)")).to_have_value(at)
    shoot(page, "matrix-time-travel")

    # The address is the view: opened afresh, it shows the same instant.
    assert f"at={at}" in page.url
    page.reload()
    expect(cell(page, "k8s-east", "production", "api").locator(".slot-version")).to_have_text(
        "v1.0.0"
    )

    # Typing an instant.
    page.get_by_label("Instant (UTC)").fill(iso(data.days_ago(9.5)))
    page.get_by_role("button", name="Show").click()
    expect(cell(page, "k8s-east", "production", "api")).to_have_text("—")
    expect(cell(page, "k8s-east", "staging", "api").locator(".slot-version")).to_have_text("v1.0.0")
    page.get_by_label("Instant (UTC)").fill("last tuesday")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#at-problem")).to_contain_text("is not an instant")
    assert f"at={iso(data.days_ago(9.5))}" in page.url

    # The slider: its left end is the first record; one step on, that record alone runs.
    slider = page.get_by_role("slider", name="Time travel")
    slider.focus()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    expect(page.locator("table.matrix .slot-version")).to_have_text(["v1.0.0"])
    expect(cell(page, "k8s-east", "development", "api").locator(".slot-version")).to_have_text(
        "v1.0.0"
    )
    # Its right end is now.
    page.get_by_role("slider", name="Time travel").focus()
    page.keyboard.press("End")
    expect(page.get_by_role("heading", level=1)).to_have_text("What runs where")
    assert "at=" not in page.url

    # "Back to now" from any instant.
    dashboard.go(f"#/?at={at}&environment=k8s-east")
    page.get_by_role("link", name="Back to now").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What runs where")
    expect(page.locator("section.env h2")).to_have_text(["k8s-east"])


def _record(served: Served, name: str, artifact: str, version: str) -> None:
    headers = {"Authorization": f"Bearer {served.token}"}
    with httpx.Client(base_url=served.url, headers=headers, timeout=30) as client:
        pushed = client.post("/v1/attestations", content=statement(artifact, name="ghcr.io/x/y"))
        assert pushed.status_code in (200, 201), pushed.text
        r = client.post(
            "/v1/deployments",
            json={
                "environment": "live",
                "logical_environment": "production",
                "deployment_name": name,
                "kind": "CONTAINER_IMAGE",
                "digest": artifact,
                "artifact_version": version,
            },
        )
        assert r.status_code in (200, 201), r.text


def test_live_view_refreshes_itself_unless_hidden(fresh_dashboard: Dashboard) -> None:
    served = fresh_dashboard.served
    with httpx.Client(base_url=served.url, timeout=30) as client:
        client.post(
            "/v1/environments",
            json={"name": "live"},
            headers={"Authorization": f"Bearer {served.token}"},
        ).raise_for_status()
    _record(served, "web", digest("live-1"), "1.0")
    page = fresh_dashboard.page
    page.clock.install()
    fresh_dashboard.sign_in()
    web = cell(page, "live", "production", "web").locator(".slot-version")
    expect(web).to_have_text("1.0")

    _record(served, "web", digest("live-2"), "2.0")
    page.clock.run_for(29_000)
    expect(web).to_have_text("1.0")  # not yet
    page.clock.run_for(2_000)
    expect(web).to_have_text("2.0")

    # A hidden tab does not poll; it catches up when it is looked at again.
    page.evaluate(
        """() => {
          Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
          document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    _record(served, "web", digest("live-3"), "3.0")
    page.clock.run_for(61_000)
    page.wait_for_timeout(300)
    expect(web).to_have_text("2.0")
    page.evaluate(
        """() => {
          Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
          document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    expect(web).to_have_text("3.0")

    # Turned off, it stays as it is.
    page.get_by_label(re.compile("Auto-refresh")).uncheck()
    _record(served, "web", digest("live-4"), "4.0")
    page.clock.run_for(61_000)
    page.wait_for_timeout(300)
    expect(web).to_have_text("3.0")
    page.get_by_role("button", name="Refresh").click()
    expect(web).to_have_text("4.0")

    # Leaving the view stops its timer: no request for the matrix from another view.
    fresh_dashboard.go("#/environments")
    expect(page.get_by_role("heading", level=1)).to_have_text("Environments")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/v1/deployments" in r.url else None)
    page.clock.run_for(61_000)
    page.wait_for_timeout(300)
    assert asked == []


def test_sbom_demo_is_verified_by_sigstore(served: Served) -> None:
    """The seed's premise for the "verified" badge, checked through the API."""
    r = httpx.get(
        f"{served.url}/v1/dashboard/attested",
        params={"digest": SBOM_DEMO},
        headers={"Authorization": f"Bearer {served.token}"},
    )
    assert r.json()["items"][0]["verified"] == 1
