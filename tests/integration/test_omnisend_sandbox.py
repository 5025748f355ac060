"""The Omnisend sandbox over real HTTP on 127.0.0.1: auth, validation, dedupe, failures, limits."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from devstack.sandboxes.omnisend import OmnisendSandbox, is_rfc3339

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def sandbox() -> Iterator[OmnisendSandbox]:
    with OmnisendSandbox() as running:
        yield running


@pytest.fixture
def api_key(sandbox: OmnisendSandbox) -> str:
    return sandbox.register_brand()


def event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "eventName": "Payment Receipt",
        "origin": "api",
        "contact": {"email": "ann@example.com"},
        "properties": {"amount": 4500, "currency": "USD"},
        "eventID": str(uuid.uuid4()),
        "eventTime": "2026-11-23T04:27:11.487Z",
    }
    body.update(overrides)
    return body


def post(
    sandbox: OmnisendSandbox,
    key: str | None,
    body: Any,
    content_type: str = "application/json",
) -> requests.Response:
    headers = {"Content-Type": content_type}
    if key is not None:
        headers["X-API-KEY"] = key
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{sandbox.base_url}/v5/events", data=data, headers=headers, timeout=5)


def assert_problem(response: requests.Response, status: int, title: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["Content-Type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["title"] == title
    assert problem["type"] == "about:blank"
    assert isinstance(problem["detail"], str)
    assert problem["detail"]
    return problem


# --------------------------------------------------------------------------- happy path


def test_accepted_event_is_recorded_with_headers_and_time(
    sandbox: OmnisendSandbox, api_key: str
) -> None:
    body = event(eventName="Security Token Trade Success")
    response = post(sandbox, api_key, body, "application/json; charset=utf-8")

    assert response.status_code == 202
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {}
    [recorded] = sandbox.events(api_key)
    assert recorded["body"] == body
    assert recorded["event_id"] == body["eventID"]
    assert recorded["brand_id"] == sandbox.brand_id(api_key)
    assert recorded["headers"]["content-type"] == "application/json; charset=utf-8"
    assert api_key not in str(recorded)  # the key is masked in the recorded headers
    assert recorded["headers"]["x-api-key"].startswith("****")
    assert is_rfc3339(recorded["received_at"])
    assert recorded["times_received"] == 1


def test_properties_are_optional_and_offsets_are_accepted(
    sandbox: OmnisendSandbox, api_key: str
) -> None:
    body = event(eventTime="2026-11-23T07:27:11+03:00")
    del body["properties"]
    assert post(sandbox, api_key, body).status_code == 202


def test_brands_are_separate(sandbox: OmnisendSandbox, api_key: str) -> None:
    other = sandbox.register_brand("my-own-key-0000000000")
    assert other == "my-own-key-0000000000"
    assert sandbox.register_brand(other) == other  # idempotent
    shared_id = str(uuid.uuid4())
    assert post(sandbox, api_key, event(eventID=shared_id)).status_code == 202
    assert post(sandbox, other, event(eventID=shared_id)).status_code == 202

    assert len(sandbox.events(api_key)) == 1
    assert len(sandbox.events(other)) == 1
    assert len(sandbox.events()) == 2
    assert sandbox.events("not-a-brand") == []


def test_duplicate_event_id_is_accepted_but_recorded_once(
    sandbox: OmnisendSandbox, api_key: str
) -> None:
    body = event()
    assert post(sandbox, api_key, body).status_code == 202
    retry = post(sandbox, api_key, {**body, "properties": {"changed": True}})
    assert retry.status_code == 202
    assert retry.json() == {}

    [recorded] = sandbox.events(api_key)
    assert recorded["body"] == body  # the first one wins
    assert recorded["times_received"] == 2


# --------------------------------------------------------------------------- authentication


@pytest.mark.parametrize("key", [None, "", "not-registered-key-123456"])
def test_missing_or_unknown_key_is_401_without_echoing_it(
    sandbox: OmnisendSandbox, key: str | None
) -> None:
    response = post(sandbox, key, event())
    assert_problem(response, 401, "Unauthorized")
    if key:
        assert key not in response.text
    assert sandbox.events() == []


# --------------------------------------------------------------------------- validation


def test_wrong_content_type_is_415(sandbox: OmnisendSandbox, api_key: str) -> None:
    response = post(sandbox, api_key, event(), content_type="text/plain")
    assert_problem(response, 415, "Unsupported Media Type")
    assert sandbox.events() == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
def test_body_must_be_a_json_object(sandbox: OmnisendSandbox, api_key: str, body: bytes) -> None:
    assert_problem(post(sandbox, api_key, body), 400, "Bad Request")


def _without(name: str) -> dict[str, Any]:
    body = event()
    del body[name]
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_without("eventName"), "eventName"),
        (event(eventName=""), "eventName"),
        (event(eventName="   "), "eventName"),
        (event(eventName=7), "eventName"),
        (_without("origin"), "origin"),
        (event(origin="web"), "origin"),
        (_without("contact"), "contact"),
        (event(contact="ann@example.com"), "contact"),
        (event(contact={}), "contact.email"),
        (event(contact={"email": "not-an-email"}), "contact.email"),
        (event(contact={"email": "ann@example"}), "contact.email"),
        (event(contact={"email": 5}), "contact.email"),
        (event(properties=[1, 2]), "properties"),
        (event(properties="x"), "properties"),
        (_without("eventID"), "eventID"),
        (event(eventID="evt_123"), "eventID"),
        (event(eventID=str(uuid.uuid4()).replace("-", "")), "eventID"),
        (event(eventID=12345), "eventID"),
        (_without("eventTime"), "eventTime"),
        (event(eventTime="2026-11-23"), "eventTime"),
        (event(eventTime="2026-11-23T04:27:11"), "eventTime"),  # no offset
        (event(eventTime="2026-13-23T04:27:11Z"), "eventTime"),  # no such month
        (event(eventTime=1732336031), "eventTime"),
        (event(eventname="typo"), "eventname"),
    ],
)
def test_each_field_is_validated_by_name(
    sandbox: OmnisendSandbox, api_key: str, body: dict[str, Any], field: str
) -> None:
    problem = assert_problem(post(sandbox, api_key, body), 400, "Bad Request")
    assert problem["field"] == field
    assert field in problem["detail"]
    assert sandbox.events() == []


# --------------------------------------------------------------------------- failures and limits


def test_fail_next_answers_429_with_retry_after_then_recovers(
    sandbox: OmnisendSandbox, api_key: str
) -> None:
    sandbox.fail_next(2, retry_after=3)
    body = event()
    for _ in range(2):
        response = post(sandbox, api_key, body)
        problem = assert_problem(response, 429, "Too Many Requests")
        assert response.headers["Retry-After"] == "3"
        assert set(problem) == {"type", "title", "status", "detail"}
        assert sandbox.events() == []

    assert post(sandbox, api_key, body).status_code == 202
    assert len(sandbox.events(api_key)) == 1


def test_fail_next_with_another_status_and_no_retry_after(
    sandbox: OmnisendSandbox, api_key: str
) -> None:
    sandbox.fail_next(1, status=503, retry_after=None)
    response = post(sandbox, api_key, event())
    assert_problem(response, 503, "Service Unavailable")
    assert "Retry-After" not in response.headers
    assert post(sandbox, api_key, event()).status_code == 202


def test_rate_limit_per_brand_with_retry_after() -> None:
    with OmnisendSandbox(rate_limit=3, rate_window_seconds=1.0) as sandbox:
        busy, quiet = sandbox.register_brand(), sandbox.register_brand()
        for _ in range(3):
            assert post(sandbox, busy, event()).status_code == 202
        limited = post(sandbox, busy, event())
        problem = assert_problem(limited, 429, "Too Many Requests")
        assert "rate limit" in problem["detail"]
        assert limited.headers["Retry-After"] == "1"
        assert post(sandbox, quiet, event()).status_code == 202  # another brand is unaffected
        assert len(sandbox.events(busy)) == 3

        time.sleep(1.05)  # the window slides on
        assert post(sandbox, busy, event()).status_code == 202


def test_default_rate_limit_is_omnisends() -> None:
    sandbox = OmnisendSandbox()
    assert (sandbox.rate_limit, sandbox.rate_window_seconds) == (400, 60.0)


# --------------------------------------------------------------------------- admin over HTTP


def test_admin_endpoints(sandbox: OmnisendSandbox) -> None:
    created = requests.post(f"{sandbox.base_url}/_sandbox/brands", json={}, timeout=5)
    assert created.status_code == 201
    key = created.json()["api_key"]
    assert created.json()["brand_id"] == sandbox.brand_id(key)
    chosen = requests.post(
        f"{sandbox.base_url}/_sandbox/brands", json={"api_key": "chosen-key-000000"}, timeout=5
    )
    assert chosen.json()["api_key"] == "chosen-key-000000"

    failing = requests.post(
        f"{sandbox.base_url}/_sandbox/fail_next",
        json={"count": 1, "status": 429, "retry_after": 7},
        timeout=5,
    )
    assert failing.status_code == 200
    first = post(sandbox, key, event())
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "7"
    body = event()
    assert post(sandbox, key, body).status_code == 202
    assert post(sandbox, "chosen-key-000000", event()).status_code == 202

    mine = requests.get(f"{sandbox.base_url}/_sandbox/events", params={"api_key": key}, timeout=5)
    assert [item["body"] for item in mine.json()["data"]] == [body]
    everyone = requests.get(f"{sandbox.base_url}/_sandbox/events", timeout=5)
    assert len(everyone.json()["data"]) == 2

    bad = requests.post(f"{sandbox.base_url}/_sandbox/fail_next", json={"count": "x"}, timeout=5)
    assert_problem(bad, 400, "Bad Request")


def test_unknown_routes_and_methods(sandbox: OmnisendSandbox, api_key: str) -> None:
    missing = requests.get(f"{sandbox.base_url}/v3/events", timeout=5)
    assert_problem(missing, 404, "Not Found")
    wrong = requests.get(f"{sandbox.base_url}/v5/events", headers={"X-API-KEY": api_key}, timeout=5)
    assert_problem(wrong, 405, "Method Not Allowed")
    assert wrong.headers["Allow"] == "POST"


def test_concurrent_duplicates_are_recorded_once(sandbox: OmnisendSandbox, api_key: str) -> None:
    body = event()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: post(sandbox, api_key, body).status_code, range(16)))
    assert statuses == [202] * 16
    [recorded] = sandbox.events(api_key)
    assert recorded["times_received"] == 16
