"""Webhook receivers against hostile senders, through the real Stripe webhook handler: signatures
dated in the future, floods of forged deliveries, and deliveries from outside the provider's
source networks."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.lambdas import FunctionRegistry
from devstack.template import LocalStack
from payments.config import reset_settings
from payments.store import repositories
from tests.integration.conftest import AwsCallCounter
from tests.integration.helpers import items_of_type, new_tenant
from tests.integration.stripe_fixtures import (
    configure_stripe,
    open_checkout,
    session_completed,
    signed_delivery,
)

DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
FORGED = "t=1700000000,v1=" + "0" * 64


def _invoke(functions: FunctionRegistry, delivery: dict[str, Any]) -> tuple[int, Any]:
    response = functions.invoke("WebhookStripeFunction", delivery)
    return response["statusCode"], json.loads(response["body"])


def _from(delivery: dict[str, Any], source_ip: str) -> dict[str, Any]:
    delivery["requestContext"]["http"]["sourceIp"] = source_ip
    return delivery


def _rejected(tenant_id: str | None = None) -> list[dict[str, Any]]:
    return [
        item
        for item in items_of_type("inbox")
        if item["status"] == "rejected" and tenant_id in (None, item["tenant_id"])
    ]


def _status(tenant_id: str, payment_id: str) -> str:
    payment = repositories.get_payment(tenant_id, payment_id)
    assert payment is not None
    return payment.status.value


@pytest.fixture
def warnings(aws: LocalStack) -> Iterator[list[logging.LogRecord]]:
    """The warning lines the webhook pipeline logs (Powertools' loggers are named after the
    service, which the template's environment sets)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                records.append(record)

    handler = Collect()
    service = logging.getLogger(os.environ["POWERTOOLS_SERVICE_NAME"])
    service.addHandler(handler)
    yield records
    service.removeHandler(handler)


# --- signed timestamps, both directions --------------------------------------------------------


@pytest.mark.parametrize(("offset", "words"), [(600, "in the future"), (86_400, "in the future")])
def test_a_signature_dated_in_the_future_is_400_and_recorded(
    aws: LocalStack, functions: FunctionRegistry, offset: int, words: str
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    event = session_completed(checkout)
    delivery = signed_delivery(tenant, event, timestamp=int(time.time()) + offset)
    assert _invoke(functions, delivery) == (
        400,
        {
            "error": {
                "code": "signature_verification_failed",
                "message": "the signature could not be verified",
            }
        },
    )
    [record] = _rejected()
    assert words in record["reason"]
    assert json.loads(record["payload"]) == event
    assert int(record["ttl"]) > time.time() + 80 * 86_400  # kept for audit like any rejection
    assert _status(tenant, checkout.payment_id) == "pending"


def test_299_s_ahead_is_applied_and_301_s_old_is_refused(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    stale = open_checkout(tenant, suffix="old")
    delivery = signed_delivery(tenant, session_completed(stale), timestamp=int(time.time()) - 301)
    assert _invoke(functions, delivery)[0] == 400
    assert re.search(r"\d+ s old", _rejected()[0]["reason"])
    ahead = open_checkout(tenant, suffix="new")
    delivery = signed_delivery(tenant, session_completed(ahead), timestamp=int(time.time()) + 299)
    assert _invoke(functions, delivery) == (200, {"received": True, "outcome": "applied"})
    assert _status(tenant, ahead.payment_id) == "succeeded"


# --- bounded storage of rejected deliveries ----------------------------------------------------


def test_one_forged_body_sent_50_times_is_stored_once(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    body = json.dumps({"id": "evt_forged", "type": "checkout.session.completed"}).encode()
    for _ in range(50):
        status, _ = _invoke(functions, signed_delivery(tenant, body, signature=FORGED))
        assert status == 400
    [record] = _rejected(tenant)
    assert record["payload"] == body.decode()


def test_distinct_forged_bodies_are_stored_up_to_the_hourly_cap_per_tenant(
    aws: LocalStack,
    functions: FunctionRegistry,
    aws_calls: AwsCallCounter,
    monkeypatch: pytest.MonkeyPatch,
    warnings: list[logging.LogRecord],
) -> None:
    cap = 12
    monkeypatch.setenv("WEBHOOK_REJECTIONS_PER_TENANT_HOUR", str(cap))
    reset_settings()
    flooded, other = new_tenant("flooded"), new_tenant("other")
    for tenant in (flooded, other):
        configure_stripe(tenant)
    for index in range(cap + 20):
        body = json.dumps({"id": f"evt_forged_{index}"}).encode()
        aws_calls.reset()
        status, answer = _invoke(functions, signed_delivery(flooded, body, signature=FORGED))
        assert (status, answer["error"]["code"]) == (400, "signature_verification_failed")
        if index >= cap:  # counted by one refused conditional update, nothing stored
            writes = {op: n for op, n in aws_calls().items() if op in DYNAMODB_WRITES}
            # ...and the tenant's webhook statistics: one fixed hourly counter, not an item
            # per delivery (store/webhook_stats.py).
            assert writes == {"UpdateItem": 2}, writes
    assert len(_rejected(flooded)) == cap
    dropped = [r for r in warnings if getattr(r, "rejection_dropped", False)]
    assert len(dropped) == 20
    assert {r.tenant_id for r in dropped} == {flooded}  # type: ignore[attr-defined]
    # The flood spent the flooded tenant's allowance only.
    body = json.dumps({"id": "evt_forged_elsewhere"}).encode()
    assert _invoke(functions, signed_delivery(other, body, signature=FORGED))[0] == 400
    assert [r["payload"] for r in _rejected(other)] == [body.decode()]


# --- source networks ---------------------------------------------------------------------------


@pytest.fixture
def stripe_sources(aws: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    monkeypatch.setenv("WEBHOOK_SOURCE_CIDRS_STRIPE", "3.18.12.63/32,2001:db8:5::/48")
    reset_settings()
    return aws


@pytest.mark.parametrize("source_ip", ["3.18.12.63", "2001:db8:5::17", "::ffff:3.18.12.63"])
def test_a_delivery_from_a_listed_network_is_processed(
    stripe_sources: LocalStack, functions: FunctionRegistry, source_ip: str
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    delivery = _from(signed_delivery(tenant, session_completed(checkout)), source_ip)
    assert _invoke(functions, delivery) == (200, {"received": True, "outcome": "applied"})
    assert _status(tenant, checkout.payment_id) == "succeeded"


@pytest.mark.parametrize("source_ip", ["3.18.12.64", "2001:db8:6::17", "127.0.0.1", ""])
def test_a_validly_signed_delivery_from_elsewhere_is_403_and_audited(
    stripe_sources: LocalStack,
    functions: FunctionRegistry,
    warnings: list[logging.LogRecord],
    source_ip: str,
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    delivery = _from(signed_delivery(tenant, session_completed(checkout)), source_ip)
    status, answer = _invoke(functions, delivery)
    assert (status, answer["error"]["code"]) == (403, "source_not_allowed")
    assert _status(tenant, checkout.payment_id) == "pending"
    [audit] = [r for r in warnings if getattr(r, "source_ip", None) is not None]
    assert (audit.provider, audit.tenant_id, audit.source_ip) == (  # type: ignore[attr-defined]
        "stripe",
        tenant,
        source_ip,
    )
    [record] = _rejected(tenant)
    assert record["reason"] == f"source_not_allowed: {source_ip}"
    # Resent: still refused, not stored again (same payload hash).
    assert _invoke(functions, delivery)[0] == 403
    assert len(_rejected(tenant)) == 1


def test_a_refused_source_aimed_at_a_made_up_tenant_stores_nothing(
    stripe_sources: LocalStack, functions: FunctionRegistry
) -> None:
    delivery = _from(signed_delivery("ten_madeup", {"id": "evt_1"}), "198.51.100.7")
    assert _invoke(functions, delivery)[0] == 403
    assert items_of_type("inbox") == []


def test_without_a_list_any_source_is_processed(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    delivery = _from(signed_delivery(tenant, session_completed(checkout)), "198.51.100.7")
    assert _invoke(functions, delivery) == (200, {"received": True, "outcome": "applied"})
