"""The API contract over real HTTP: schemathesis fuzzes every operation of docs/openapi.json
against the devstack, and hostile inputs it does not generate are sent by hand.

Whatever a client sends, the answer is a documented status with our error shape, never a 5xx.
New routes are fuzzed without anyone writing a test: the operations come from the document.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.conftest import ROOT
from tests.e2e.conftest import RunningDevStack

SPEC = ROOT / "docs" / "openapi.json"
DOCUMENT = json.loads(SPEC.read_text(encoding="utf-8"))
# Bounded and seeded: the same requests on every run, about a minute on this machine.
FUZZ_EXAMPLES = 25
FUZZ_SEED = 20261201
# API Gateway (REST) answers a method a path does not declare as a missing route (our 404),
# never 405: schemathesis' 405 expectation is not API Gateway's contract. The check that a
# schema-valid body is accepted does not hold for a payments API either: valid JSON for
# checkout may still name an unknown currency or an unreachable redirect (a 422 by design).
EXCLUDED_CHECKS = "unsupported_method,positive_data_acceptance"


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    api_key: str
    # The devstack's operator key: the operator routes (/v1/admin/...) refuse a tenant's key
    # with 403 before they read a request, so their screening is reached with this one only.
    operator_key: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def headers_for(self, path: str) -> dict[str, str]:
        """The tenant's key, or the operator key on an operator route."""
        if path.startswith("/v1/admin/"):
            return {"Authorization": f"Bearer {self.operator_key}"}
        return self.headers


@pytest.fixture(scope="module")
def tenant(devstack: RunningDevStack) -> Tenant:
    """A tenant of its own (no provider configured), so fuzzing touches no other test's data."""
    created = devstack.payctl("tenants", "create", "Fuzz Target")
    assert created.returncode == 0, created.stderr
    tenant_id = re.search(r"ten_[A-Za-z0-9]+", created.stdout)
    assert tenant_id, created.stdout
    issued = devstack.payctl("keys", "issue", tenant_id.group(0))
    assert issued.returncode == 0, issued.stderr
    key = re.search(r"pk_[A-Za-z0-9_\-]+", issued.stdout)
    assert key, issued.stdout
    # The fuzzer sends as fast as it can: its tenant gets a limit of its own (the per-tenant
    # override), so that it tests the routes rather than the usage plan's throttle.
    limited = devstack.payctl(
        "limits", "set", tenant_id.group(0), "--rate", "5000", "--burst", "5000"
    )
    assert limited.returncode == 0, limited.stderr
    return Tenant(tenant_id.group(0), key.group(0), devstack.info["operator_key"])


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def _assert_documented_error(
    response: requests.Response, operation: dict[str, Any], label: str
) -> dict[str, Any]:
    assert response.status_code < 500, (label, response.status_code, response.text[:300])
    assert str(response.status_code) in operation["responses"], (label, response.status_code)
    assert response.headers["Content-Type"].startswith("application/json"), label
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}, label
    assert body["error"]["code"], label
    assert body["error"]["message"], label
    return body


def test_schemathesis_finds_no_failure_on_any_operation(
    devstack: RunningDevStack, tenant: Tenant, tmp_path: Path
) -> None:
    report = tmp_path / "fuzz.junit.xml"
    result = subprocess.run(
        [
            str(ROOT / ".venv/bin/schemathesis"),
            "run",
            str(SPEC),
            "--url",
            devstack.base_url,
            "--header",
            f"Authorization: Bearer {tenant.api_key}",
            "--checks",
            "all",
            "--exclude-checks",
            EXCLUDED_CHECKS,
            "--phases",
            "examples,coverage,fuzzing",
            "--mode",
            "all",
            "--max-examples",
            str(FUZZ_EXAMPLES),
            "--seed",
            str(FUZZ_SEED),
            "--generation-database",
            "none",
            # One worker: hypothesis' lambda introspection is not thread-safe (a "Runtime Error"
            # in schemathesis' coverage phase with two).
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--no-color",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
    )
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary
    tested = re.search(r"Tested:\s+(\d+)", result.stdout)
    assert tested, summary
    assert int(tested.group(1)) == len(list(_operations())), summary
    assert report.exists(), summary


# --- what schemathesis does not send -------------------------------------------------------

BODY_OPERATIONS = [(m, p, o) for m, p, o in _operations() if "requestBody" in o]
CONTENT_TYPES = [
    "text/plain",
    "application/xml",
    "*/*",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=zzz",
    "application/json; charset=iso-8859-1",
    "text/json",
    "",
]


def _url(devstack: RunningDevStack, path: str) -> str:
    filled = re.sub(r"\{[^}]+\}", "pay_0000", path)
    return f"{devstack.base_url}{filled}"


def _write_headers(tenant: Tenant, path: str = "", **extra: str) -> dict[str, str]:
    return {**tenant.headers_for(path), "Idempotency-Key": "hostile-1", **extra}


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_every_body_route_refuses_a_body_not_sent_as_json_with_415(
    devstack: RunningDevStack, tenant: Tenant, content_type: str
) -> None:
    for method, path, operation in BODY_OPERATIONS:
        headers = _write_headers(tenant, path)
        if content_type:
            headers["Content-Type"] = content_type
        response = requests.request(
            method, _url(devstack, path), data=b'{"amount": 100}', headers=headers, timeout=30
        )
        body = _assert_documented_error(response, operation, f"{method} {path} {content_type}")
        assert (response.status_code, body["error"]["code"]) == (415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b'{"amount": "\xff\xfe\xfd"}', 400, "invalid_encoding"),
        (b"\xef\xbb\xbf" + b"{}", 400, "invalid_json"),  # a byte-order mark is not JSON
        (b"[" * 5000 + b"]" * 5000, 400, "nesting_too_deep"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, 400, "nesting_too_deep"),
        (b'{"amount": ' + b"9" * 6000 + b"}", 400, "invalid_json"),
        (b'{"amount": NaN}', 400, "invalid_json"),
        (b'{"amount": 1', 400, "invalid_json"),
        (b'{"amount": "' + b"x" * (70 * 1024) + b'"}', 413, "payload_too_large"),
    ],
    ids=["not-utf8", "bom", "deep-array", "deep-object", "huge-int", "nan", "truncated", "large"],
)
def test_every_body_route_refuses_bytes_that_are_not_a_json_body(
    devstack: RunningDevStack, tenant: Tenant, payload: bytes, status: int, code: str
) -> None:
    for method, path, operation in BODY_OPERATIONS:
        response = requests.request(
            method,
            _url(devstack, path),
            data=payload,
            headers=_write_headers(tenant, path, **{"Content-Type": "application/json"}),
            timeout=30,
        )
        body = _assert_documented_error(response, operation, f"{method} {path}")
        assert (response.status_code, body["error"]["code"]) == (status, code), (method, path)


