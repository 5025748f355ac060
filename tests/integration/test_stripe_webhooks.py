"""Stripe webhooks through the real handler: verified, deduplicated, order-independent."""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

import pytest

from devstack.lambdas import FunctionRegistry
from devstack.template import LocalStack
from payments.services.ledger_check import verify_tenant_ledger
from payments.store import repositories
from tests.integration.conftest import AwsCallCounter
from tests.integration.helpers import items_of_type, new_tenant
from tests.integration.stripe_fixtures import (
    WEBHOOK_SECRET,
    OpenCheckout,
    charge_refunded,
    configure_stripe,
    dispute_created,
    intent_succeeded,
    open_checkout,
    refund,
    session_completed,
    signed_delivery,
)

DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def _deliver(functions: FunctionRegistry, tenant_id: str, event: Any, **kwargs: Any) -> Any:
    response = functions.invoke(
        "WebhookStripeFunction", signed_delivery(tenant_id, event, **kwargs)
    )
    return response["statusCode"], json.loads(response["body"])


def _sequence(checkout: OpenCheckout) -> list[dict[str, Any]]:
    """What Stripe sends for: pay, refund 20.00, then refund the remaining 30.00."""
    first = refund(checkout, "re_a", 2000)
    return [
        session_completed(checkout),
        intent_succeeded(checkout),
        charge_refunded(checkout, f"evt_refund_1_{checkout.charge_id}", [first]),
        charge_refunded(
            checkout, f"evt_refund_2_{checkout.charge_id}", [first, refund(checkout, "re_b", 3000)]
        ),
    ]


def _final_state(tenant_id: str, payment_id: str) -> dict[str, Any]:
    details = repositories.get_payment_details(tenant_id, payment_id)
    assert details is not None
    payment = details.payment
    balances = {
        key: (int(debits), int(credits))
        for key, (debits, credits) in repositories.tenant_balances(tenant_id).items()
    }
    report = verify_tenant_ledger(tenant_id)
    assert report.ok, report.discrepancies
    return {
        "status": payment.status.value,
        "captured": payment.amount_captured,
        "refunded": payment.amount_refunded,
        "reserved": payment.amount_refund_pending,
        "refunds": sorted(
            (r.provider_refund_id, r.amount, r.status.value) for r in details.refunds
        ),
        "balances": balances,
        "journal_entries": report.entries,
    }


EXPECTED = {
    "status": "refunded",
    "captured": 5000,
    "refunded": 5000,
    "reserved": 0,
    "refunds": [("re_a", 2000, "succeeded"), ("re_b", 3000, "succeeded")],
    "balances": {
        ("merchant_sales", "USD"): (5000, 5000),
        ("provider_clearing:stripe", "USD"): (5000, 5000),
    },
    "journal_entries": 3,
}


