"""The provider-agnostic path for what providers tell us: details a payment shows, and
captured references that count for one payment only (through moto)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from devstack.template import LocalStack
from payments.domain.states import PaymentStatus
from payments.providers.base import Denomination, ProviderEvent
from payments.services.provider_events import EventOutcome, apply_provider_event
from payments.store import repositories
from tests.integration.helpers import items_of_type, new_payment, new_tenant


def _capture(tenant: str, payment_id: str, event_id: str, capture_ref: str) -> EventOutcome:
    event = ProviderEvent(
        event_id=event_id,
        event_type="payment.captured",
        payment_id=payment_id,
        requested_status=PaymentStatus.SUCCEEDED,
        capture_ref=capture_ref,
        details={"receipt_number": capture_ref},
    )
    return apply_provider_event(
        tenant_id=tenant, provider="stripe", event=event, raw_payload=f'{{"id": "{event_id}"}}'
    ).outcome


def test_a_captured_reference_counts_for_one_payment_of_a_tenant(aws: LocalStack) -> None:
    tenant = new_tenant()
    first, second = new_payment(tenant, payable_id="a"), new_payment(tenant, payable_id="b")
    assert _capture(tenant, first.payment_id, "evt_1", "RCPT0001") is EventOutcome.APPLIED
    # The same reference on another payment: refused, recorded, and no money moves.
    assert _capture(tenant, second.payment_id, "evt_2", "RCPT0001") is EventOutcome.REJECTED
    assert repositories.get_payment(tenant, second.payment_id).status is PaymentStatus.CREATED  # type: ignore[union-attr]
    [rejected] = [item for item in items_of_type("inbox") if item["status"] == "rejected"]
    assert rejected["reason"] == "capture_ref_taken"
    assert [entry["payment_id"] for entry in items_of_type("journal_entry")] == [first.payment_id]
    # Another tenant's payment may carry the same reference (its own provider account's).
    other = new_tenant("Other")
    third = new_payment(other)
    assert _capture(other, third.payment_id, "evt_3", "RCPT0001") is EventOutcome.APPLIED


def test_what_the_provider_reports_is_shown_on_the_payment(aws: LocalStack) -> None:
    tenant = new_tenant()
    payment = new_payment(tenant)
    _capture(tenant, payment.payment_id, "evt_1", "RCPT0002")
    stored = repositories.get_payment(tenant, payment.payment_id)
    assert stored is not None
    assert stored.public_view()["provider_details"] == {"receipt_number": "RCPT0002"}
    assert stored.capture_ref == "RCPT0002"


def _progress(tenant: str, payment_id: str, event_id: str, status: str) -> EventOutcome:
    """A notification that the payment is still open, with the provider's own status."""
    event = ProviderEvent(
        event_id=event_id,
        event_type="payment.progress",
        payment_id=payment_id,
        requested_status=PaymentStatus.PENDING,
        details={"provider_status": status},
    )
    return apply_provider_event(
        tenant_id=tenant, provider="stripe", event=event, raw_payload=f'{{"id": "{event_id}"}}'
    ).outcome


def test_an_open_payment_shows_its_providers_progress_without_new_events(
    aws: LocalStack,
) -> None:
    tenant = new_tenant()
    payment = new_payment(tenant)
    assert _progress(tenant, payment.payment_id, "evt_1", "waiting") is EventOutcome.APPLIED
    outbox_after_pending = len(items_of_type("outbox"))
    assert outbox_after_pending == 2  # payment.created, payment.pending
    assert _progress(tenant, payment.payment_id, "evt_2", "confirming") is EventOutcome.APPLIED
    stored = repositories.get_payment(tenant, payment.payment_id)
    assert stored is not None
    assert stored.status is PaymentStatus.PENDING
    assert stored.provider_details == {"provider_status": "confirming"}
    assert stored.version == 3  # created, pending, then the details
    # The status did not move: no event leaves for it.
    assert len(items_of_type("outbox")) == outbox_after_pending
    # The same news again changes nothing.
    assert _progress(tenant, payment.payment_id, "evt_3", "confirming") is EventOutcome.APPLIED
    assert repositories.get_payment(tenant, payment.payment_id).version == 3  # type: ignore[union-attr]
    # Once settled, a late progress notification never rewrites what the payment showed.
    _capture(tenant, payment.payment_id, "evt_4", "RCPT0003")
    assert _progress(tenant, payment.payment_id, "evt_5", "sending") is EventOutcome.APPLIED
    settled = repositories.get_payment(tenant, payment.payment_id)
    assert settled is not None
    assert settled.status is PaymentStatus.SUCCEEDED
    assert settled.provider_details == {
        "provider_status": "confirming",
        "receipt_number": "RCPT0003",
    }


def _paid_in(
    tenant: str,
    payment_id: str,
    event_id: str,
    status: PaymentStatus,
    paid_in: Denomination | None,
    received: Decimal | int | None = None,
) -> EventOutcome:
    """A notification naming the currency the customer pays in (an invoice's coin)."""
    event = ProviderEvent(
        event_id=event_id,
        event_type="payment.update",
        payment_id=payment_id,
        requested_status=status,
        capture_ref=f"ref_{event_id}" if status is PaymentStatus.SUCCEEDED else None,
        paid_in=paid_in,
        received=received,
    )
    return apply_provider_event(
        tenant_id=tenant, provider="stripe", event=event, raw_payload=f'{{"id": "{event_id}"}}'
    ).outcome


