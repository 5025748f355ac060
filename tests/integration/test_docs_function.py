"""GET /v1/openapi.json and /v1/docs through the real DocsFunction handler."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import pytest

from devstack.lambdas import FunctionRegistry
from devstack.template import LocalStack
from scripts.openapi import OUTPUT
from tests.conftest import load_event


def _get(functions: FunctionRegistry, path: str, **path_parameters: str) -> dict[str, Any]:
    event = load_event("health/get.json")
    resource = "/v1/docs/{asset}" if path_parameters else path
    event.update(path=path, resource=resource, pathParameters=path_parameters or None)
    event["requestContext"]["resourcePath"] = resource
    response: dict[str, Any] = functions.invoke("DocsFunction", event)
    # REST proxy answers carry their headers in multiValueHeaders.
    response["headers"] = {k: ", ".join(v) for k, v in response["multiValueHeaders"].items()}
    return response


def test_the_document_served_is_the_committed_one(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    response = _get(functions, "/v1/openapi.json")
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == json.loads(OUTPUT.read_text(encoding="utf-8"))


def test_swagger_ui_has_a_strict_policy_and_no_inline_script(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    response = _get(functions, "/v1/docs")
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"].startswith("text/html")
    policy = response["headers"]["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    page = response["body"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    assert scripts
    assert all('src="' in attributes and not body.strip() for attributes, body in scripts)
    assert "http" not in page  # every asset from this API: no CDN


@pytest.mark.parametrize(
    ("asset", "kind", "marker"),
    [
        ("swagger-ui.js", "application/javascript", "SwaggerUIBundle"),
        ("swagger-ui.css", "text/css", ".swagger-ui"),
        ("init.js", "application/javascript", "openapi.json"),
    ],
)
def test_swagger_ui_assets_are_served_from_the_function(
    aws: LocalStack, functions: FunctionRegistry, asset: str, kind: str, marker: str
) -> None:
    response = _get(functions, f"/v1/docs/{asset}", asset=asset)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"].startswith(kind)
    assert marker in response["body"]


def test_an_unknown_asset_is_a_400_not_a_file_read(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    for name in ("../app.py", "openapi.json", "%2e%2e%2fapp.py", "x" * 5000):
        response = _get(functions, f"/v1/docs/{name}", asset=name)
        assert response["statusCode"] in {400, 404}  # 404: a path with "/" is another route
        assert "import" not in response["body"]


def test_concurrent_invocations_never_share_a_container(aws: LocalStack) -> None:
    """Lambda runs one request per container; the devstack must too (the resolver keeps the
    current request on its module), or concurrent tenants would see each other's requests."""
    functions = FunctionRegistry(aws)
    active: dict[int, int] = {}
    overlaps: list[int] = []
    lock = threading.Lock()
    original = functions._acquire

    def tracking(logical_id: str) -> Any:
        handler = original(logical_id)

        def run(event: dict[str, Any], context: Any) -> Any:
            with lock:
                active[id(handler)] = active.get(id(handler), 0) + 1
                if active[id(handler)] > 1:
                    overlaps.append(id(handler))
            time.sleep(0.02)
            try:
                return handler(event, context)
            finally:
                with lock:
                    active[id(handler)] -= 1

        return run

    functions._acquire = tracking  # type: ignore[method-assign]
    barrier = threading.Barrier(8)
    results: list[int] = []

    def call() -> None:
        barrier.wait()
        results.append(_get(functions, "/v1/docs")["statusCode"])

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 8
    assert overlaps == []
    assert 1 < functions.containers("DocsFunction") <= 8
