"""Refund accounting: how much can still be refunded and what the payment becomes.

Refunded amounts are always the sum of *succeeded* refunds: a payment is ``refunded`` when that
sum reaches the captured amount and ``partially_refunded`` before, never because an event's
name said so. Money promised to pending refunds is reserved so that two refunds cannot
together exceed what was captured.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from payments.domain.events import rfc3339
from payments.domain.payment import Payment, render_amount
from payments.domain.states import PaymentStatus
from payments.money import Amount


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


FINAL_REFUND_STATUSES = frozenset(
    {RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.CANCELED}
)
REFUNDABLE_STATUSES = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED})


@dataclass(frozen=True, slots=True)
class Refund:
    refund_id: str
    payment_id: str
    tenant_id: str
    provider: str
    amount: Amount
    currency: str
    status: RefundStatus
    source: str  # "api" (asked through us) or "provider" (e.g. the Stripe dashboard)
    created_at: datetime
    updated_at: datetime
    version: int = 1
    reason: str | None = None
    provider_refund_id: str | None = None

    def settled(self, status: RefundStatus, at: datetime, provider_refund_id: str | None) -> Refund:
        return replace(
            self,
            status=status,
            updated_at=at,
            version=self.version + 1,
            provider_refund_id=provider_refund_id or self.provider_refund_id,
        )

    def public_view(self) -> dict[str, object]:
        return {
            "refund_id": self.refund_id,
            "payment_id": self.payment_id,
            "amount": render_amount(self.amount),
            "currency": self.currency,
            "status": self.status.value,
            "reason": self.reason,
            "source": self.source,
            "provider_refund_id": self.provider_refund_id,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
        }


def refundable_amount(payment: Payment) -> Amount:
    """What a new refund may still take: captured - refunded - reserved for pending refunds."""
    return payment.amount_captured - payment.amount_refunded - payment.amount_refund_pending


def status_after_refunds(
    status: PaymentStatus, amount_captured: Amount, amount_refunded: Amount
) -> PaymentStatus:
    """The status once ``amount_refunded`` (the sum of succeeded refunds) is refunded."""
    if amount_refunded <= 0:
        return status
    if amount_refunded >= amount_captured:
        return PaymentStatus.REFUNDED
    return PaymentStatus.PARTIALLY_REFUNDED
