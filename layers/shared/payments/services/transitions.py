"""Creating payments and moving them between states, through the one state-change transaction.

Provider-specific services (checkout, webhooks, the sweeper) decide *what* a payment should
become; this module turns that into a :class:`~payments.store.state_change.StateChange` with the
right history, ledger entry and events, commits it, and re-decides on a lost race.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from payments.domain.events import EventEnvelope, EventType, payment_event_type
from payments.domain.ledger import (
    JournalEntry,
    capture_entry,
    reversal_entry,
    settlement_entry,
)
from payments.domain.payment import Customer, Payment
from payments.domain.states import (
    CAPTURED_STATUSES,
    OPEN_STATUSES,
    PaymentStatus,
    decide_transition,
)
from payments.errors import BusyError, NotFoundError
from payments.logs import function_logger
from payments.money import Amount, amount_for
from payments.observability import Metric, bind, count
from payments.providers import get_spec
from payments.providers.spec import ProviderSpec
from payments.store import repositories
from payments.store.mapping import provider_ref_item
from payments.store.state_change import (
    CommitOutcome,
    ConditionalPut,
    HistoryRecord,
    InboxRecord,
    StateChange,
    commit_state_change,
    unique_ref_claim,
)

REFUND_STATUSES = frozenset({PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED})
# How often a lost race is re-read and re-decided before giving up.
_MAX_DECISIONS = 5


class PaymentNotFoundError(NotFoundError):
    code = "payment_not_found"


class PaymentChangedConcurrentlyError(BusyError):
    pass


def new_payment_id() -> str:
    return f"pay_{uuid.uuid4().hex}"


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def payment_event(event_type: EventType, payment: Payment, at: datetime) -> EventEnvelope:
    """An event about ``payment`` as it is after the change."""
    return EventEnvelope(
        id=new_event_id(),
        type=event_type,
        tenant_id=payment.tenant_id,
        occurred_at=at,
        data={"payment": payment.public_view()},
    )


def create_payment(
    *,
    tenant_id: str,
    payable_type: str,
    payable_id: str,
    amount: Amount,
    currency: str,
    provider: str,
    description: str = "",
    customer: Customer | None = None,
    metadata: dict[str, str] | None = None,
    payment_id: str | None = None,
    source: str = "api",
    price_amount: Amount | None = None,
    price_currency: str | None = None,
    provider_details: dict[str, str] | None = None,
    extra_items: Sequence[ConditionalPut] = (),
) -> Payment:
    """Write a new payment in ``created`` (with its history entry and ``payment.created``).
    ``price_amount``/``price_currency``: the order's price when the payment is in another
    currency (a crypto payment priced in fiat)."""
    amount_for(currency, amount)
    if (price_amount is None) != (price_currency is None):
        raise ValueError("a price needs both its amount and its currency")
    if price_currency is not None:
        amount_for(price_currency, price_amount)
    now = datetime.now(UTC)
    payment = Payment(
        payment_id=payment_id or new_payment_id(),
        tenant_id=tenant_id,
        payable_type=payable_type,
        payable_id=payable_id,
        amount=amount,
        currency=currency,
        provider=provider,
        status=PaymentStatus.CREATED,
        version=1,
        created_at=now,
        updated_at=now,
        description=description,
        customer=customer or Customer(),
        metadata=dict(metadata or {}),
        price_amount=price_amount,
        price_currency=price_currency,
        provider_details=dict(provider_details or {}),
        # Zero of the amount's own type: 0 for fiat, Decimal("0") for crypto.
        amount_captured=amount - amount,
        amount_refunded=amount - amount,
        amount_refund_pending=amount - amount,
    )
    change = StateChange(
        payment=payment,
        history=HistoryRecord(
            PaymentStatus.CREATED, PaymentStatus.CREATED, True, "created", source
        ),
        occurred_at=now,
        expected_version=None,
        expected_status=None,
        events=[payment_event(EventType.PAYMENT_CREATED, payment, now)],
        extra_items=extra_items,
    )
    outcome = commit_state_change(change)
    if outcome is not CommitOutcome.COMMITTED:
        raise PaymentChangedConcurrentlyError(f"payment {payment.payment_id} already exists")
    _committed(change)
    count(Metric.PAYMENTS_CREATED, provider=provider)
    return payment


@dataclass(frozen=True, slots=True)
class TransitionResult:
    payment: Payment
    outcome: CommitOutcome
    applied: bool
    reason: str


def apply_transition(
    *,
    tenant_id: str,
    payment_id: str,
    requested: PaymentStatus,
    source: str,
    inbox: InboxRecord | None = None,
    changes: Mapping[str, Any] | None = None,
    current: Payment | None = None,
    received: Amount | None = None,
) -> TransitionResult:
    """Move the payment to ``requested`` if the state machine allows it; record it either way.

    ``changes`` are other fields the transition sets when it applies (``provider_ref``,
    ``capture_ref``, ``checkout_url``...). A capture (-> ``succeeded``) posts the ledger entry in
    the same transaction. A new ``capture_ref`` is claimed for this payment alone within its
    tenant and provider; one another payment holds is ``REFERENCE_TAKEN`` (nothing written).
    A redelivered inbox id changes nothing (``DUPLICATE``). A lost race is re-read and decided
    again. ``current`` saves the first read when the caller has it. ``received``: what
    actually arrived when the provider says it differs from the amount (a crypto overpayment);
    the capture posts it and the payment shows it as ``amount_captured``.
    """
    if requested in REFUND_STATUSES:
        raise ValueError("refund statuses follow from succeeded refunds (services.refunds)")
    for _ in range(_MAX_DECISIONS):
        if current is None:
            current = repositories.get_payment(tenant_id, payment_id)
        if current is None:
            raise PaymentNotFoundError(payment_id)
        now = datetime.now(UTC)
        spec = get_spec(current.provider)
        decision = decide_transition(
            current.status, requested, settles_later=spec.settlement is not None
        )
        journal: list[JournalEntry] = []
        events: list[EventEnvelope] = []
        extra: list[ConditionalPut] = []
        updated = current
        refreshed = _refreshed_fields(current, requested, changes)
        if refreshed and not decision.applies:
            # An open payment that stays where it is, with news from its provider (a crypto
            # payment "confirming", an underpayment's amount, the coin an invoice is paid in):
            # those fields change, the status and its events do not.
            updated = current.with_changes(now, **refreshed)
        if decision.applies:
            updated = current.with_status(requested, now, **dict(changes or {}))
            updated = _post(spec, current, updated, received, journal)
            if updated.capture_ref and updated.capture_ref != current.capture_ref:
                # Later notifications (disputes) may only name the captured payment.
                extra.append(ConditionalPut(provider_ref_item(updated, updated.capture_ref)))
                # And no captured reference (a receipt number) counts for two payments.
                extra.append(unique_ref_claim(updated, updated.capture_ref))
            events.append(payment_event(payment_event_type(requested), updated, now))
            if spec.companion_events is not None:
                events.extend(
                    EventEnvelope(new_event_id(), kind, updated.tenant_id, now, data)
                    for kind, data in spec.companion_events(updated, requested)
                )
        change = StateChange(
            payment=updated,
            history=HistoryRecord(
                current.status,
                requested,
                decision.applies,
                decision.reason,
                source,
                inbox.event_id if inbox else None,
            ),
            occurred_at=now,
            expected_version=current.version,
            expected_status=current.status,
            write_payment=decision.applies or updated is not current,
            inbox=inbox,
            journal=journal,
            events=events,
            extra_items=extra,
        )
        outcome = commit_state_change(change)
        if outcome is CommitOutcome.COMMITTED and decision.applies:
            _committed(change)
            if requested in _OUTCOME_METRICS:
                count(_OUTCOME_METRICS[requested], provider=updated.provider)
        if outcome is not CommitOutcome.CONFLICT:
            return TransitionResult(
                updated if outcome is CommitOutcome.COMMITTED else current,
                outcome,
                decision.applies and outcome is CommitOutcome.COMMITTED,
                decision.reason,
            )
        current = None
    raise PaymentChangedConcurrentlyError(payment_id)


def _post(
    spec: ProviderSpec,
    current: Payment,
    updated: Payment,
    received: Amount | None,
    journal: list[JournalEntry],
) -> Payment:
    """The ledger postings of an applied transition from ``current`` to ``updated`` (added to
    ``journal``), and the payment with what they captured. A capture (``succeeded``, or
    ``settled`` of money not captured yet) posts what arrived, in the currency this transition
    leaves the payment in (an invoice's coin); a provider that settles later posts it in
    transit, moves it on at ``settled`` and takes it back at a ``failed`` after clearing."""
    requested = updated.status
    settles_later = spec.settlement is not None
    party = spec.settlement.party(updated) if spec.settlement is not None else None
    if requested in (PaymentStatus.SUCCEEDED, PaymentStatus.SETTLED) and (
        current.amount_captured == 0
    ):
        captured = updated.amount if received is None else received
        if captured <= 0:
            raise ValueError("a capture needs a positive amount")
        journal.extend(
            replace(entry, shard_key=party)
            for entry in capture_journal(updated, captured, in_transit=settles_later, party=party)
        )
        updated = replace(updated, amount_captured=captured)
    if requested is PaymentStatus.SETTLED and settles_later:
        journal.append(_entry(settlement_entry, updated, updated.amount_captured, party))
    if (
        requested is PaymentStatus.FAILED
        and settles_later
        and current.status in CAPTURED_STATUSES
        and current.amount_captured != 0
    ):
        journal.append(_entry(reversal_entry, updated, current.amount_captured, party))
        updated = replace(updated, amount_captured=current.amount_captured * 0)
    return updated


def _entry(make: Any, payment: Payment, amount: Amount, party: str | None) -> JournalEntry:
    entry: JournalEntry = make(
        entry_id=f"je_{uuid.uuid4().hex}",
        tenant_id=payment.tenant_id,
        payment_id=payment.payment_id,
        provider=payment.provider,
        amount=amount,
        currency=payment.currency,
        party=party,
    )
    return replace(entry, shard_key=party)


# What an open payment may take from a notification that leaves its status as it is.
_REFRESHABLE = ("provider_details", "amount", "currency", "price_amount", "price_currency")


def _refreshed_fields(
    current: Payment, requested: PaymentStatus, changes: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The fields an open payment takes when a notification asks for the status it already
    has and says something new: its provider details, and the currency it is paid in when the
    provider names it (see ``provider_events.paid_in_changes``). Nothing otherwise: a late
    notification about a settled payment never rewrites what it showed when it settled."""
    if current.status not in OPEN_STATUSES or requested != current.status or not changes:
        return {}
    fields: dict[str, Any] = {}
    details = changes.get("provider_details")
    if isinstance(details, Mapping) and dict(details) != current.provider_details:
        fields["provider_details"] = {str(k): str(v) for k, v in details.items()}
    for name in _REFRESHABLE[1:]:
        if name in changes and changes[name] != getattr(current, name):
            fields[name] = changes[name]
    return fields


# A payment's final outcomes, as the operator counts them (expired and canceled are failures to
# pay, in the status dimension).
_OUTCOME_METRICS = {
    PaymentStatus.SUCCEEDED: Metric.PAYMENTS_SUCCEEDED,
    PaymentStatus.FAILED: Metric.PAYMENTS_FAILED,
    PaymentStatus.EXPIRED: Metric.PAYMENTS_FAILED,
    PaymentStatus.CANCELED: Metric.PAYMENTS_FAILED,
}


def _committed(change: StateChange) -> None:
    """The log line that joins a request to what it caused: the payment and the outbox
    events (each later callback delivery logs its event id)."""
    bind(payment_id=change.payment.payment_id)
    function_logger().info(
        "payment state committed",
        extra={
            "payment_id": change.payment.payment_id,
            "status": change.payment.status.value,
            "event_ids": [event.id for event in change.events],
            "journal_entries": [entry.entry_id for entry in change.journal],
        },
    )


def capture_journal(
    payment: Payment,
    received: Amount | None = None,
    *,
    in_transit: bool = False,
    party: str | None = None,
) -> list[JournalEntry]:
    """The capture posting of ``received`` (default: the payment's amount), unless this
    payment's money was already captured."""
    if payment.amount_captured != 0:
        return []
    amount = payment.amount if received is None else received
    return [
        capture_entry(
            entry_id=f"je_{uuid.uuid4().hex}",
            tenant_id=payment.tenant_id,
            payment_id=payment.payment_id,
            provider=payment.provider,
            amount=amount,
            currency=payment.currency,
            in_transit=in_transit,
            party=party,
        )
    ]