HOSTILE_VALUES = [
    "../../etc/passwd",
    "..%2F..%2Fetc",
    "%00",
    "a\x00b",
    "\u202e\u0000\ud7ff",
    "ünïcødé-💳",
    "x" * 10_000,
    "' OR 1=1 --",
    "{{7*7}}",
    "#",
    " ",
]


def _hostile(value: str) -> str:
    return quote(value, safe="")


def test_every_path_parameter_refuses_hostile_values_with_a_4xx(
    devstack: RunningDevStack, tenant: Tenant
) -> None:
    for method, path, operation in _operations():
        names = re.findall(r"\{([^}]+)\}", path)
        if not names:
            continue
        for value in HOSTILE_VALUES:
            url = devstack.base_url + re.sub(r"\{[^}]+\}", _hostile(value), path)
            headers = _write_headers(tenant, path, **{"Content-Type": "application/json"})
            response = requests.request(method, url, data=b"{}", headers=headers, timeout=30)
            label = f"{method} {path} {value[:20]!r}"
            # 404: a value with "/" (after API Gateway's decoding) is another route.
            if response.status_code == 404:
                assert response.json()["error"]["code"] in {
                    "route_not_found",
                    "payment_not_found",
                    "endpoint_not_found",
                    "delivery_not_found",
                    "unknown_provider",
                    "inbox_entry_not_found",
                    "profile_not_found",
                    "trade_not_found",
                }, label
                continue
            _assert_documented_error(response, operation, label)
            assert response.status_code in {400, 413, 414}, label


def test_every_query_parameter_refuses_hostile_values_with_a_4xx(
    devstack: RunningDevStack, tenant: Tenant
) -> None:
    for method, path, operation in _operations():
        query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        if not query:
            continue
        valid = {p["name"]: "bk_1" if p["schema"].get("type") == "string" else "1" for p in query}
        valid.pop("cursor", None)
        for parameter in query:
            for value in [*HOSTILE_VALUES, "-1", "1e3", "0x10", "99999999999999999999"]:
                params = {**valid, parameter["name"]: value}
                response = requests.request(
                    method,
                    _url(devstack, path),
                    params=params,
                    headers=tenant.headers_for(path),
                    timeout=30,
                )
                label = f"{method} {path} ?{parameter['name']}={value[:20]!r}"
                if response.status_code == 200:
                    # A value the schema allows (an integer limit, a plain id) may pass.
                    continue
                body = _assert_documented_error(response, operation, label)
                assert response.status_code == 400, (label, body)


def test_every_edit_of_a_cursor_over_http_is_400_invalid_cursor(
    devstack: RunningDevStack, tenant: Tenant
) -> None:
    """A real cursor from the demo tenant's list, edited in every field."""
    from tests.integration.test_api_handlers import _edited_cursors

    key = devstack.info["api_key"]
    headers = {"Authorization": f"Bearer {key}"}
    url = f"{devstack.base_url}/v1/payments"
    # Two payments for one payable, through the API, so that a page of one has a cursor.
    for n in range(2):
        created = requests.post(
            f"{devstack.base_url}/v1/checkout",
            json={
                "payable_type": "booking",
                "payable_id": "bk_cursor",
                "amount": 1000 + n,
                "currency": "USD",
                "description": "Cursor test",
                "success_url": "https://example.com/thanks",
            },
            headers={**headers, "Idempotency-Key": f"cursor-{n}-{tenant.tenant_id}"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
    query = {"payable_type": "booking", "payable_id": "bk_cursor", "limit": "1"}
    page = requests.get(url, params=query, headers=headers, timeout=30).json()
    assert page["next_cursor"]
    for label, edited in _edited_cursors(page["next_cursor"]):
        response = requests.get(
            url, params={**query, "cursor": edited}, headers=headers, timeout=30
        )
        expected = "value_too_long" if len(edited) > 2048 else "invalid_cursor"
        assert response.status_code == 400, (label, response.text[:200])
        assert response.json()["error"]["code"] == expected, label


def test_error_bodies_never_echo_the_key_or_internals(
    devstack: RunningDevStack, tenant: Tenant
) -> None:
    for method, path, operation in BODY_OPERATIONS:
        secretish = "sk_live_" + base64.b16encode(b"do-not-echo").decode()
        response = requests.request(
            method,
            _url(devstack, path),
            data=json.dumps({"amount": secretish, "url": secretish, "secret_key": secretish}),
            headers=_write_headers(tenant, **{"Content-Type": "application/json"}),
            timeout=30,
        )
        _assert_documented_error(response, operation, f"{method} {path}")
        assert secretish not in response.text
        assert tenant.api_key not in response.text
        assert "Traceback" not in response.text
