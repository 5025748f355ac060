"""The one error mapping: every client mistake is a specific 4xx, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from payments.errors import PaymentsError
from payments.http import create_resolver, tenant_id_of
from payments.money import Money
from tests.conftest import load_event


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=10)
    amount: int


app = create_resolver()


@app.post("/v1/things")
def create_thing(body: _Body) -> dict[str, Any]:
    return {"tenant": tenant_id_of(app), "name": body.name}


@app.get("/v1/boom")
def boom() -> dict[str, Any]:
    raise RuntimeError("secret internals: sk_live_123 table payments-prod")


@app.get("/v1/money")
def money() -> dict[str, Any]:
    Money.from_decimal_string("1.234", "USD")
    return {}


@app.get("/v1/conflict")
def conflict() -> dict[str, Any]:
    raise PaymentsError("already done", code="already_done", status=409)


def _call(method: str, path: str, body: str | None = None, tenant: str | None = "ten_1") -> Any:
    event = load_event("status/get_payment.json")
    event.update(httpMethod=method, path=path, resource=path, body=body, pathParameters=None)
    event["headers"]["Content-Type"] = "application/json"
    if tenant is None:
        event["requestContext"].pop("authorizer")
    else:
        event["requestContext"]["authorizer"]["tenant_id"] = tenant
    response = app.resolve(event, None)  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


def test_valid_request_reaches_the_route_with_the_authorizers_tenant() -> None:
    status, body = _call("POST", "/v1/things", json.dumps({"name": "a", "amount": 1}))
    assert (status, body) == (200, {"tenant": "ten_1", "name": "a"})


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "invalid_json"),
        (json.dumps({"name": "a"}), 422, "missing_field"),
        (json.dumps({"name": "a", "amount": 1, "admin": True}), 422, "unknown_field"),
        (json.dumps({"name": "a" * 11, "amount": 1}), 422, "value_too_long"),
        (json.dumps({"name": "a", "amount": "lots"}), 422, "invalid_type"),
    ],
)
def test_bad_bodies_get_a_specific_code(body: str, status: int, code: str) -> None:
    got_status, got = _call("POST", "/v1/things", body)
    assert got_status == status
    assert got["error"]["code"] == code
    assert got["error"]["message"]


def test_missing_tenant_context_is_401_not_500() -> None:
    status, body = _call("POST", "/v1/things", json.dumps({"name": "a", "amount": 1}), None)
    assert (status, body["error"]["code"]) == (401, "unauthorized")


def test_unknown_route_is_a_json_404() -> None:
    status, body = _call("GET", "/v1/nothing-here")
    assert (status, body["error"]["code"]) == (404, "route_not_found")


def test_money_errors_keep_their_code() -> None:
    status, body = _call("GET", "/v1/money")
    assert (status, body["error"]["code"]) == (422, "too_many_decimals")


def test_api_errors_choose_status_and_code() -> None:
    assert _call("GET", "/v1/conflict") == (
        409,
        {"error": {"code": "already_done", "message": "already done"}},
    )


def test_unexpected_errors_are_500_with_a_correlation_id_and_no_internals() -> None:
    status, body = _call("GET", "/v1/boom")
    assert status == 500
    error = body["error"]
    assert error["code"] == "internal_error"
    assert error["correlation_id"] == "0f2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"
    text = json.dumps(body)
    assert "sk_live" not in text
    assert "payments-prod" not in text
    assert "RuntimeError" not in text
