"""The devstack gateway's access log: one JSON line per request in the template's own Format."""

from __future__ import annotations

import json
from typing import Any

import botocore.client
import pytest

from devstack.gateway import AccessLog, RestApiGateway
from devstack.lambdas import FunctionRegistry
from devstack.provision import usage_plan_environment
from devstack.template import LocalStack
from payments.config import reset_settings
from payments.services import tenants
from payments.store import repositories

ACCESS_LOGGER = "devstack.access"


@pytest.fixture
def gateway(
    aws: LocalStack, functions: FunctionRegistry, monkeypatch: pytest.MonkeyPatch
) -> RestApiGateway:
    # Tenants get their usage key in the template's default plan, as `make dev` sets it up.
    for name, value in usage_plan_environment(aws).items():
        monkeypatch.setenv(name, value)
    reset_settings()
    return RestApiGateway(aws, functions)


@pytest.fixture
def tenant_key(gateway: RestApiGateway) -> tuple[str, repositories.IssuedApiKey]:
    tenant = tenants.create_tenant("Salon")
    return tenant.tenant_id, repositories.issue_api_key(tenant.tenant_id)


def _call(
    gateway: RestApiGateway,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
) -> tuple[int, Any, dict[str, str]]:
    """The answer, and the one access-log line the request wrote, parsed."""
    caplog.clear()
    with caplog.at_level("INFO", logger=ACCESS_LOGGER):
        status, _, reply = gateway.handle(method, path, headers, body, "203.0.113.9")
    lines = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER]
    assert len(lines) == 1, lines
    assert "\n" not in lines[0]
    return status, json.loads(reply) if reply else None, json.loads(lines[0])


def test_a_500s_correlation_id_is_the_access_log_lines_request_id(
    gateway: RestApiGateway,
    tenant_key: tuple[str, repositories.IssuedApiKey],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant_id, key = tenant_key
    original = botocore.client.BaseClient._make_api_call

    def failing_query(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if operation_name == "Query":
            raise RuntimeError("the table is gone")
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", failing_query)
    status, body, line = _call(
        gateway,
        caplog,
        "GET",
        "/dev/v1/payments/pay_1?expand=x",
        {"Authorization": f"Bearer {key.plaintext}", "User-Agent": 'shop/1.0 "beta"'},
    )
    assert status == 500
    assert line["requestId"] == body["error"]["correlation_id"]
    assert line["tenantId"] == tenant_id
    assert line["keyId"] == key.key_id
    assert (line["httpMethod"], line["route"], line["path"]) == (
        "GET",
        "/v1/payments/{payment_id}",
        "/dev/v1/payments/pay_1",
    )
    assert line["status"] == "500"
    assert line["userAgent"] == 'shop/1.0 "beta"'  # escaped, the line is still JSON
    assert line["sourceIp"] == "203.0.113.9"
    assert int(line["responseLatency"]) >= int(line["integrationLatency"]) >= 0


def test_the_line_never_carries_the_key_or_the_body(
    gateway: RestApiGateway,
    tenant_key: tuple[str, repositories.IssuedApiKey],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, key = tenant_key
    marker = "4111111111111111"
    status, _, line = _call(
        gateway,
        caplog,
        "POST",
        "/dev/v1/checkout",
        {
            "Authorization": f"Bearer {key.plaintext}",
            "Content-Type": "application/json",
            "Idempotency-Key": "idem-1",
        },
        json.dumps({"card_number": marker}).encode(),
    )
    assert 400 <= status < 500
    text = json.dumps(line)
    assert key.plaintext not in text
    assert "Bearer" not in text
    assert marker not in text
    assert "idem-1" not in text
    # The usage key API Gateway meters the call under is a credential too.
    usage_key = gateway._serving.event["requestContext"]["identity"].get("apiKey")  # type: ignore[index]
    assert usage_key
    assert usage_key not in text
    assert (line["route"], line["status"]) == ("/v1/checkout", str(status))


def test_gateway_refusals_are_logged_with_their_error_and_no_tenant(
    gateway: RestApiGateway, caplog: pytest.LogCaptureFixture
) -> None:
    status, _, line = _call(gateway, caplog, "GET", "/dev/v1/payments", {})
    assert status == 401
    assert (line["status"], line["errorType"], line["errorMessage"]) == (
        "401",
        "UNAUTHORIZED",
        "Unauthorized",
    )
    assert line["tenantId"] == line["keyId"] == line["integrationLatency"] == "-"
    assert line["requestId"] not in {"", "-"}

    status, _, line = _call(gateway, caplog, "GET", "/dev/v1/nowhere", {})
    assert (status, line["status"], line["errorType"]) == (
        404,
        "404",
        "MISSING_AUTHENTICATION_TOKEN",
    )
    assert line["route"] == "-"


def test_every_context_variable_of_the_format_is_filled_for_a_served_request(
    aws: LocalStack, gateway: RestApiGateway, caplog: pytest.LogCaptureFixture
) -> None:
    status, _, line = _call(gateway, caplog, "GET", "/dev/v1/health", {"User-Agent": "probe"})
    assert status == 200
    # Only what the authorizer and API Gateway's own errors would add is missing here.
    unset = {key for key, value in line.items() if value == "-"}
    assert unset == {"tenantId", "keyId", "errorType", "errorMessage"}
    assert AccessLog(aws).format == gateway.access_log.format
