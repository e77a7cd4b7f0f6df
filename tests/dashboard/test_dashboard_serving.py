"""How the app serves the dashboard: routes, headers, and what the page's code may do."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.dashboard.conftest import Served

STATIC = Path(__file__).resolve().parents[2] / "src" / "deploytrace" / "dashboard" / "static"


def test_index_and_assets_are_served_with_strict_headers(served: Served) -> None:
    page = httpx.get(f"{served.url}/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<meta charset="utf-8">' in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"

    script = httpx.get(f"{served.url}/dashboard/main.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == csp
    again = httpx.get(
        f"{served.url}/dashboard/main.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert again.status_code == 304

    assert httpx.head(f"{served.url}/").status_code == 200
    for missing in ("/dashboard/nope.js", "/dashboard/..%2Fassets.py", "/dashboard/__init__.py"):
        answer = httpx.get(f"{served.url}{missing}")
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"


def test_dashboard_routes_stay_out_of_the_api(served: Served) -> None:
    paths = httpx.get(f"{served.url}/openapi.json").json()["paths"]
    assert "/" not in paths
    assert not [p for p in paths if p.startswith("/dashboard")]
    # The API keeps answering as before: JSON, and a token is still required.
    assert httpx.get(f"{served.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{served.url}/v1/deployments").status_code == 401


def test_page_code_is_read_only_and_never_parses_data_as_html() -> None:
    sources = {p.name: p.read_text() for p in STATIC.glob("*.js")}
    assert sources, STATIC
    everything = "\n".join(sources.values())
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert forbidden not in everything, forbidden
    # One fetch in the whole page: GETs, and the one POST of `deploytrace ui`'s sign-in
    # link (a one-time code traded for a token), to that route alone.
    assert [name for name, text in sources.items() if "fetch(" in text] == ["api.js"]
    api = sources["api.js"]
    assert re.findall(r'method: "(\w+)"', api) == ["GET", "POST"]
    exchange = api[api.index("export async function exchangeSignInCode") :]
    assert 'method: "POST"' in exchange
    assert 'new URL("ui/sign-in", document.baseURI)' in exchange
    assert 'method: "POST"' not in api[: api.index("export async function exchangeSignInCode")]
    # Charts are SVG built node by node, never parsed from text.
    assert "DOMParser" not in everything
    assert "createContextualFragment" not in everything
    # Links to the outside (CI runs) only for http(s) URLs, and never with an opener.
    assert 'rel: "noopener noreferrer"' in sources["components.js"]
    # No inline script or style for the CSP to refuse.
    html = (STATIC / "index.html").read_text()
    assert re.findall(r"<script\b[^>]*>", html) == [
        '<script type="module" src="dashboard/main.js">'
    ]
    assert "style=" not in html
    assert "<style" not in html
