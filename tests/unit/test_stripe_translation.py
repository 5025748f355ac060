"""Stripe events in our terms (pure translation; shapes as Stripe sends them)."""

from __future__ import annotations

from typing import Any

import pytest

from payments.domain.refunds import RefundStatus
from payments.domain.states import PaymentStatus
from payments.providers.stripe import translate_event
from payments.services.credentials import redacted


def _event(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": "evt_1", "object": "event", "type": event_type, "data": {"object": obj}}


SESSION = {
    "id": "cs_1",
    "object": "checkout.session",
    "amount_total": 4500,
    "currency": "usd",
    "client_reference_id": "pay_1",
    "metadata": {"payment_id": "pay_1", "tenant_id": "ten_1"},
    "payment_intent": "pi_1",
    "payment_status": "paid",
}


@pytest.mark.parametrize(
    ("event_type", "payment_status", "requested"),
    [
        ("checkout.session.completed", "paid", PaymentStatus.SUCCEEDED),
        ("checkout.session.completed", "no_payment_required", PaymentStatus.SUCCEEDED),
        ("checkout.session.completed", "unpaid", PaymentStatus.PENDING),
        ("checkout.session.async_payment_succeeded", "paid", PaymentStatus.SUCCEEDED),
        ("checkout.session.async_payment_failed", "unpaid", PaymentStatus.FAILED),
        ("checkout.session.expired", "unpaid", PaymentStatus.EXPIRED),
    ],
)
def test_session_events(event_type: str, payment_status: str, requested: PaymentStatus) -> None:
    event = translate_event(_event(event_type, {**SESSION, "payment_status": payment_status}))
    assert event.requested_status is requested
    assert event.payment_id == "pay_1"
    assert event.provider_refs == ("cs_1", "pi_1")
    captured = requested is PaymentStatus.SUCCEEDED
    assert event.capture_ref == ("pi_1" if captured else None)
    assert (event.amount, event.currency) == ((4500, "USD") if captured else (None, None))


def test_a_session_without_metadata_falls_back_to_client_reference_id() -> None:
    event = translate_event(_event("checkout.session.completed", {**SESSION, "metadata": {}}))
    assert event.payment_id == "pay_1"


def test_payment_intent_events_capture_the_received_amount() -> None:
    intent = {"id": "pi_1", "amount_received": 4500, "currency": "usd", "metadata": {}}
    succeeded = translate_event(_event("payment_intent.succeeded", intent))
    assert (succeeded.requested_status, succeeded.capture_ref) == (PaymentStatus.SUCCEEDED, "pi_1")
    assert succeeded.payment_id is None  # found through the PaymentIntent reference instead
    failed = translate_event(_event("payment_intent.payment_failed", intent))
    assert (failed.requested_status, failed.amount) == (PaymentStatus.FAILED, None)


def test_charge_refunded_reports_every_refund_with_our_id_when_we_asked_for_it() -> None:
    charge = {
        "id": "ch_1",
        "payment_intent": "pi_1",
        "metadata": {"payment_id": "pay_1"},
        "refunds": {
            "data": [
                {
                    "id": "re_1",
                    "amount": 100,
                    "status": "succeeded",
                    "metadata": {"refund_id": "rf_a"},
                },
                {"id": "re_2", "amount": 50, "status": "pending", "metadata": {}},
                {"id": "re_3", "amount": 25, "status": "requires_action"},
                {"id": "re_4", "amount": 10, "status": "failed"},
            ]
        },
    }
    event = translate_event(_event("charge.refunded", charge))
    assert event.requested_status is None
    assert event.actionable
    assert [(r.provider_refund_id, r.amount, r.status, r.our_refund_id) for r in event.refunds] == [
        ("re_1", 100, RefundStatus.SUCCEEDED, "rf_a"),
        ("re_2", 50, RefundStatus.PENDING, None),
        ("re_3", 25, RefundStatus.PENDING, None),
        ("re_4", 10, RefundStatus.FAILED, None),
    ]


def test_disputes_are_found_by_intent_and_charge() -> None:
    dispute = {"id": "dp_1", "charge": "ch_1", "payment_intent": "pi_1", "metadata": {}}
    event = translate_event(_event("charge.dispute.created", dispute))
    assert (event.requested_status, event.provider_refs) == (
        PaymentStatus.DISPUTED,
        ("pi_1", "ch_1"),
    )


def test_other_events_are_not_actionable() -> None:
    assert not translate_event(_event("customer.created", {"id": "cus_1"})).actionable


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("sk_test_51Habcdefghijklmnop1234", "sk_****1234"),
        ("whsec_abcdefghijklmn9876", "whsec_****9876"),
        ("short", "****"),
        ("noprefixvalue0000wxyz", "****wxyz"),
    ],
)
def test_credentials_are_only_ever_shown_redacted(value: str, shown: str) -> None:
    assert redacted(value) == shown


@pytest.mark.parametrize("event_type", ["refund.created", "refund.updated", "refund.failed"])
def test_refund_events_carry_one_refund_each(event_type: str) -> None:
    # Since API version 2022-11-15 charges no longer list refunds; refund.* events do.
    refund = {
        "id": "re_9",
        "object": "refund",
        "amount": 700,
        "charge": "ch_1",
        "payment_intent": "pi_1",
        "status": "failed" if event_type == "refund.failed" else "succeeded",
        "metadata": {},
    }
    event = translate_event(_event(event_type, refund))
    assert event.provider_refs == ("pi_1", "ch_1")
    assert event.capture_ref == "pi_1"
    [observed] = event.refunds
    assert (observed.provider_refund_id, observed.amount) == ("re_9", 700)
