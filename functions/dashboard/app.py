"""GET /dashboard and GET /dashboard/assets/{asset}: the merchants' and operators' dashboard.

A single page (static/index.html) whose ES modules call this same API with the key the person
signs in with (kept in sessionStorage, sent as a bearer header). This function holds no key and
reads no AWS resource: it only serves files packaged beside it, from an allow-list, under a
strict Content-Security-Policy (no inline script or style anywhere; docs/dashboard.md).

The chart library is Chart.js's UMD build, installed from the npm registry by the build
(`npm ci` against the committed package-lock.json) and copied into static/ by the Makefile; in
the devstack and the tests it is read from node_modules/ beside this file.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.errors import NotFoundError
from payments.http import api_responses, create_resolver
from payments.observability import observed

app = create_resolver()

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
CHART_LIBRARY = "chart.umd.js"
# Where `npm ci` puts it before the build copies it into static/.
CHART_LIBRARY_SOURCE = HERE / "node_modules" / "chart.js" / "dist" / CHART_LIBRARY

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
JAVASCRIPT = "text/javascript; charset=utf-8"
# Every file the page may load: name -> content type. Anything else is a 404 without a read.
ASSETS: dict[str, str] = {
    "app.js": JAVASCRIPT,
    "api.js": JAVASCRIPT,
    "dom.js": JAVASCRIPT,
    "format.js": JAVASCRIPT,
    "currencies.js": JAVASCRIPT,
    "ui.js": JAVASCRIPT,
    "charts.js": JAVASCRIPT,
    "view-signin.js": JAVASCRIPT,
    "view-payments.js": JAVASCRIPT,
    "view-payment.js": JAVASCRIPT,
    "view-webhooks.js": JAVASCRIPT,
    "view-callbacks.js": JAVASCRIPT,
    "view-providers.js": JAVASCRIPT,
    "view-profiles.js": JAVASCRIPT,
    "view-reports.js": JAVASCRIPT,
    "view-admin.js": JAVASCRIPT,
    CHART_LIBRARY: JAVASCRIPT,
    "dashboard.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
ASSET_NAMES = "|".join(name.replace(".", r"\.") for name in ASSETS)


def _file(name: str) -> Path:
    packaged = STATIC / name
    if name == CHART_LIBRARY and not packaged.is_file():
        return CHART_LIBRARY_SOURCE
    return packaged


@cache
def _read(name: str) -> tuple[str, str]:
    """The file's text and its ETag (the page's files change only with a deployment)."""
    text = _file(name).read_text(encoding="utf-8")
    return text, '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def _headers(cache_control: str, etag: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": cache_control,
        "ETag": etag,
    }


def _answer(name: str, content_type: str, cache_control: str) -> Response[str]:
    body, etag = _read(name)
    headers = _headers(cache_control, etag)
    if app.current_event.headers.get("if-none-match") == etag:
        return Response(304, content_type, "", headers=headers)
    return Response(200, content_type, body, headers=headers)


TEXT = {"type": "string"}


@app.get(
    "/dashboard",
    summary="The dashboard (a single page; sign in with an API key or an operator key)",
    description=(
        "The HTML shell of the dashboard: its scripts and styles come from "
        "/dashboard/assets/, and it calls this API with the key the person signs in with "
        "(docs/dashboard.md). No inline script or style; a strict Content-Security-Policy."
    ),
    tags=["dashboard"],
    responses=api_responses(200, None, "The page", 500, media={"text/html": TEXT}),
)
def dashboard_page() -> Response[str]:
    # Revalidated on every load: it names the assets, which change with a deployment.
    return _answer("index.html", "text/html; charset=utf-8", "no-cache")


@app.get(
    "/dashboard/assets/<asset>",
    summary="The dashboard's scripts, styles, icon and chart library",
    tags=["dashboard"],
    responses=api_responses(
        200,
        None,
        "The file",
        400,
        404,
        500,
        media={"text/javascript": TEXT, "text/css": TEXT, "image/svg+xml": TEXT},
    ),
)
def dashboard_asset(
    asset: Annotated[
        str,
        PathParam(
            max_length=64,
            pattern=rf"^({ASSET_NAMES})$",
            description="One of the dashboard's files (an allow-list)",
        ),
    ],
) -> Response[str]:
    content_type = ASSETS.get(asset)
    if content_type is None:  # the pattern already refuses it; never a file read
        raise NotFoundError("no such dashboard file", code="asset_not_found")
    return _answer(asset, content_type, "public, max-age=300")


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
