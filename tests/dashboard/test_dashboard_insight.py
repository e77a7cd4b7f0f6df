"""The diff view and the DORA panel.

Against a server that has /v1/diff and /v1/metrics/dora they are checked on the seed's
history; a server without them must show "not available" instead of an error. The last
two tests feed the views SPEC §8-shaped answers through the browser, so the rendering
(badges, order, charts, escaping) is checked whatever the server has.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.dashboard.conftest import Dashboard
from tests.dashboard.seed import HOSTILE

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails in CI) with the reason
    expect = None  # type: ignore[assignment]


def test_diff_between_two_stages(dashboard: Dashboard, shoot: Any) -> None:
    dashboard.sign_in("#/diff")
    page = dashboard.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Diff")
    # The last two stages of the promotion order by default.
    expect(page.get_by_label("From", exact=True)).to_have_value("qa")
    expect(page.get_by_label("To", exact=True)).to_have_value("production")
    page.get_by_label("From", exact=True).select_option("staging")
    page.get_by_role("button", name="Apply").click()
    assert "from=staging" in page.url
    if not dashboard.served.has("/v1/diff", **{"from": "staging", "to": "production"}):
        expect(page.get_by_role("status")).to_contain_text("Not available on this server")
        return
    rows = page.locator("table.diff tbody tr")
    # Most behind first: api and checkout are one release behind staging in k8s-east.
    for i, name in enumerate(["api", "checkout"]):
        expect(rows.nth(i)).to_contain_text(name)
        expect(rows.nth(i).locator("[data-flag=behind]")).to_have_text("1 behind")
    api = rows.nth(0)
    expect(api).to_contain_text("v1.2.0-rc.1")  # staging
    expect(api).to_contain_text("v1.1.0")  # production
    expect(page.locator("table.diff")).to_contain_text("only in production")
    expect(page.locator("table.diff")).to_contain_text("not in production")
    shoot(page, "diff")

    # Two environments within one stage.
    page.get_by_role("link", name="Compare two environments instead").click()
    page.get_by_label("From environment").select_option("k8s-west")
    page.get_by_label("To environment").select_option("k8s-east")
    page.get_by_label("Logical environment").select_option("production")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.diff thead th").first).to_have_text("Deployment")
    expect(page.locator("table.diff")).to_contain_text("api")


def test_dora_panel_per_logical_environment(dashboard: Dashboard, shoot: Any) -> None:
    dashboard.sign_in("#/dora")
    page = dashboard.page
    expect(page.get_by_role("heading", level=1)).to_have_text("DORA metrics")
    if not dashboard.served.has("/v1/metrics/dora", logical_environment="production"):
        expect(page.get_by_role("status")).to_contain_text("Not available on this server")
        return
    cards = page.locator(".dora-card")
    expect(cards).to_have_count(5)
    expect(page.locator(".dora-card.selected")).to_have_attribute(
        "data-logical-environment", "production"
    )
    panel = page.locator(".dora-panel")
    expect(panel.locator("h2")).to_have_text("production")
    # 7 records created in production: api twice, checkout three times (one rolled back
    # six hours later), west's api and the chart.
    expect(panel.locator("dl.fields")).to_contain_text("Deployments7")
    expect(panel.locator("dl.fields")).to_contain_text("Change failure rate14.3%")
    expect(panel.locator("dl.fields")).to_contain_text("Time to restore6h median")
    charts = panel.locator("svg.chart")
    expect(charts).to_have_count(2)
    bars = charts.first.locator("rect.bar:not(.bar-alarm)")
    total = sum(int(v) for v in bars.evaluate_all("rs => rs.map(r => r.dataset.value)"))
    assert total == 7
    expect(charts.first.locator("rect.bar-alarm")).to_have_count(1)
    expect(charts.nth(1).locator("rect.bar-lead")).not_to_have_count(0)
    shoot(page, "dora")

    # Another stage, with the window kept.
    page.get_by_label("Window", exact=True).select_option("7d")
    page.get_by_role("button", name="Apply").click()
    page.locator(".dora-card[data-logical-environment=staging]").click()
    expect(panel.locator("h2")).to_have_text("staging")
    assert "since=7d" in page.url


def _fulfil_json(body: Any) -> Any:
    def handler(route: Any) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    return handler


def _record(env: str, logical: str, name: str, version: str) -> dict[str, Any]:
    return {
        "id": "00000000-0000-4000-8000-000000000001",
        "environment": env,
        "logical_environment": logical,
        "deployment_name": name,
        "kind": "CONTAINER_IMAGE",
        "artifact": {"digest": "sha256:" + "ab" * 32, "name": "ghcr.io/x/y", "version": version},
        "status": "deployed",
        "created_at": "2026-11-20T10:00:00Z",
        "updated_at": "2026-11-20T10:00:00Z",
        "last_seen_at": "2026-11-20T10:00:00Z",
        "ended_at": None,
        "superseded_by": None,
        "ended_reason": None,
        "stale": False,
        "heartbeats": 0,
        "scope": None,
        "reported_by": {"token": "ci", "ci": None},
        "promotion": None,
        "policy": {"status": "none"},
    }


def test_diff_rendering_of_the_spec_shape(dashboard: Dashboard) -> None:
    rows = [
        {
            "environment": "k8s-east",
            "deployment_name": "far",
            "kind": "CONTAINER_IMAGE",
            "from": _record("k8s-east", "staging", "far", "v9"),
            "to": _record("k8s-east", "production", "far", "v6"),
            "state": "different",
            "behind": 3,
            "since": "2026-11-20T10:00:00Z",
        },
        {
            "environment": "k8s-east",
            "deployment_name": "never",
            "kind": "CONTAINER_IMAGE",
            "from": _record("k8s-east", "staging", "never", "v2"),
            "to": _record("k8s-east", "production", "never", f"<b>{HOSTILE}</b>"),
            "state": "different",
            "behind": None,
            "since": "2026-11-20T10:00:00Z",
        },
        {
            "environment": "k8s-east",
            "deployment_name": "equal",
            "kind": "HELM_CHART",
            "from": _record("k8s-east", "staging", "equal", "1.0"),
            "to": _record("k8s-east", "production", "equal", "1.0"),
            "state": "same",
            "behind": 0,
            "since": "2026-11-20T10:00:00Z",
        },
    ]
    page = dashboard.page
    page.route("**/v1/diff?*", _fulfil_json({"items": rows, "next_cursor": None}))
    dashboard.sign_in("#/diff?from=staging&to=production")
    body = page.locator("table.diff tbody tr")
    expect(body).to_have_count(3)
    # The API's order is kept (most behind first), each with its badge.
    expect(body.locator("[data-flag=behind]")).to_have_text(
        ["3 behind", "never in staging", "up to date"]
    )
    expect(body.nth(1)).to_contain_text(f"<b>{HOSTILE}</b>")
    expect(page.locator("p.summary")).to_contain_text("1 up to date, 1 behind")
    assert page.locator("main img, main b").count() == 0


def test_dora_charts_drawn_as_inline_svg(dashboard: Dashboard) -> None:
    def dora(route: Any) -> None:
        query = route.request.url
        per_period = "until=" in query
        body = {
            "deployments": 2 if per_period else 9,
            "deployment_frequency_per_day": 1.3,
            "lead_time_seconds": {"p50": 3600.0, "p90": 7200.0},
            "change_failure_rate": 0.5 if per_period else 0.25,
            "time_to_restore_seconds": {"p50": 1800.0, "p90": None},
            "window": {"from": "2026-11-21T00:00:00Z", "to": "2026-11-28T00:00:00Z"},
        }
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page = dashboard.page
    page.route("**/v1/metrics/dora?*", dora)
    dashboard.sign_in("#/dora?logical_environment=production&since=7d")
    panel = page.locator(".dora-panel")
    expect(panel.locator("dl.fields")).to_contain_text("Lead time for changes1h median, 2h p90")
    expect(panel.locator("dl.fields")).to_contain_text("Time to restore30m median, — p90")
    expect(panel.locator("dl.fields")).to_contain_text("Change failure rate25%")
    bars = panel.locator("svg.chart").first.locator("rect.bar:not(.bar-alarm)")
    expect(bars).to_have_count(7)  # seven whole UTC days
    expect(panel.locator("svg.chart").first.locator("rect.bar-alarm")).to_have_count(7)
    # The numbers are there as a table too.
    panel.get_by_text("The numbers").first.click()
    expect(panel.locator("figure").first.locator("tbody tr")).to_have_count(7)
    # Drawn node by node in the page's own document: no image, no external resource.
    assert panel.locator("svg.chart image, svg.chart foreignObject").count() == 0
