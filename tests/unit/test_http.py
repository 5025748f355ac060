"""The one error mapping: every client mistake is a specific 4xx, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from payments.errors import PaymentsError
from payments.http import (
    MAX_JSON_BODY_BYTES,
    MAX_JSON_DEPTH,
    IdempotencyKey,
    Omittable,
    create_resolver,
    json_depth,
    tenant_id_of,
)
from payments.money import Money
from tests.conftest import load_event


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(pattern=r"^[^@]+@[^@]+$", description="an e-mail address, a@b.co")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=10)
    amount: StrictInt = Field(description="an integer in minor units, e.g. 4500 for 45.00")
    note: Omittable[str] = None
    who: Omittable[_Inner] = None
    tags: Omittable[list[int]] = None


app = create_resolver()


@app.post("/v1/things")
def create_thing(body: _Body) -> dict[str, Any]:
    return {"tenant": tenant_id_of(app), "name": body.name}


@app.post("/v1/keyed")
def keyed(idempotency_key: IdempotencyKey) -> dict[str, Any]:
    return {"key": idempotency_key}


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


def _call(
    method: str,
    path: str,
    body: str | None = None,
    tenant: str | None = "ten_1",
    *,
    headers: dict[str, str] | None = None,
    base64_body: bytes | None = None,
) -> Any:
    event = load_event("status/get_payment.json")
    event.update(httpMethod=method, path=path, resource=path, body=body, pathParameters=None)
    given = {"Content-Type": "application/json"} if headers is None else headers
    event["headers"] = {"Accept": "application/json", **given}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    if base64_body is not None:
        event.update(body=base64.b64encode(base64_body).decode(), isBase64Encoded=True)
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


VALID = json.dumps({"name": "a", "amount": 1})


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "*/*",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "",
        "application/jsonx",
    ],
)
def test_a_body_not_sent_as_json_is_415(content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    status, body = _call("POST", "/v1/things", VALID, headers=headers)
    assert (status, body["error"]["code"]) == (415, "unsupported_media_type")
    assert "application/json" in body["error"]["message"]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "Application/JSON; charset=UTF-8", "application/merge-patch+json"],
)
def test_json_media_types_are_accepted(content_type: str) -> None:
    status, _ = _call("POST", "/v1/things", VALID, headers={"content-type": content_type})
    assert status == 200


def test_a_body_that_is_not_utf8_is_400() -> None:
    status, body = _call("POST", "/v1/things", base64_body=b'{"name": "\xff\xfe", "amount": 1}')
    assert (status, body["error"]["code"]) == (400, "invalid_encoding")


def test_a_base64_body_that_does_not_decode_is_400() -> None:
    event_body = "not base64!!"
    event = load_event("status/get_payment.json")
    event.update(httpMethod="POST", path="/v1/things", body=event_body, isBase64Encoded=True)
    event["headers"]["Content-Type"] = "application/json"
    response = app.resolve(event, None)  # type: ignore[arg-type]
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "invalid_encoding"


def test_a_valid_base64_json_body_reaches_the_route() -> None:
    status, body = _call("POST", "/v1/things", base64_body=VALID.encode())
    assert (status, body["name"]) == (200, "a")


def test_nesting_beyond_the_limit_is_400_and_at_the_limit_is_parsed() -> None:
    too_deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    status, body = _call("POST", "/v1/things", too_deep)
    assert (status, body["error"]["code"]) == (400, "nesting_too_deep")
    very_deep = "[" * 100_000 + "]" * 100_000  # would exhaust a recursive parser
    status, body = _call("POST", "/v1/things", very_deep)
    assert status == 413 or (status, body["error"]["code"]) == (400, "nesting_too_deep")
    at_limit = json.dumps({"name": "a", "amount": 1, "tags": [1]})
    assert json_depth(at_limit) == 2
    assert _call("POST", "/v1/things", at_limit)[0] == 200


def test_json_depth_ignores_brackets_inside_strings() -> None:
    assert json_depth(json.dumps({"a": "[[[[{{{{", "b": ['\\"[', {"c": 1}]})) == 3


def test_a_body_over_the_limit_is_413() -> None:
    big = json.dumps({"name": "a", "amount": 1, "note": "x" * MAX_JSON_BODY_BYTES})
    status, body = _call("POST", "/v1/things", big)
    assert (status, body["error"]["code"]) == (413, "payload_too_large")


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "a", "amount": ' + "9" * 5000 + "}",  # beyond Python's int digit limit
        '{"name": "a", "amount": NaN}',
        '{"name": "a", "amount": Infinity}',
        '{"name": "a", "amount": 1',
        "\ufeff" + VALID,
        '{"name": "a", "amount": 1} trailing',
    ],
)
def test_json_that_a_strict_parser_refuses_is_400(text: str) -> None:
    status, body = _call("POST", "/v1/things", text)
    assert (status, body["error"]["code"]) == (400, "invalid_json")


def test_an_absent_body_is_an_empty_object_judged_by_the_schema() -> None:
    for empty in (None, ""):
        status, body = _call("POST", "/v1/things", empty, headers={})
        assert (status, body["error"]["code"]) == (422, "missing_field")
        assert {d["field"] for d in body["error"]["details"]} == {"name", "amount"}


def test_null_is_never_a_silent_default() -> None:
    for field in ("note", "who", "tags"):
        status, body = _call(
            "POST", "/v1/things", json.dumps({"name": "a", "amount": 1, field: None})
        )
        assert (status, body["error"]["code"]) == (422, "null_not_allowed"), field
        assert body["error"]["details"][0]["field"] == field
    omitted = _call("POST", "/v1/things", VALID)
    assert omitted[0] == 200


def test_messages_say_what_is_expected_and_fields_are_paths() -> None:
    status, body = _call("POST", "/v1/things", json.dumps({"name": "a", "amount": "45.00"}))
    assert (status, body["error"]["code"]) == (422, "invalid_type")
    assert "integer in minor units, e.g. 4500 for 45.00" in body["error"]["message"]
    [detail] = body["error"]["details"]
    assert detail["field"] == "amount"
    assert "4500" in detail["message"]

    status, body = _call(
        "POST", "/v1/things", json.dumps({"name": "a", "amount": 1, "who": {"email": "nope"}})
    )
    assert body["error"]["details"][0]["field"] == "who.email"
    assert "an e-mail address" in body["error"]["message"]

    status, body = _call(
        "POST", "/v1/things", json.dumps({"name": "a", "amount": 1, "tags": [1, "x"]})
    )
    assert body["error"]["details"][0]["field"] == "tags[1]"


def test_invalid_json_points_at_the_body_not_at_a_character_offset() -> None:
    status, body = _call("POST", "/v1/things", '{"name": "a", "amount": 1,}')
    assert (status, body["error"]["code"]) == (400, "invalid_json")
    assert all(d["field"] == "body" for d in body["error"].get("details", []))


@pytest.mark.parametrize("name", ["Idempotency-Key", "idempotency-key", "IDEMPOTENCY-KEY"])
def test_the_idempotency_header_is_found_whatever_its_case(name: str) -> None:
    status, body = _call(
        "POST", "/v1/keyed", "{}", headers={"Content-Type": "application/json", name: "k-1"}
    )
    assert (status, body) == (200, {"key": "k-1"})


@pytest.mark.parametrize(
    ("value", "code"),
    [(None, "idempotency_key_required"), ("", "idempotency_key_required"),
     ("has space", "invalid_idempotency_key"), ("x" * 256, "invalid_idempotency_key"),
     ("caf\u00e9", "invalid_idempotency_key")],
)  # fmt: skip
def test_a_missing_or_bad_idempotency_key_is_400_with_its_code(
    value: str | None, code: str
) -> None:
    headers = {"Content-Type": "application/json"}
    if value is not None:
        headers["Idempotency-Key"] = value
    status, body = _call("POST", "/v1/keyed", "{}", headers=headers)
    assert (status, body["error"]["code"]) == (400, code)
