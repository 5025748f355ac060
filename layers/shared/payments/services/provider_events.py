"""The one provider-agnostic path for everything a provider tells us.

A verified, translated notification (:class:`~payments.providers.base.ProviderEvent`) is
applied here whatever provider sent it: find the payment, check the amount, then either settle
refunds or request the status transition, each through the single state-change transaction
(inbox dedupe on the provider's event id included). Notifications we cannot act on are recorded
and acknowledged, so the provider stops retrying them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from payments.domain.payment import Payment
from payments.domain.states import OPEN_STATUSES
from payments.money import Amount, InvalidAmountError, MoneyError, amount_for
from payments.providers.base import ProviderEvent
from payments.services.refunds import settle_refunds
from payments.services.transitions import apply_transition
from payments.store import repositories
from payments.store.state_change import CommitOutcome, InboxRecord, record_inbox


class EventOutcome(StrEnum):
    APPLIED = "applied"  # committed (whether or not the status moved: see history)
    DUPLICATE = "duplicate"  # this provider event id was processed before
    IGNORED = "ignored"  # recorded, nothing to do (unknown type or payment)
    REJECTED = "rejected"  # recorded, refused (amount mismatch, a reference of another payment)


@dataclass(frozen=True, slots=True)
class EventResult:
    outcome: EventOutcome
    payment_id: str | None = None
    reason: str | None = None


def apply_provider_event(
    *, tenant_id: str, provider: str, event: ProviderEvent, raw_payload: str
) -> EventResult:
    inbox = InboxRecord(
        provider=provider,
        event_id=event.event_id,
        tenant_id=tenant_id,
        event_type=event.event_type,
        payload=raw_payload,
    )
    if not event.actionable:
        return _record(inbox, EventOutcome.IGNORED, "unhandled_event_type")
    if event.subject is not None:
        return _apply_subject_event(tenant_id, provider, event, inbox)
    payment = locate_payment(tenant_id, provider, event)
    if payment is None:
        return _record(inbox, EventOutcome.IGNORED, "unknown_payment")
    if event.amount is not None and (event.amount, event.currency) != (
        payment.amount,
        payment.currency,
    ):
        return _record(inbox, EventOutcome.REJECTED, "amount_mismatch", payment.payment_id)
    try:
        denomination = paid_in_changes(payment, event)
        received = _received(payment, event)
    except MoneyError:
        return _record(inbox, EventOutcome.REJECTED, "invalid_amount", payment.payment_id)
    if event.refunds:
        settled = settle_refunds(
            tenant_id=tenant_id,
            payment_id=payment.payment_id,
            observations=event.refunds,
            source="provider",
            inbox=inbox,
            current=payment,
            capture_ref=event.capture_ref,
        )
        outcome = settled.outcome
    else:
        assert event.requested_status is not None  # actionable without refunds
        changes: dict[str, Any] = dict(denomination)
        if event.capture_ref:
            changes["capture_ref"] = event.capture_ref
        if event.details:
            changes["provider_details"] = {**payment.provider_details, **event.details}
        outcome = apply_transition(
            tenant_id=tenant_id,
            payment_id=payment.payment_id,
            requested=event.requested_status,
            source="provider",
            inbox=inbox,
            changes=changes,
            current=payment,
            received=received,
        ).outcome
    if outcome is CommitOutcome.REFERENCE_TAKEN:
        return _record(inbox, EventOutcome.REJECTED, "capture_ref_taken", payment.payment_id)
    if outcome is CommitOutcome.DUPLICATE:
        return EventResult(EventOutcome.DUPLICATE, payment.payment_id)
    return EventResult(EventOutcome.APPLIED, payment.payment_id)


def _apply_subject_event(
    tenant_id: str, provider: str, event: ProviderEvent, inbox: InboxRecord
) -> EventResult:
    """News about a provider object that is not a payment, applied by the service that owns
    its kind (``SubjectEvent.kind``), with the same inbox dedupe."""
    assert event.subject is not None
    if event.subject.kind != "profile":
        return _record(inbox, EventOutcome.IGNORED, "unhandled_event_type")
    from payments.services.profiles import apply_profile_event

    outcome, reason = apply_profile_event(
        tenant_id=tenant_id, provider=provider, event=event, inbox=inbox
    )
    return EventResult(EventOutcome(outcome), None, reason)


def paid_in_changes(payment: Payment, event: ProviderEvent) -> dict[str, Any]:
    """The payment's new denomination when the event names the currency the customer pays in
    and the payment, still open, is in its price currency (no price kept beside it yet): the
    amount asked in that currency becomes the payment's, the old amount its price. Nothing
    is posted before a capture, so the ledger only ever sees the currency paid in."""
    paid_in = event.paid_in
    if paid_in is None or payment.status not in OPEN_STATUSES or payment.price_currency:
        return {}
    if (paid_in.amount, paid_in.currency) == (payment.amount, payment.currency):
        return {}
    amount = amount_for(paid_in.currency, paid_in.amount)  # MoneyError: not an amount
    if amount <= 0:
        raise InvalidAmountError("the amount paid in must be positive")
    return {
        "amount": amount,
        "currency": paid_in.currency,
        "price_amount": payment.amount,
        "price_currency": payment.currency,
    }


def _received(payment: Payment, event: ProviderEvent) -> Amount | None:
    """What arrived, checked as an amount of the currency the payment is (or will be) in."""
    if event.received is None:
        return None
    currency = event.paid_in.currency if event.paid_in else payment.currency
    received = amount_for(currency, event.received)
    if received < 0:
        raise InvalidAmountError("a received amount cannot be negative")
    return received


def locate_payment(tenant_id: str, provider: str, event: ProviderEvent) -> Payment | None:
    """By our id when the provider echoes it, else by any provider reference it carries."""
    if event.payment_id:
        payment = repositories.get_payment(tenant_id, event.payment_id)
        if payment is not None and payment.provider == provider:
            return payment
    for reference in event.provider_refs:
        payment = repositories.find_payment_by_provider_ref(tenant_id, provider, reference)
        if payment is not None:
            return payment
    return None


def _record(
    inbox: InboxRecord, outcome: EventOutcome, reason: str, payment_id: str | None = None
) -> EventResult:
    if outcome is EventOutcome.REJECTED:
        # Under the payload's digest, not the event's id: a refused notification (one whose
        # content may be forged) must not block the genuine one with that id from counting.
        digest = hashlib.sha256(inbox.payload.encode()).hexdigest()
        record = replace(inbox, event_id=f"rejected_{digest}", status="rejected", reason=reason)
    else:
        record = replace(inbox, status="ignored", reason=reason)
    if not record_inbox(record):
        return EventResult(EventOutcome.DUPLICATE, payment_id, reason)
    return EventResult(outcome, payment_id, reason)
