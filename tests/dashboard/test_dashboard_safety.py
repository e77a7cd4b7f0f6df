"""Sign-in, refused tokens, outages and hostile data, in a real browser."""

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

TOKEN_KEY = "deploytrace.token"


def test_bad_token_shows_the_error_and_stays_on_the_form(dashboard: Dashboard) -> None:
    dashboard.watch.allowed_statuses.add(401)
    dashboard.open()
    page = dashboard.page
    page.get_by_label("API token").fill("dt_not_a_token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("invalid token")
    expect(page.get_by_label("API token")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None

    page.get_by_label("API token").fill(dashboard.served.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What runs where")
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") == dashboard.served.token
    # The token travels in a header only, never in the address.
    assert dashboard.served.token not in page.url


def test_refused_token_returns_to_sign_in_then_to_the_view(dashboard: Dashboard) -> None:
    dashboard.watch.allowed_statuses.add(401)
    dashboard.sign_in()
    page = dashboard.page
    # The view asks for three lists at once; hold back the refused answer of one of them
    # until the user has signed in again (what a loaded machine does by chance).
    held: list[Any] = []

    def hold_first_refused(route: Any) -> None:
        if route.request.headers.get("authorization") == "Bearer dt_revoked" and not held:
            held.append(route)
        else:
            route.continue_()

    page.route(lambda url: "/v1/deployments" in url, hold_first_refused)
    page.evaluate(f"sessionStorage.setItem('{TOKEN_KEY}', 'dt_revoked')")
    dashboard.go("#/history")
    expect(page.get_by_role("alert")).to_have_text("invalid token")
    expect(page.get_by_label("API token")).to_be_focused()
    page.get_by_label("API token").fill(dashboard.served.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("History")
    assert len(held) == 1

    # The late refusal belongs to a token that is gone: it must not sign the user out.
    with page.expect_response(
        lambda r: r.request.headers.get("authorization") == "Bearer dt_revoked"
    ):
        held[0].continue_()
    page.wait_for_timeout(300)  # let the page handle that answer
    expect(page.get_by_role("heading", level=1)).to_have_text("History")
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") == dashboard.served.token


def test_sign_out_forgets_the_token(dashboard: Dashboard) -> None:
    dashboard.sign_in()
    page = dashboard.page
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None


def test_database_outage_says_so_and_can_retry(dashboard: Dashboard) -> None:
    dashboard.watch.allowed_statuses.add(503)
    page = dashboard.page
    outage = json.dumps(
        {"error": {"code": "unavailable", "message": "database unavailable: connection refused"}}
    )

    def unavailable(route: Any) -> None:
        route.fulfill(status=503, content_type="application/json", body=outage)

    def deployments(url: str) -> bool:
        return "/v1/deployments" in url

    dashboard.sign_in("#/environments")
    page.route(deployments, unavailable)
    dashboard.go("#/")
    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading")).to_have_text("Database unavailable")
    expect(alert).to_contain_text("cannot reach its database (connection refused)")
    page.unroute(deployments, unavailable)
    page.get_by_role("button", name="Try again").click()
    expect(page.locator("section.env").first).to_be_visible()


def test_hostile_names_render_as_text(dashboard: Dashboard) -> None:
    dashboard.sign_in()
    page = dashboard.page
    edge = page.get_by_role("region", name="edge")
    expect(edge).to_contain_text(f"Edge nodes {HOSTILE}")
    cell = edge.locator('td[data-slot="edge/development/widget/CONTAINER_IMAGE"]')
    expect(cell.locator(".slot-version")).to_have_text(f"<b>{HOSTILE}</b>")
    # The repository is shown once, in the row's header.
    expect(edge.locator("tbody th .repository")).to_have_text(f"ghcr.io/acme/{HOSTILE}")
    dashboard.go("#/attestations")
    expect(page.locator("table.attestations")).to_contain_text(f"ghcr.io/acme/{HOSTILE}")
    dashboard.go(f"#/artifacts/{dashboard.data.hostile}")
    expect(page.get_by_role("region", name="Where it ran")).to_contain_text(f"<b>{HOSTILE}</b>")
    assert page.locator("main img, main b").count() == 0
    # The new views show the same data as text too: search, the application, the audit log.
    page.get_by_label("Search", exact=True).fill(HOSTILE)
    page.get_by_label("Search", exact=True).press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Search: {HOSTILE}")
    expect(page.locator("table.records")).to_contain_text(f"<b>{HOSTILE}</b>")
    assert page.locator("main img, main b").count() == 0
    dashboard.go("#/apps/widget")
    expect(page.locator("td[data-slot]").first).to_contain_text(f"<b>{HOSTILE}</b>")
    dashboard.go("#/audit?action=environment.created")
    expect(page.locator("table.audit")).to_contain_text(f"Edge nodes {HOSTILE}")
    # Nothing became markup: no image, no bold, and (checked by the fixture) no alert dialog.
    assert page.locator("main img, main b").count() == 0


def test_unknown_route_and_missing_record(dashboard: Dashboard) -> None:
    dashboard.watch.allowed_statuses.add(404)
    dashboard.sign_in("#/nowhere")
    page = dashboard.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    for missing in (
        "#/deployments/00000000-0000-0000-0000-000000000000",
        "#/artifacts/sha256:" + "0" * 64,
        "#/attestations/sha256:" + "0" * 64,
    ):
        dashboard.go(missing)
        # A thing that does not exist is a page of its own, not an error to retry.
        expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
        expect(page.locator("main")).to_contain_text("not found")
        expect(page.get_by_role("button", name="Try again")).to_have_count(0)
        expect(page.get_by_text("Something went wrong")).to_have_count(0)
        expect(page.get_by_role("link", name="Go to what runs where")).to_be_visible()


def test_ci_run_links_only_to_http_urls(dashboard: Dashboard) -> None:
    """The server refuses other run URLs; the page must not trust that."""
    page = dashboard.page
    record_id = dashboard.data.current_id
    real: dict[str, Any] = {}

    def forged(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        body["reported_by"]["ci"]["run_url"] = "javascript:alert(document.domain)"
        body["reported_by"]["ci"]["actor"] = HOSTILE
        real.update(body)
        route.fulfill(response=response, json=body)

    page.route(f"**/v1/deployments/{record_id}", forged)
    dashboard.sign_in(f"#/deployments/{record_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("api in k8s-east / production")
    ci = page.locator("dd .ci-run")
    expect(ci).to_have_text("GitHub Actions run")
    assert ci.evaluate("node => node.tagName") == "SPAN"
    expect(page.locator("main")).to_contain_text(HOSTILE)
    assert page.locator("main a[href^='javascript']").count() == 0
    assert real  # the route was used

    # The real http(s) link opens in a new tab without handing over the page.
    page.unroute(f"**/v1/deployments/{record_id}", forged)
    dashboard.go(
        "#/history?environment=k8s-east&logical_environment=production&deployment_name=api"
    )
    link = page.locator("table.records a.ci-run").first
    expect(link).to_have_attribute("href", "https://github.com/acme/api/actions/runs/4242")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
