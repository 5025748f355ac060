"""Creating payments and moving them between states, through the one state-change transaction.

Provider-specific services (checkout, webhooks, the sweeper) decide *what* a payment should
become; this module turns that into a :class:`~payments.store.state_change.StateChange` with the
right history, ledger entry and events, commits it, and re-decides on a lost race.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from payments.domain.events import EventEnvelope, EventType, payment_event_type
from payments.domain.ledger import JournalEntry, capture_entry
from payments.domain.payment import Customer, Payment
from payments.domain.states import PaymentStatus, decide_transition
from payments.money import Amount, amount_for
from payments.store import repositories
from payments.store.state_change import (
    CommitOutcome,
    HistoryRecord,
    InboxRecord,
    StateChange,
    commit_state_change,
)

# How often a lost race is re-read and re-decided before giving up.
_MAX_DECISIONS = 5


class PaymentNotFoundError(LookupError):
    code = "payment_not_found"


class PaymentChangedConcurrentlyError(RuntimeError):
    code = "concurrent_update"


def new_payment_id() -> str:
    return f"pay_{uuid.uuid4().hex}"


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def _event(tenant_id: str, event_type: EventType, payment: Payment, at: datetime) -> EventEnvelope:
    return EventEnvelope(
        id=new_event_id(),
        type=event_type,
        tenant_id=tenant_id,
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
) -> Payment:
    """Write a new payment in ``created`` (with its history entry and ``payment.created``)."""
    amount_for(currency, amount)
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
    )
    change = StateChange(
        payment=payment,
        history=HistoryRecord(
            PaymentStatus.CREATED, PaymentStatus.CREATED, True, "created", source
        ),
        occurred_at=now,
        expected_version=None,
        expected_status=None,
        events=[_event(tenant_id, EventType.PAYMENT_CREATED, payment, now)],
    )
    outcome = commit_state_change(change)
    if outcome is not CommitOutcome.COMMITTED:
        raise PaymentChangedConcurrentlyError(f"payment {payment.payment_id} already exists")
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
    provider_ref: str | None = None,
) -> TransitionResult:
    """Move the payment to ``requested`` if the state machine allows it; record it either way.

    A capture (-> ``succeeded``) posts the ledger entry in the same transaction. A redelivered
    inbox id changes nothing (``DUPLICATE``). A lost race is re-read and decided again.
    """
    for _ in range(_MAX_DECISIONS):
        current = repositories.get_payment(tenant_id, payment_id)
        if current is None:
            raise PaymentNotFoundError(payment_id)
        now = datetime.now(UTC)
        decision = decide_transition(current.status, requested)
        journal: JournalEntry | None = None
        events: list[EventEnvelope] = []
        updated = current
        if decision.applies:
            changes: dict[str, object] = {}
            if provider_ref is not None:
                changes["provider_ref"] = provider_ref
            if requested is PaymentStatus.SUCCEEDED and current.amount_captured == 0:
                changes["amount_captured"] = current.amount
                journal = capture_entry(
                    entry_id=f"je_{uuid.uuid4().hex}",
                    tenant_id=tenant_id,
                    payment_id=payment_id,
                    provider=current.provider,
                    amount=current.amount,
                    currency=current.currency,
                )
            updated = current.with_status(requested, now, **changes)
            events.append(_event(tenant_id, payment_event_type(requested), updated, now))
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
            write_payment=decision.applies,
            inbox=inbox,
            journal=journal,
            events=events,
        )
        outcome = commit_state_change(change)
        if outcome is not CommitOutcome.CONFLICT:
            return TransitionResult(
                updated if outcome is CommitOutcome.COMMITTED else current,
                outcome,
                decision.applies and outcome is CommitOutcome.COMMITTED,
                decision.reason,
            )
    raise PaymentChangedConcurrentlyError(payment_id)
