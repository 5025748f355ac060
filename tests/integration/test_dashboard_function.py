"""GET /dashboard and /dashboard/assets/{asset} through the real DashboardFunction handler."""

from __future__ import annotations

import re
from typing import Any

import pytest

from devstack.lambdas import FunctionRegistry
from devstack.template import LocalStack
from tests.conftest import load_event

ASSETS_RESOURCE = "/dashboard/assets/{asset}"
STRICT_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def _get(
    functions: FunctionRegistry, path: str, headers: dict[str, str] | None = None, **params: str
) -> dict[str, Any]:
    event = load_event("dashboard/page.json" if not params else "dashboard/asset.json")
    resource = ASSETS_RESOURCE if params else path
    event.update(path=path, resource=resource, pathParameters=params or None)
    event["requestContext"]["resourcePath"] = resource
    if headers:
        event["headers"] = {**(event.get("headers") or {}), **headers}
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    response: dict[str, Any] = functions.invoke("DashboardFunction", event)
    response["headers"] = {k: ", ".join(v) for k, v in response["multiValueHeaders"].items()}
    return response


def _asset(functions: FunctionRegistry, name: str, **headers: str) -> dict[str, Any]:
    return _get(functions, f"/dashboard/assets/{name}", headers or None, asset=name)


def _assert_security_headers(headers: dict[str, str]) -> None:
    assert headers["Content-Security-Policy"] == STRICT_POLICY
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"]
    assert headers["ETag"].startswith('"')


def test_the_shell_is_html_under_the_strict_policy_with_no_inline_script_or_style(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    response = _get(functions, "/dashboard")
    assert response["statusCode"] == 200
    headers = response["headers"]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    _assert_security_headers(headers)
    assert headers["Cache-Control"] == "no-cache"
    page = response["body"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    assert scripts, "the shell loads its app"
    assert all('src="dashboard/assets/' in attrs and not body.strip() for attrs, body in scripts)
    assert 'type="module"' in scripts[0][0]
    assert "<style" not in page
    assert not re.search(r"\sstyle\s*=", page)
    assert not re.search(r"\son[a-z]+\s*=", page)  # no inline event handlers
    assert "http" not in page  # every asset from this API: no CDN


def test_every_file_the_shell_and_the_modules_name_is_served(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    from functions.dashboard.app import ASSETS

    page = _get(functions, "/dashboard")["body"]
    named = set(re.findall(r'dashboard/assets/([^"]+)"', page))
    for name in [n for n in ASSETS if n.endswith(".js") and n != "chart.umd.js"]:
        body = _asset(functions, name)["body"]
        named |= set(re.findall(r'from "\./([^"]+)"', body))
        named |= set(re.findall(r'import\("\./([^"]+)"\)', body))
        named |= set(re.findall(r'new URL\("([^"./][^"]*)", import\.meta\.url\)', body))
    assert named <= set(ASSETS), named - set(ASSETS)
    assert {"app.js", "dashboard.css", "chart.umd.js", "view-payment.js"} <= named


@pytest.mark.parametrize(
    ("asset", "kind", "marker"),
    [
        ("app.js", "text/javascript", "ROUTES"),
        ("dom.js", "text/javascript", "createTextNode"),
        ("view-payments.js", "text/javascript", "export async function render"),
        ("view-admin.js", "text/javascript", "v1/admin/tenants"),
        ("dashboard.css", "text/css", ':root[data-theme="dark"]'),
        ("icon.svg", "image/svg+xml", "<svg"),
        ("chart.umd.js", "text/javascript", "Chart.js v4."),
    ],
)
def test_assets_are_served_with_their_type_and_the_policy(
    aws: LocalStack, functions: FunctionRegistry, asset: str, kind: str, marker: str
) -> None:
    response = _asset(functions, asset)
    assert response["statusCode"] == 200, response["body"][:300]
    assert response["headers"]["Content-Type"].startswith(kind)
    _assert_security_headers(response["headers"])
    assert response["headers"]["Cache-Control"] == "public, max-age=300"
    assert marker in response["body"]


def test_the_chart_library_is_the_pinned_chart_js_build(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    import json
    from pathlib import Path

    lock = json.loads(
        (Path(__file__).parents[2] / "functions/dashboard/package-lock.json").read_text()
    )
    pinned = lock["packages"]["node_modules/chart.js"]["version"]
    assert pinned.startswith("4.")
    body = _asset(functions, "chart.umd.js")["body"]
    assert f"Chart.js v{pinned}" in body[:200]
    assert len(body) > 100_000  # the library itself, not a stub


def test_a_matching_etag_answers_304_without_a_body(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    first = _asset(functions, "dashboard.css")
    again = _asset(functions, "dashboard.css", **{"If-None-Match": first["headers"]["ETag"]})
    assert again["statusCode"] == 304
    assert again["body"] == ""
    stale = _asset(functions, "dashboard.css", **{"If-None-Match": '"stale"'})
    assert stale["statusCode"] == 200


def test_an_unknown_asset_is_refused_without_a_file_read(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    for name in ("../app.py", "app.py", "index.html", "package.json", "%2e%2e%2fapp.py", "x" * 500):
        response = _asset(functions, name)
        assert response["statusCode"] in {400, 404}, name
        assert "import" not in response["body"]
        assert response["headers"]["Content-Type"] == "application/json"