def _journal_lines(payment_id: str) -> list[tuple[str, str, Decimal, Decimal]]:
    return sorted(
        (line["account"], line["currency"], line["debit"], line["credit"])
        for entry in items_of_type("journal_entry")
        if entry["payment_id"] == payment_id
        for line in entry["lines"]
    )


def test_an_open_payment_takes_the_currency_it_is_paid_in_and_keeps_its_price(
    aws: LocalStack,
) -> None:
    tenant = new_tenant()
    payment = new_payment(tenant)  # KES 25.00
    btc = Denomination(Decimal("0.00001940"), "BTC")
    assert _paid_in(tenant, payment.payment_id, "e1", PaymentStatus.PENDING, btc) == (
        EventOutcome.APPLIED
    )
    stored = repositories.get_payment(tenant, payment.payment_id)
    assert stored is not None
    assert (stored.amount, stored.currency) == (Decimal("0.0000194"), "BTC")
    assert (stored.price_amount, stored.price_currency) == (2500, "KES")
    assert stored.status is PaymentStatus.PENDING
    # Once it has a price, the denomination is settled: another coin does not move it again.
    eth = Denomination(Decimal("0.0004"), "ETH")
    _paid_in(tenant, payment.payment_id, "e2", PaymentStatus.PENDING, eth)
    again = repositories.get_payment(tenant, payment.payment_id)
    assert again is not None
    assert (again.amount, again.currency) == (Decimal("0.0000194"), "BTC")
    # The capture posts the coin, never the price.
    assert _paid_in(tenant, payment.payment_id, "e3", PaymentStatus.SUCCEEDED, btc) == (
        EventOutcome.APPLIED
    )
    captured = repositories.get_payment(tenant, payment.payment_id)
    assert captured is not None
    assert captured.amount_captured == Decimal("0.0000194")
    assert {line[1] for line in _journal_lines(payment.payment_id)} == {"BTC"}


def test_the_capture_that_names_the_currency_paid_in_posts_that_currency(
    aws: LocalStack,
) -> None:
    tenant = new_tenant()
    payment = new_payment(tenant)
    usdt = Denomination(Decimal("0.19"), "USDTTRC20")
    assert _paid_in(tenant, payment.payment_id, "e1", PaymentStatus.SUCCEEDED, usdt) == (
        EventOutcome.APPLIED
    )
    stored = repositories.get_payment(tenant, payment.payment_id)
    assert stored is not None
    assert (stored.currency, stored.amount_captured) == ("USDTTRC20", Decimal("0.19"))
    assert (stored.price_amount, stored.price_currency) == (2500, "KES")
    lines = _journal_lines(payment.payment_id)
    assert [(currency, debit + credit) for _, currency, debit, credit in lines] == [
        ("USDTTRC20", Decimal("0.19")),
        ("USDTTRC20", Decimal("0.19")),
    ]


def test_a_capture_posts_what_arrived_when_it_is_more_than_was_asked(aws: LocalStack) -> None:
    tenant = new_tenant()
    payment = new_payment(tenant)
    btc = Denomination(Decimal("0.0000194"), "BTC")
    overpaid = Decimal("0.0000250")
    assert _paid_in(
        tenant, payment.payment_id, "e1", PaymentStatus.SUCCEEDED, btc, received=overpaid
    ) == (EventOutcome.APPLIED)
    stored = repositories.get_payment(tenant, payment.payment_id)
    assert stored is not None
    # Asked 0.0000194, captured 0.000025: the overpayment shows and is in the ledger.
    assert (stored.amount, stored.amount_captured) == (Decimal("0.0000194"), Decimal("0.000025"))
    amounts = {line[2] + line[3] for line in _journal_lines(payment.payment_id)}
    assert amounts == {Decimal("0.000025")}


@pytest.mark.parametrize(
    ("paid_in", "received"),
    [
        (Denomination(0.0001, "BTC"), None),  # type: ignore[arg-type]  # a float
        (Denomination(Decimal("-1"), "BTC"), None),
        (Denomination(Decimal("0"), "BTC"), None),
        (Denomination(25, "BTC"), None),  # an int for a coin
        (Denomination(Decimal("0.0001"), "BTC"), Decimal("-0.1")),
        (Denomination(Decimal("0.0001"), "BTC"), 1),  # received of the wrong kind
    ],
)
def test_a_malformed_amount_paid_in_is_refused_and_nothing_moves(
    aws: LocalStack, paid_in: Denomination, received: Decimal | int | None
) -> None:
    tenant = new_tenant()
    payment = new_payment(tenant)
    outcome = _paid_in(
        tenant, payment.payment_id, "e1", PaymentStatus.SUCCEEDED, paid_in, received=received
    )
    assert outcome is EventOutcome.REJECTED
    stored = repositories.get_payment(tenant, payment.payment_id)
    assert stored is not None
    assert (stored.status, stored.currency) == (
        PaymentStatus.CREATED,
        "KES",
    )
    assert _journal_lines(payment.payment_id) == []
    [rejected] = [item for item in items_of_type("inbox") if item["status"] == "rejected"]
    assert rejected["reason"] == "invalid_amount"
