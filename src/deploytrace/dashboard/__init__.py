"""The read-only web dashboard served at `/` (static files that call the /v1 API)."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException

from deploytrace.dashboard.assets import SECURITY_HEADERS, Asset, load

# Assets live under their own prefix, clear of /v1, /healthz, /readyz, /docs, /openapi.json.
ASSET_PREFIX = "/dashboard"


def _serve(asset: Asset, request: Request) -> Response:
    headers = {**SECURITY_HEADERS, "ETag": asset.etag}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def mount(app: FastAPI) -> None:
    """Serve the dashboard from `app`: `GET /` is the page, `/dashboard/NAME` its files."""
    assets = load()
    index = assets["index.html"]

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def dashboard_index(request: Request) -> Response:
        return _serve(index, request)

    @app.api_route(f"{ASSET_PREFIX}/{{name}}", methods=["GET", "HEAD"], include_in_schema=False)
    def dashboard_asset(name: str, request: Request) -> Response:
        asset = assets.get(name)
        if asset is None:
            raise HTTPException(404, f"no dashboard file {name!r}")
        return _serve(asset, request)
