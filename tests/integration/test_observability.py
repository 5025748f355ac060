"""What an operator sees, through the real handlers: the metrics (CloudWatch EMF documents on
stdout) each function writes through payments.observability, and the ids on its log lines that
join an API request to its payment, outbox events and callbacks."""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.lambdas import FunctionRegistry
from devstack.sandboxes.stripe import StripeSandbox
from devstack.template import LocalStack
from payments.config import reset_settings
from payments.services.credentials import set_provider_credentials
from tests.conftest import load_event
from tests.integration.helpers import new_tenant
from tests.integration.stripe_fixtures import (
    configure_stripe,
    open_checkout,
    session_completed,
    signed_delivery,
)


def _emitted(output: str) -> Counter[tuple[str, tuple[tuple[str, str], ...]]]:
    """(metric, dimensions) -> value, from the EMF documents in ``output``."""
    found: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if "_aws" not in document:
            continue
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Payments"
        (names,) = directive["Dimensions"]
        dimensions = tuple(sorted((name, document[name]) for name in names if name != "service"))
        for metric in directive["Metrics"]:
            assert metric["Unit"] == "Count"
            (value,) = document[metric["Name"]]
            found[(metric["Name"], dimensions)] += int(value)
    return found


@pytest.fixture
def log_lines(aws: LocalStack) -> Iterator[list[dict[str, Any]]]:
    """The function's JSON log lines as Powertools formats them (with the appended keys)."""
    lines: list[dict[str, Any]] = []
    service = logging.getLogger(os.environ["POWERTOOLS_SERVICE_NAME"])

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            # Lines logged before any handler ran (test set-up) have no function formatter.
            formatters = [h.formatter for h in service.handlers if h is not self and h.formatter]
            if formatters:
                lines.append(json.loads(formatters[0].format(record)))

    handler = Collect()
    service.addHandler(handler)
    yield lines
    service.removeHandler(handler)


def test_a_webhook_counts_received_applied_and_the_payment_it_settled(
    aws: LocalStack,
    functions: FunctionRegistry,
    capsys: pytest.CaptureFixture[str],
    log_lines: list[dict[str, Any]],
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    event = session_completed(checkout)
    capsys.readouterr()
    delivery = signed_delivery(tenant, event)
    assert functions.invoke("WebhookStripeFunction", delivery)["statusCode"] == 200
    stripe = (("provider", "stripe"),)
    assert _emitted(capsys.readouterr().out) == {
        ("WebhooksReceived", stripe): 1,
        ("WebhooksApplied", stripe): 1,
        ("PaymentsSucceeded", stripe): 1,
    }
    # The same delivery again: received and duplicate, and no second success.
    assert functions.invoke("WebhookStripeFunction", delivery)["statusCode"] == 200
    assert _emitted(capsys.readouterr().out) == {
        ("WebhooksReceived", stripe): 1,
        ("WebhooksDuplicate", stripe): 1,
    }
    processed = [line for line in log_lines if line["message"] == "webhook processed"]
    assert len(processed) == 2
    for line in processed:
        # The function URL's request id is the correlation id; the provider's event id and the
        # payment it moved are on the line.
        assert line["correlation_id"] == delivery["requestContext"]["requestId"]
        assert line["provider"] == "stripe"
        assert line["provider_event_id"] == event["id"]
    (committed,) = [
        line
        for line in log_lines
        if line["message"] == "payment state committed"
        and line.get("correlation_id") == delivery["requestContext"]["requestId"]
    ]
    assert committed["payment_id"] == checkout.payment_id
    assert committed["status"] == "succeeded"
    assert len(committed["event_ids"]) == 1


def test_a_forged_webhook_counts_as_rejected_with_its_reason(
    aws: LocalStack, functions: FunctionRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    capsys.readouterr()
    delivery = signed_delivery(
        tenant, session_completed(checkout), signature="t=1700000000,v1=" + "0" * 64
    )
    assert functions.invoke("WebhookStripeFunction", delivery)["statusCode"] == 400
    assert _emitted(capsys.readouterr().out) == {
        ("WebhooksReceived", (("provider", "stripe"),)): 1,
        ("WebhooksRejected", (("provider", "stripe"),)): 1,
        (
            "WebhooksRejectedByReason",
            (("provider", "stripe"), ("reason", "signature_verification_failed")),
        ): 1,
    }


def test_metrics_outside_a_handler_are_dropped_not_printed(
    aws: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # payctl and tests call the services directly: no metric JSON in their output.
    tenant = new_tenant()
    open_checkout(tenant)
    assert _emitted(capsys.readouterr().out) == {}


def test_an_api_request_id_is_the_correlation_id_of_the_payment_it_creates(
    aws: LocalStack,
    functions: FunctionRegistry,
    capsys: pytest.CaptureFixture[str],
    log_lines: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = new_tenant()
    with StripeSandbox() as sandbox:
        monkeypatch.setenv("PROVIDER_API_BASE_STRIPE", sandbox.base_url)
        reset_settings()
        account = sandbox.create_account()
        set_provider_credentials(
            tenant, "stripe", {"secret_key": account.secret_key, "webhook_secret": "whsec_x"}
        )
        event = load_event("checkout/create.json")
        event["requestContext"]["authorizer"]["tenant_id"] = tenant
        event["requestContext"]["requestId"] = "req-observability-1"
        capsys.readouterr()
        response = functions.invoke("CheckoutFunction", event)
    assert response["statusCode"] == 201, response
    payment_id = json.loads(response["body"])["payment_id"]
    assert _emitted(capsys.readouterr().out) == {("PaymentsCreated", (("provider", "stripe"),)): 1}
    committed = [line for line in log_lines if line["message"] == "payment state committed"]
    # created, then pending with its Checkout session: both under the API's request id.
    assert [line["status"] for line in committed] == ["created", "pending"]
    for line in committed:
        assert line["correlation_id"] == "req-observability-1"
        assert line["payment_id"] == payment_id
        assert line["event_ids"]


@pytest.mark.parametrize(
    "logical_id",
    [
        "AuthorizerFunction",
        "StatusFunction",
        "HealthFunction",
        "DocsFunction",
        "DashboardFunction",
        "CheckoutFunction",
        "RefundsFunction",
        "WebhookStripeFunction",
        "StkPushFunction",
        "CryptoFunction",
        "WebhookMpesaFunction",
        "WebhookNowpaymentsFunction",
        "WebhookNeobankFunction",
        "ProfilesFunction",
        "TradesFunction",
        "CallbacksApiFunction",
        "ProvidersApiFunction",
        "WebhooksApiFunction",
        "AdminFunction",
        "CallbackFunction",
        "NotifyFunction",
        "SweeperFunction",
    ],
)
def test_every_function_runs_through_the_observability_wrapper(
    aws: LocalStack, functions: FunctionRegistry, logical_id: str
) -> None:
    assert logical_id in aws.functions()
    handler = functions.handler(logical_id)
    assert getattr(handler, "__observed__", None) in {
        "api",
        "function_url",
        "queue",
        "schedule",
        "authorizer",
    }


def test_every_template_function_is_listed_above(aws: LocalStack) -> None:
    listed = set(test_every_function_runs_through_the_observability_wrapper.pytestmark[0].args[1])
    assert set(aws.functions()) == listed