def test_in_order_shuffled_and_20_concurrent_deliveries_end_identically(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    outcomes = {}
    # In order, once each.
    tenant = new_tenant("in order")
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    for event in _sequence(checkout):
        assert _deliver(functions, tenant, event)[0] == 200
    outcomes["in_order"] = _final_state(tenant, checkout.payment_id)

    # Every ordering Stripe might pick (a few seeded shuffles).
    for seed in range(4):
        tenant = new_tenant(f"shuffled {seed}")
        configure_stripe(tenant)
        checkout = open_checkout(tenant, suffix=f"s{seed}")
        events = _sequence(checkout)
        random.Random(seed).shuffle(events)
        for event in events:
            assert _deliver(functions, tenant, event)[0] == 200
        outcomes[f"shuffled_{seed}"] = _final_state(tenant, checkout.payment_id)

    # 20 concurrent deliveries of each event, all at once.
    tenant = new_tenant("stampede")
    configure_stripe(tenant)
    checkout = open_checkout(tenant, suffix="c")
    deliveries = [event for event in _sequence(checkout) for _ in range(20)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(deliveries))

    def deliver(event: dict[str, Any]) -> None:
        barrier.wait()
        statuses.append(_deliver(functions, tenant, event)[0])

    threads = [threading.Thread(target=deliver, args=(event,)) for event in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * len(deliveries)
    outcomes["concurrent"] = _final_state(tenant, checkout.payment_id)

    for name, outcome in outcomes.items():
        assert outcome == EXPECTED, name


def test_each_accepted_event_makes_exactly_one_dynamodb_write_call(
    aws: LocalStack, functions: FunctionRegistry, aws_calls: AwsCallCounter
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    events = _sequence(checkout)
    unknown = {**intent_succeeded(checkout), "id": "evt_other", "type": "customer.created"}
    for event in [*events, events[0], unknown, unknown]:  # duplicates and an unhandled type
        aws_calls.reset()
        status, _ = _deliver(functions, tenant, event)
        assert status == 200
        writes = {op: n for op, n in aws_calls().items() if op in DYNAMODB_WRITES}
        # One write for the state (the transaction, or the inbox record of what changes
        # nothing), then one UpdateItem outside it: the tenant's webhook statistics.
        state = {op: n for op, n in writes.items() if op != "UpdateItem"}
        assert sum(state.values()) == 1, (event["type"], writes)
        assert writes.get("UpdateItem") == 1, (event["type"], writes)


def test_duplicates_and_late_events_are_recorded_but_change_nothing(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    completed = session_completed(checkout)
    assert _deliver(functions, tenant, completed) == (200, {"received": True, "outcome": "applied"})
    assert _deliver(functions, tenant, completed) == (
        200,
        {"received": True, "outcome": "duplicate"},
    )
    # payment_intent.succeeded after the session completed: history only, no second capture.
    assert _deliver(functions, tenant, intent_succeeded(checkout))[0] == 200
    state = _final_state(tenant, checkout.payment_id)
    assert (state["status"], state["captured"], state["journal_entries"]) == ("succeeded", 5000, 1)
    history = repositories.payment_history(checkout.payment_id)
    assert [(h.requested_status, h.applied, h.reason) for h in history][-1] == (
        "succeeded",
        False,
        "already_in_state",
    )
    inbox = {item["event_id"]: item for item in items_of_type("inbox")}
    assert json.loads(inbox[completed["id"]]["payload"]) == completed


def test_an_unpaid_completed_session_stays_pending(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    assert _deliver(functions, tenant, session_completed(checkout, paid=False))[0] == 200
    assert _final_state(tenant, checkout.payment_id)["status"] == "pending"


def test_unknown_types_and_unknown_payments_are_acknowledged_and_recorded(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    other_type = {**intent_succeeded(checkout), "id": "evt_x", "type": "customer.updated"}
    stranger = open_checkout(new_tenant("elsewhere"), suffix="zz")  # another tenant's payment
    foreign = {**session_completed(stranger), "id": "evt_foreign"}
    assert _deliver(functions, tenant, other_type) == (
        200,
        {"received": True, "outcome": "ignored"},
    )
    assert _deliver(functions, tenant, foreign) == (200, {"received": True, "outcome": "ignored"})
    reasons = {i["event_id"]: (i["status"], i["reason"]) for i in items_of_type("inbox")}
    assert reasons["evt_x"] == ("ignored", "unhandled_event_type")
    assert reasons["evt_foreign"] == ("ignored", "unknown_payment")
    assert _final_state(stranger.tenant_id, stranger.payment_id)["status"] == "pending"


def test_a_capture_for_a_different_amount_is_refused(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    tampered = session_completed(checkout, amount=1)
    assert _deliver(functions, tenant, tampered) == (200, {"received": True, "outcome": "rejected"})
    assert _final_state(tenant, checkout.payment_id)["status"] == "pending"
    [record] = items_of_type("inbox")
    assert (record["status"], record["reason"]) == ("rejected", "amount_mismatch")


def test_dashboard_refunds_are_counted_once_and_disputes_are_recorded(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    _deliver(functions, tenant, session_completed(checkout))
    dashboard = refund(checkout, "re_dash", 1500)  # no refund_id metadata: not asked through us
    assert _deliver(functions, tenant, charge_refunded(checkout, "evt_r1", [dashboard]))[0] == 200
    # The same refund again in a later, cumulative event: not counted twice.
    assert _deliver(functions, tenant, charge_refunded(checkout, "evt_r2", [dashboard]))[0] == 200
    state = _final_state(tenant, checkout.payment_id)
    assert (state["status"], state["refunded"]) == ("partially_refunded", 1500)
    assert state["refunds"] == [("re_dash", 1500, "succeeded")]
    # A dispute names only the PaymentIntent and the Charge.
    assert _deliver(functions, tenant, dispute_created(checkout))[0] == 200
    assert _final_state(tenant, checkout.payment_id)["status"] == "disputed"


@pytest.mark.parametrize(
    ("case", "kwargs", "reason"),
    [
        ("stale", {"timestamp": int(time.time()) - 301}, "Timestamp outside the tolerance zone"),
        ("wrong secret", {"secret": "whsec_someone_else"}, "No signatures found"),
        ("missing header", {"signature": ""}, "missing Stripe-Signature header"),
        ("garbage header", {"signature": "t=abc,v1=zz"}, "Unable to extract timestamp"),
    ],
)
def test_bad_signatures_are_400_and_recorded_with_the_raw_payload(
    aws: LocalStack, functions: FunctionRegistry, case: str, kwargs: dict[str, Any], reason: str
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    event = session_completed(checkout)
    status, body = _deliver(functions, tenant, event, **kwargs)
    assert (status, body) == (
        400,
        {
            "error": {
                "code": "signature_verification_failed",
                "message": "the signature could not be verified",
            }
        },
    ), case
    [record] = items_of_type("inbox")
    assert record["status"] == "rejected"
    assert reason in record["reason"]
    assert json.loads(record["payload"]) == event
    assert _final_state(tenant, checkout.payment_id)["status"] == "pending"


def test_a_tampered_body_fails_verification(aws: LocalStack, functions: FunctionRegistry) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    good = signed_delivery(tenant, session_completed(checkout))
    good["body"] = good["body"].replace('"amount_total": 5000', '"amount_total": 1')
    response = functions.invoke("WebhookStripeFunction", good)
    assert response["statusCode"] == 400
    assert _final_state(tenant, checkout.payment_id)["status"] == "pending"


def test_oversized_bodies_unknown_tenants_and_wrong_methods(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    big = b'{"pad": "' + b"x" * (256 * 1024) + b'"}'
    assert _deliver(functions, tenant, big)[0] == 413
    unconfigured = new_tenant("no stripe")
    assert _deliver(functions, unconfigured, {"id": "evt_1", "type": "x"})[0] == 400  # not stored
    delivery = signed_delivery(tenant, {"id": "evt_1"})
    delivery["requestContext"]["http"]["method"] = "GET"
    assert functions.invoke("WebhookStripeFunction", delivery)["statusCode"] == 405
    delivery = signed_delivery(tenant, {"id": "evt_1"})
    delivery["rawPath"] = "/../etc"
    assert functions.invoke("WebhookStripeFunction", delivery)["statusCode"] == 404
    assert items_of_type("inbox") == []  # nothing verifiable was stored


def test_the_events_sample_verifies_once_signed_for_its_tenant(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    from tests.conftest import load_event

    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant, amount=4500)
    sample = load_event("webhook_stripe/checkout_session_completed.json")
    event = json.loads(sample["body"])
    event["data"]["object"]["metadata"]["payment_id"] = checkout.payment_id
    event["data"]["object"]["metadata"]["tenant_id"] = tenant
    assert _deliver(functions, tenant, event) == (200, {"received": True, "outcome": "applied"})
    assert _final_state(tenant, checkout.payment_id)["status"] == "succeeded"
    # As stored, the sample's signature is stale on purpose: it must be refused.
    sample["rawPath"] = f"/{tenant}"
    assert functions.invoke("WebhookStripeFunction", sample)["statusCode"] == 400


def test_tenants_do_not_share_an_inbox(aws: LocalStack, functions: FunctionRegistry) -> None:
    tenants = [new_tenant("a"), new_tenant("b")]
    for index, tenant in enumerate(tenants):
        configure_stripe(tenant)
        checkout = open_checkout(tenant, suffix=f"t{index}")
        event = {**session_completed(checkout), "id": "evt_same_id_in_two_accounts"}
        assert _deliver(functions, tenant, event)[1]["outcome"] == "applied"


def test_any_matching_v1_signature_is_accepted(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    import stripe

    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    body = json.dumps(session_completed(checkout))
    stamp = int(time.time())
    good = stripe.WebhookSignature._compute_signature(f"{stamp}.{body}", WEBHOOK_SECRET)
    # Stripe sends several v1 entries while a signing secret is being rolled; v0 is ignored.
    header = f"t={stamp},v1={'0' * 64},v1={good},v0=deadbeef"
    status, reply = _deliver(functions, tenant, body.encode(), signature=header)
    assert (status, reply["outcome"]) == (200, "applied")


def _refund_event(checkout: OpenCheckout, event_type: str, refund_obj: dict[str, Any]) -> Any:
    return {
        **intent_succeeded(checkout),
        "id": f"evt_{event_type}_{refund_obj['id']}",
        "type": event_type,
        "data": {"object": refund_obj},
    }


def test_refund_events_without_a_refund_list_settle_dashboard_refunds(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    _deliver(functions, tenant, session_completed(checkout))
    dashboard = {**refund(checkout, "re_d", 800), "status": "pending"}
    assert (
        _deliver(functions, tenant, _refund_event(checkout, "refund.created", dashboard))[0] == 200
    )
    pending = _final_state(tenant, checkout.payment_id)
    assert (pending["reserved"], pending["refunded"]) == (800, 0)
    done = {**dashboard, "status": "succeeded"}
    assert _deliver(functions, tenant, _refund_event(checkout, "refund.updated", done))[0] == 200
    # A modern charge.refunded (no refund list) adds nothing on top.
    bare = charge_refunded(checkout, "evt_bare", [])
    bare["data"]["object"].pop("refunds")
    assert _deliver(functions, tenant, bare)[0] == 200
    state = _final_state(tenant, checkout.payment_id)
    assert (state["status"], state["refunded"], state["reserved"]) == ("partially_refunded", 800, 0)
    assert state["refunds"] == [("re_d", 800, "succeeded")]


def test_a_refund_before_the_capture_keeps_the_intent_for_disputes_and_ordered_events(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    early = charge_refunded(checkout, "evt_early", [refund(checkout, "re_e", 1000)])
    assert _deliver(functions, tenant, early)[0] == 200
    payment = repositories.get_payment(tenant, checkout.payment_id)
    assert payment is not None
    assert (payment.status.value, payment.capture_ref) == ("partially_refunded", checkout.intent_id)
    events = [json.loads(item["envelope"]) for item in items_of_type("outbox")]
    versions = {e["type"]: e["data"]["payment"]["version"] for e in events}
    assert versions["payment.succeeded"] < versions["payment.partially_refunded"]
    assert _deliver(functions, tenant, dispute_created(checkout))[1]["outcome"] == "applied"
    assert _final_state(tenant, checkout.payment_id)["status"] == "disputed"
