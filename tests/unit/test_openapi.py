"""The committed OpenAPI document is the code's own: generated from the handlers, never edited."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.template import LocalStack, load_template
from scripts import openapi

COMMITTED = json.loads(openapi.OUTPUT.read_text(encoding="utf-8"))
WRITE_ROUTES = {("post", "/v1/checkout"), ("post", "/v1/payments/{payment_id}/refunds")}


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return openapi.generate()


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_the_committed_document_is_the_generated_one(generated: dict[str, Any]) -> None:
    assert openapi.render(generated) == openapi.OUTPUT.read_text(encoding="utf-8"), (
        "docs/openapi.json is out of date: run `make openapi`"
    )


def test_every_deployed_route_is_documented_and_nothing_else() -> None:
    deployed = {(r.method.lower(), r.path) for r in LocalStack(load_template()).api_routes()}
    assert set(_operations(COMMITTED)) == deployed


def test_the_document_is_openapi_3_1_with_the_bearer_scheme() -> None:
    assert COMMITTED["openapi"] == "3.1.0"
    scheme = COMMITTED["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert COMMITTED["security"] == [{"apiKey": []}]
    open_paths = {
        "/v1/health",
        "/v1/openapi.json",
        "/v1/docs",
        "/v1/docs/{asset}",
        "/dashboard",
        "/dashboard/assets/{asset}",
    }
    for (_, path), operation in _operations(COMMITTED).items():
        assert (operation.get("security") == []) == (path in open_paths), path


def test_every_json_answer_is_typed_and_every_error_has_our_shape() -> None:
    schemas = COMMITTED["components"]["schemas"]
    for (method, path), operation in _operations(COMMITTED).items():
        for status, response in operation["responses"].items():
            content = response.get("content", {})
            if status.startswith(("4", "5")):
                assert content["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorBody"
                }, (method, path, status)
            elif "application/json" in content and path != "/v1/openapi.json":
                reference = content["application/json"]["schema"]["$ref"]
                model = schemas[reference.rsplit("/", 1)[1]]
                assert model["type"] == "object"
                assert model["additionalProperties"] is False, (method, path)
                assert model["properties"], (method, path)
    assert set(schemas["ErrorBody"]["properties"]) == {"error"}
    assert {"code", "message"} <= set(schemas["ErrorInfo"]["required"])


def test_authorized_routes_document_auth_and_rate_limit_errors() -> None:
    for key, operation in _operations(COMMITTED).items():
        if operation.get("security") == []:
            continue
        assert {"401", "403", "429", "500"} <= set(operation["responses"]), key
        assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_writes_require_the_idempotency_key_and_bodies_document_their_refusals() -> None:
    operations = _operations(COMMITTED)
    for key in WRITE_ROUTES:
        [header] = [p for p in operations[key]["parameters"] if p["in"] == "header"]
        assert (header["name"], header["required"]) == ("Idempotency-Key", True)
        assert header["schema"]["maxLength"] == 255
    for key, operation in operations.items():
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= set(operation["responses"]), key


def test_optional_fields_are_not_nullable_in_the_contract() -> None:
    refund = COMMITTED["components"]["schemas"]["RefundBody"]
    assert refund["properties"]["amount"]["type"] == "integer"
    assert "default" not in refund["properties"]["amount"]
    assert "required" not in refund
    text = json.dumps(COMMITTED["components"]["schemas"]["CheckoutBody"])
    assert '"type": "null"' not in text


def test_both_webhook_kinds_are_documented_with_their_signature_headers() -> None:
    webhooks = COMMITTED["webhooks"]
    stripe_headers = {p["name"] for p in webhooks["stripe"]["post"]["parameters"]}
    assert "Stripe-Signature" in stripe_headers
    callback_headers = {p["name"] for p in webhooks["payment-event"]["post"]["parameters"]}
    assert callback_headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    data = webhooks["payment-event"]["post"]["requestBody"]["content"]["application/json"]
    assert data["schema"]["properties"]["data"]["properties"]["payment"] == {
        "$ref": "#/components/schemas/PaymentView"
    }
