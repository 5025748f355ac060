"""/v1/providers/{provider}/credentials through the real handler, under moto, with the
in-process Stripe sandbox answering the credential test."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from devstack.lambdas import FunctionRegistry
from devstack.sandboxes.stripe import StripeSandbox
from devstack.template import LocalStack
from payments.config import reset_settings
from payments.providers.stripe import StripeProvider
from payments.services.credentials import set_provider_credentials
from tests.conftest import load_event
from tests.integration.helpers import items_of_type, new_tenant
from tests.integration.test_function_imports import _loaded

DAY = 86_400
FUNCTION = "ProvidersApiFunction"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[StripeSandbox]:
    with StripeSandbox() as running:
        yield running


@pytest.fixture
def stripe_base(aws: LocalStack, sandbox: StripeSandbox, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PROVIDER_API_BASE_STRIPE", sandbox.base_url)
    reset_settings()
    return sandbox.base_url


def _call(
    functions: FunctionRegistry,
    tenant: str,
    method: str,
    provider: str = "stripe",
    body: Any = None,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    sample = {
        "PUT": "put_credentials.json",
        "GET": "get_credentials.json",
        "POST": "test_credentials.json",
    }[method]
    event = load_event(f"providers_api/{sample}")
    event["path"] = event["path"].replace("/stripe/", f"/{provider}/")
    event["pathParameters"] = {"provider": provider}
    event["requestContext"]["authorizer"]["tenant_id"] = tenant
    if body is not None:
        event["body"] = json.dumps(body)
    response = functions.invoke(FUNCTION, event)
    headers = {k: str(v) for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(str(v) for v in values)
    return response["statusCode"], headers, json.loads(response["body"])


def _stripe_values(secret_key: str) -> dict[str, Any]:
    return {"values": {"secret_key": secret_key, "webhook_secret": "whsec_Signing0000Secret4321"}}


def test_the_sample_put_stores_write_only_credentials_and_get_shows_them_redacted(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    status, _, body = _call(functions, tenant, "PUT")  # the events/ sample as it is
    assert status == 200, body
    webhook_base = aws.environment()["PROVIDER_WEBHOOK_URL_STRIPE"]
    assert webhook_base.endswith("/WebhookStripeFunction/")
    expected = {
        "provider": "stripe",
        "values": {"secret_key": "sk_****0000", "webhook_secret": "whsec_****0000"},
        "enabled": True,
        "verified": False,
        "last_tested_at": None,
        "last_test_result": None,
        "webhook_url": f"{webhook_base}{tenant}",
    }
    assert body == expected
    assert _call(functions, tenant, "GET")[2] == expected
    stored = boto3.client("secretsmanager").describe_secret(
        SecretId=f"payments/dev/{tenant}/stripe"
    )
    assert stored["KmsKeyId"] == aws.physical_ids["PaymentsKey"]  # our key, not AWS's default

    status, _, body = _call(
        functions, tenant, "PUT", body={**_stripe_values("sk_test_Another000011"), "enabled": False}
    )
    assert (status, body["enabled"], body["values"]["secret_key"]) == (200, False, "sk_****0011")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        (
            {"secret_key": "pk_test_notasecretkey1234", "webhook_secret": "whsec_Qx7Secret"},
            "secret_key",
        ),
        ({"secret_key": "sk_test_51Good000000"}, "webhook_secret"),
        (
            {
                "secret_key": "sk_test_51Good000000",
                "webhook_secret": "whsec_Wv3Secret",
                "extra": "Zq9Secret",
            },
            "extra",
        ),
    ],
    ids=["malformed", "missing", "unknown"],
)
def test_invalid_credentials_are_422_naming_the_field_never_the_value(
    aws: LocalStack, functions: FunctionRegistry, values: dict[str, str], field: str
) -> None:
    tenant = new_tenant()
    status, _, body = _call(functions, tenant, "PUT", body={"values": values})
    assert (status, body["error"]["code"]) == (422, "invalid_credentials"), body
    assert field in body["error"]["message"]
    for value in values.values():
        assert value not in json.dumps(body)
    assert _call(functions, tenant, "GET")[0] == 404  # nothing stored


def test_a_body_that_does_not_fit_the_schema_is_422(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    status, _, body = _call(functions, tenant, "PUT", body={"values": {"secret_key": 42}})
    assert (status, body["error"]["code"]) == (422, "invalid_type")
    status, _, body = _call(functions, tenant, "PUT", body={"values": {}, "enabled": None})
    assert (status, body["error"]["code"]) == (422, "null_not_allowed")


def test_unknown_provider_and_missing_credentials_are_404(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    for method in ("PUT", "GET", "POST"):
        body = _stripe_values("sk_test_51Good000000") if method == "PUT" else None
        status, _, answer = _call(functions, tenant, method, provider="paypal", body=body)
        assert (status, answer["error"]["code"]) == (404, "unknown_provider"), method
    for method in ("GET", "POST"):
        status, _, answer = _call(functions, tenant, method)
        assert (status, answer["error"]["code"]) == (404, "credentials_not_found"), method


def test_a_stripe_test_with_a_valid_key_verifies_and_a_new_put_resets(
    stripe_base: str, sandbox: StripeSandbox, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    key = sandbox.create_account().secret_key
    assert _call(functions, tenant, "PUT", body=_stripe_values(key))[0] == 200
    status, _, body = _call(functions, tenant, "POST")
    assert status == 200, body
    assert body["verified"] is True
    assert body["last_test_result"] == {
        "ok": True,
        "code": "ok",
        "message": "Stripe accepted the secret key (test mode)",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["last_tested_at"])
    assert _call(functions, tenant, "GET")[2] == body
    [item] = items_of_type("credential_status")
    assert (item["pk"], item["sk"], item["verified"]) == (
        f"TENANT#{tenant}",
        "CREDENTIALS#stripe",
        True,
    )

    status, _, body = _call(functions, tenant, "PUT", body=_stripe_values(key))
    assert (body["verified"], body["last_tested_at"], body["last_test_result"]) == (
        False,
        None,
        None,
    )


def test_a_revoked_key_fails_the_test_and_the_failure_is_recorded(
    stripe_base: str, sandbox: StripeSandbox, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    key = sandbox.create_account().secret_key
    _call(functions, tenant, "PUT", body=_stripe_values(key))
    assert _call(functions, tenant, "POST")[2]["verified"] is True
    sandbox.revoke_key(key)
    status, _, body = _call(functions, tenant, "POST")
    assert status == 200, body
    assert body["verified"] is False
    assert body["last_test_result"]["code"] == "invalid_credentials"
    assert key not in json.dumps(body)
    assert key[-4:] not in body["last_test_result"]["message"]
    [item] = items_of_type("credential_status")
    assert (item["verified"], item["last_test_code"]) == (False, "invalid_credentials")
    # A key Stripe never issued fails the same way.
    _call(functions, tenant, "PUT", body=_stripe_values("sk_test_51NeverIssued000000"))
    assert _call(functions, tenant, "POST")[2]["last_test_result"]["code"] == (
        "invalid_credentials"
    )


def test_a_provider_without_a_credential_test_answers_409(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    put = {"values": {"api_key": "5f3a9c1e8b7d2a4f6e0c9b8a7d6c5678"}}
    status, _, body = _call(functions, tenant, "PUT", provider="omnisend", body=put)
    assert (status, body["values"], body["webhook_url"]) == (200, {"api_key": "****5678"}, None)
    status, _, body = _call(functions, tenant, "POST", provider="omnisend")
    assert (status, body["error"]["code"]) == (409, "credential_test_not_supported")


def test_tests_are_rate_limited_per_tenant(
    stripe_base: str,
    sandbox: StripeSandbox,
    functions: FunctionRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "RATE_LIMIT_CREDENTIAL_TEST", json.dumps({"capacity": 2, "window_seconds": DAY})
    )
    reset_settings()
    tenant, other = new_tenant("A"), new_tenant("B")
    for owner in (tenant, other):
        _call(functions, owner, "PUT", body=_stripe_values(sandbox.create_account().secret_key))
    assert [_call(functions, tenant, "POST")[0] for _ in range(2)] == [200, 200]
    status, headers, body = _call(functions, tenant, "POST")
    assert (status, body["error"]["code"]) == (429, "rate_limited")
    assert 1 <= int(headers["Retry-After"]) <= DAY
    assert _call(functions, other, "POST")[0] == 200  # another tenant's budget is its own


def test_another_tenant_can_neither_read_nor_test_a_tenants_credentials(
    stripe_base: str, sandbox: StripeSandbox, functions: FunctionRegistry
) -> None:
    owner, intruder = new_tenant("Owner"), new_tenant("Intruder")
    _call(functions, owner, "PUT", body=_stripe_values(sandbox.create_account().secret_key))
    for method in ("GET", "POST"):
        status, _, body = _call(functions, intruder, method)
        assert (status, body["error"]["code"]) == (404, "credentials_not_found")
    assert items_of_type("credential_status")[0]["tenant_id"] == owner
    assert _call(functions, owner, "GET")[2]["last_tested_at"] is None  # untouched


def test_a_result_is_not_recorded_for_credentials_replaced_during_the_test(
    stripe_base: str,
    sandbox: StripeSandbox,
    functions: FunctionRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = new_tenant()
    first = sandbox.create_account().secret_key
    _call(functions, tenant, "PUT", body=_stripe_values(first))
    original = StripeProvider.test_credentials

    def replaced_meanwhile(self: StripeProvider, credentials: Any) -> Any:
        result = original(self, credentials)
        set_provider_credentials(
            tenant, "stripe", _stripe_values("sk_test_51Replaced00000")["values"]
        )
        return result

    monkeypatch.setattr(StripeProvider, "test_credentials", replaced_meanwhile)
    status, _, body = _call(functions, tenant, "POST")
    assert (status, body["error"]["code"]) == (409, "credentials_changed")
    shown = _call(functions, tenant, "GET")[2]
    assert (shown["verified"], shown["last_tested_at"]) == (False, None)


def test_no_secret_reaches_an_answer_or_a_log_line(
    stripe_base: str,
    sandbox: StripeSandbox,
    functions: FunctionRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)  # what a Lambda logs (POWERTOOLS_LOG_LEVEL=INFO)
    tenant = new_tenant()
    key = sandbox.create_account().secret_key
    answers = [
        _call(functions, tenant, "PUT", body=_stripe_values(key)),
        _call(functions, tenant, "GET"),
        _call(functions, tenant, "POST"),
        _call(functions, tenant, "PUT", body={"values": {"secret_key": key}}),  # 422
    ]
    sandbox.revoke_key(key)
    answers.append(_call(functions, tenant, "POST"))
    logged = json.dumps([record.__dict__ for record in caplog.records], default=str)
    assert "credentials tested" in logged  # the handler's log lines were captured
    for secret in (key, key[8:], "whsec_Signing0000Secret4321", "Signing0000Secret"):
        assert secret not in logged
        assert all(secret not in json.dumps(answer) for answer in answers)


def test_the_function_loads_no_provider_sdk_at_cold_start() -> None:
    loaded = _loaded("providers_api")
    assert "stripe" not in loaded
    assert not {name for name in loaded if name.startswith("payments.providers.stripe")} - {
        "payments.providers.stripe_spec"
    }


def test_payctl_credentials_set_show_and_test_use_the_same_use_cases(
    stripe_base: str, sandbox: StripeSandbox, aws: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payctl.main import app

    # What `payctl --local` reads from the devstack's state file: the template's environment.
    state = {**aws.environment(), "PROVIDER_API_BASE_STRIPE": stripe_base}
    monkeypatch.setattr("payctl.main.target_environment", lambda *_: state)
    for name, value in state.items():
        monkeypatch.setenv(name, value)  # restored after the test, whatever payctl sets
    tenant = new_tenant()
    key = sandbox.create_account().secret_key

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["--local", *args])
        return result.exit_code, result.output

    code, output = run(
        "credentials", "set", tenant, "stripe",
        "--value", f"secret_key={key}", "--value", "webhook_secret=whsec_Signing0000Secret4321",
    )  # fmt: skip
    assert code == 0, output
    code, output = run("credentials", "show", tenant, "stripe")
    assert code == 0, output
    assert "verified: false" in output
    assert "last_tested_at: never" in output
    assert f"webhook_url: {state['PROVIDER_WEBHOOK_URL_STRIPE']}{tenant}" in output
    code, output = run("credentials", "test", tenant, "stripe")
    assert code == 0, output
    assert "verified: true" in output
    assert "last_test_result: ok" in output
    sandbox.revoke_key(key)
    code, output = run("credentials", "test", tenant, "stripe")
    assert code == 1
    assert "last_test_result: invalid_credentials" in output
    assert key not in output
    code, output = run("credentials", "test", tenant, "omnisend")
    assert code == 1
    assert "credential_test_not_supported" in output


def test_each_route_makes_the_fewest_aws_calls(
    stripe_base: str, sandbox: StripeSandbox, functions: FunctionRegistry, aws_calls: Any
) -> None:
    tenant = new_tenant()
    key = sandbox.create_account().secret_key
    expected = {
        # The first store creates the secret (its PutSecretValue finds none).
        "PUT": {"PutSecretValue": 1, "CreateSecret": 1, "PutItem": 1},
        "PUT again": {"PutSecretValue": 1, "PutItem": 1},
        "GET": {"GetSecretValue": 1, "GetItem": 1},
        # Rate limit, status (its revision), secret, the recorded result.
        "POST": {"UpdateItem": 1, "GetItem": 1, "GetSecretValue": 1, "PutItem": 1},
    }
    for step, calls in expected.items():
        method = step.split()[0]
        aws_calls.reset()
        status = _call(
            functions, tenant, method, body=_stripe_values(key) if method == "PUT" else None
        )[0]
        assert (status, dict(aws_calls())) == (200, calls), step


def test_a_provider_that_does_not_answer_is_recorded_as_unreachable(
    aws: LocalStack, functions: FunctionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVIDER_API_BASE_STRIPE", "http://127.0.0.1:9")  # discard: nothing listens
    reset_settings()
    tenant = new_tenant()
    _call(functions, tenant, "PUT", body=_stripe_values("sk_test_51Unreachable0000"))
    status, _, body = _call(functions, tenant, "POST")
    assert status == 200, body
    assert (body["verified"], body["last_test_result"]["code"]) == (False, "provider_unreachable")
