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
    expect(cell.locator(".artifact-name")).to_have_text(f"ghcr.io/acme/{HOSTILE}")
    dashboard.go("#/attestations")
    expect(page.locator("table.attestations")).to_contain_text(f"ghcr.io/acme/{HOSTILE}")
    dashboard.go(f"#/artifacts/{dashboard.data.hostile}")
    expect(page.get_by_role("region", name="Where it ran")).to_contain_text(f"<b>{HOSTILE}</b>")
    # Nothing became markup: no image, no bold, and (checked by the fixture) no alert dialog.
    assert page.locator("main img, main b").count() == 0


def test_unknown_route_and_missing_record(dashboard: Dashboard) -> None:
    dashboard.watch.allowed_statuses.add(404)
    dashboard.sign_in("#/nowhere")
    page = dashboard.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    dashboard.go("#/deployments/00000000-0000-0000-0000-000000000000")
    expect(page.get_by_role("alert")).to_contain_text("Not found")
