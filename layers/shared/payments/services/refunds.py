"""Refunds: asking the provider for one, and settling what the provider reports.

Both paths end in :func:`settle_refunds`, which matches each reported refund to our record (by
our refund id, which we send as provider metadata, else by the provider's refund id), so a refund
confirmed by the API answer, by a webhook, or started in the provider's dashboard is counted
exactly once. The payment's refunded amount is the sum of succeeded refunds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from payments.domain.events import payment_event_type
from payments.domain.ledger import JournalEntry, refund_entry
from payments.domain.payment import Payment
from payments.domain.refunds import (
    REFUNDABLE_STATUSES,
    Refund,
    RefundStatus,
    refundable_amount,
    status_after_refunds,
)
from payments.domain.states import PaymentStatus, decide_transition
from payments.errors import ConflictError, UnprocessableError
from payments.money import Amount, amount_for
from payments.providers import SPECS, get_spec, refunds
from payments.providers.base import ProviderRejectedError, RefundObservation
from payments.services.credentials import provider_credentials
from payments.services.transitions import (
    PaymentChangedConcurrentlyError,
    PaymentNotFoundError,
    capture_journal,
    payment_event,
)
from payments.store import repositories
from payments.store.mapping import provider_ref_item
from payments.store.state_change import (
    CommitOutcome,
    ConditionalPut,
    HistoryRecord,
    InboxRecord,
    StateChange,
    commit_state_change,
    record_inbox,
    refund_write,
)

_MAX_DECISIONS = 5


class RefundExceedsBalanceError(UnprocessableError):
    code = "refund_exceeds_balance"


class PaymentNotRefundableError(ConflictError):
    code = "payment_not_refundable"


def refund_reasons() -> dict[str, frozenset[str]]:
    """The reasons a refund may give, by provider (from each provider's spec)."""
    return {
        spec.display_name: spec.refund_reasons for spec in SPECS.values() if spec.refund_reasons
    }


def refund_id_for(tenant_id: str, payment_id: str, idempotency_key: str) -> str:
    """The same request (tenant, payment, Idempotency-Key) always names the same refund."""
    digest = hashlib.sha256(
        f"{tenant_id}\x00{payment_id}\x00{idempotency_key}".encode()
    ).hexdigest()
    return f"rf_{digest[:32]}"


# --- asking for a refund ---------------------------------------------------------------------


def request_refund(
    *,
    tenant_id: str,
    payment_id: str,
    amount: int | None,
    reason: str | None,
    idempotency_key: str,
) -> dict[str, object]:
    """Reserve the amount, ask the provider, settle if it already succeeded. Returns the refund."""
    refund_id = refund_id_for(tenant_id, payment_id, idempotency_key)
    payment = repositories.get_payment(tenant_id, payment_id)
    if payment is None:
        raise PaymentNotFoundError(f"no payment {payment_id}")
    # Before anything is reserved: a provider that cannot refund, or a tenant without it, gets
    # a clean 409.
    provider = refunds(payment.provider)
    credentials = provider_credentials(tenant_id, payment.provider)
    refund = _existing(payment_id, refund_id) or _reserve(payment, refund_id, amount, reason)
    if refund.status is not RefundStatus.PENDING:
        return refund.public_view()
    try:
        observed = provider.create_refund(
            credentials,
            payment,
            refund_id=refund_id,
            amount=refund.amount,
            reason=refund.reason,
            idempotency_key=f"refund:{refund_id}",
        )
    except ProviderRejectedError:
        # A final "no": release the reservation, keep the record as failed, tell the client.
        settle_refunds(
            tenant_id=tenant_id,
            payment_id=payment_id,
            observations=[RefundObservation("", refund.amount, RefundStatus.FAILED, refund_id)],
            source="api",
        )
        raise
    settle_refunds(
        tenant_id=tenant_id, payment_id=payment_id, observations=[observed], source="api"
    )
    settled = _existing(payment_id, refund_id)
    return (settled or refund).public_view()


def _existing(payment_id: str, refund_id: str) -> Refund | None:
    for refund in repositories.get_refunds(payment_id):
        if refund.refund_id == refund_id:
            return refund
    return None


def _reserve(payment: Payment, refund_id: str, amount: int | None, reason: str | None) -> Refund:
    """Record a pending refund and reserve its amount, conditional on the payment's version."""
    reasons = get_spec(payment.provider).refund_reasons
    if reason is not None and reason not in reasons:
        raise UnprocessableError(
            f"reason must be one of {', '.join(sorted(reasons))}"
            if reasons
            else f"{payment.provider} refunds take no reason",
            code="invalid_reason",
        )
    for _ in range(_MAX_DECISIONS):
        if payment.status not in REFUNDABLE_STATUSES:
            raise PaymentNotRefundableError(f"a {payment.status.value} payment cannot be refunded")
        available = refundable_amount(payment)
        wanted = available if amount is None else amount_for(payment.currency, amount)
        if wanted <= 0:
            if amount is None:
                raise RefundExceedsBalanceError("nothing left to refund")
            raise UnprocessableError("amount must be positive", code="invalid_amount")
        if wanted > available:
            raise RefundExceedsBalanceError(
                f"at most {available} can be refunded ({payment.currency} minor units)"
            )
        now = datetime.now(UTC)
        refund = Refund(
            refund_id=refund_id,
            payment_id=payment.payment_id,
            tenant_id=payment.tenant_id,
            provider=payment.provider,
            amount=wanted,
            currency=payment.currency,
            status=RefundStatus.PENDING,
            source="api",
            created_at=now,
            updated_at=now,
            reason=reason,
        )
        updated = payment.with_changes(
            now, amount_refund_pending=payment.amount_refund_pending + wanted
        )
        outcome = commit_state_change(
            StateChange(
                payment=updated,
                history=HistoryRecord(
                    payment.status, payment.status, True, "refund_requested", "api"
                ),
                occurred_at=now,
                expected_version=payment.version,
                expected_status=payment.status,
                extra_items=[refund_write(refund, expected_version=None)],
            )
        )
        if outcome is CommitOutcome.COMMITTED:
            return refund
        existing = _existing(payment.payment_id, refund_id)
        if existing is not None:  # the same request, concurrently
            return existing
        fresh = repositories.get_payment(payment.tenant_id, payment.payment_id)
        if fresh is None:
            raise PaymentNotFoundError(payment.payment_id)
        payment = fresh
    raise PaymentChangedConcurrentlyError(payment.payment_id)


# --- settling what the provider reports ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SettlementResult:
    outcome: CommitOutcome
    refunded_now: Amount
    payment: Payment


def settle_refunds(
    *,
    tenant_id: str,
    payment_id: str,
    observations: Sequence[RefundObservation],
    source: str,
    inbox: InboxRecord | None = None,
    current: Payment | None = None,
    capture_ref: str | None = None,
) -> SettlementResult:
    """Apply the provider's view of a payment's refunds, exactly once per refund.

    Succeeded refunds not yet counted are counted (ledger reversal, refunded amount, status);
    failed or canceled ones release their reservation. A refund reported for a payment whose
    capture we have not seen yet implies the capture (notifications arrive in any order).
    """
    for _ in range(_MAX_DECISIONS):
        payment = current or repositories.get_payment(tenant_id, payment_id)
        current = None
        if payment is None:
            raise PaymentNotFoundError(payment_id)
        known = repositories.get_refunds(payment_id)
        by_ours = {refund.refund_id: refund for refund in known}
        by_provider = {r.provider_refund_id: r for r in known if r.provider_refund_id}
        now = datetime.now(UTC)
        puts: list[ConditionalPut] = []
        journal: list[JournalEntry] = []
        refunded_now: Amount = payment.amount - payment.amount
        reserved_delta: Amount = payment.amount - payment.amount
        for observed in observations:
            record = by_ours.get(observed.our_refund_id or "") or by_provider.get(
                observed.provider_refund_id
            )
            if record is not None and record.status is not RefundStatus.PENDING:
                continue  # already final: counted (or released) once
            if observed.status is RefundStatus.PENDING:
                if record is None:  # started elsewhere (dashboard) and still pending
                    record = _provider_refund(payment, observed, now)
                    puts.append(refund_write(record, expected_version=None))
                    reserved_delta += observed.amount
                continue
            if record is None:
                base = _provider_refund(payment, observed, now)
            else:
                base = record
                reserved_delta -= record.amount
            settled = base.settled(observed.status, now, observed.provider_refund_id)
            puts.append(refund_write(settled, expected_version=record.version if record else None))
            if observed.status is RefundStatus.SUCCEEDED:
                refunded_now += settled.amount
                journal.append(
                    refund_entry(
                        entry_id=f"je_{settled.refund_id}",
                        tenant_id=tenant_id,
                        payment_id=payment_id,
                        provider=payment.provider,
                        amount=settled.amount,
                        currency=payment.currency,
                    )
                )
        if not puts:
            if inbox is not None:
                record_inbox(replace(inbox, reason="nothing_new"))
            return SettlementResult(CommitOutcome.DUPLICATE, refunded_now, payment)
        outcome, updated = _commit_settlement(
            payment, puts, journal, refunded_now, reserved_delta, source, inbox, now, capture_ref
        )
        if outcome is not CommitOutcome.CONFLICT:
            return SettlementResult(outcome, refunded_now, updated)
    raise PaymentChangedConcurrentlyError(payment_id)


def _commit_settlement(
    payment: Payment,
    puts: list[ConditionalPut],
    journal: list[JournalEntry],
    refunded_now: Amount,
    reserved_delta: Amount,
    source: str,
    inbox: InboxRecord | None,
    now: datetime,
    capture_ref: str | None,
) -> tuple[CommitOutcome, Payment]:
    base, events = payment, []
    if refunded_now > 0 and payment.amount_captured == 0:
        # The refund proves a capture we have not been told about yet: record the capture as
        # its own version first, so each event shows the payment as it was at that step.
        journal = capture_journal(payment) + journal
        base = payment.with_status(
            PaymentStatus.SUCCEEDED,
            now,
            amount_captured=payment.amount,
            capture_ref=payment.capture_ref or capture_ref,
        )
        events.append(payment_event(payment_event_type(PaymentStatus.SUCCEEDED), base, now))
        if base.capture_ref:
            puts = [*puts, ConditionalPut(provider_ref_item(base, base.capture_ref))]
    refunded_total = base.amount_refunded + refunded_now
    target = status_after_refunds(base.status, base.amount_captured, refunded_total)
    status = target if decide_transition(base.status, target).applies else base.status
    updated = base.with_status(
        status,
        now,
        amount_refunded=refunded_total,
        amount_refund_pending=base.amount_refund_pending + reserved_delta,
    )
    if refunded_now > 0:
        events.append(payment_event(payment_event_type(status), updated, now))
    change = StateChange(
        payment=updated,
        history=HistoryRecord(
            from_status=payment.status,
            requested_status=target,
            applied=True,
            reason="refund_settled",
            source=source,
            provider_event_id=inbox.event_id if inbox else None,
        ),
        occurred_at=now,
        expected_version=payment.version,
        expected_status=payment.status,
        inbox=inbox,
        journal=journal,
        events=events,
        extra_items=puts,
    )
    return commit_state_change(change), updated


def _provider_refund(payment: Payment, observed: RefundObservation, now: datetime) -> Refund:
    """Our record of a refund we did not ask for (e.g. started in the provider's dashboard)."""
    return Refund(
        refund_id=f"rf_{payment.provider}_{observed.provider_refund_id}",
        payment_id=payment.payment_id,
        tenant_id=payment.tenant_id,
        provider=payment.provider,
        amount=observed.amount,
        currency=payment.currency,
        status=RefundStatus.PENDING,
        source="provider",
        created_at=now,
        updated_at=now,
        provider_refund_id=observed.provider_refund_id,
    )
