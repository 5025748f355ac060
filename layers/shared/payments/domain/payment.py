"""The payment aggregate as the domain sees it: plain data, no storage concerns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from payments.domain.events import rfc3339
from payments.domain.states import PaymentStatus
from payments.money import Amount


@dataclass(frozen=True, slots=True)
class Customer:
    email: str | None = None
    name: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    payment_id: str
    tenant_id: str
    payable_type: str
    payable_id: str
    amount: Amount
    currency: str
    provider: str
    status: PaymentStatus
    version: int
    created_at: datetime
    updated_at: datetime
    description: str = ""
    provider_ref: str | None = None
    # The provider's id of the captured money (Stripe: PaymentIntent), known once paid.
    capture_ref: str | None = None
    customer: Customer = field(default_factory=Customer)
    metadata: dict[str, str] = field(default_factory=dict)
    amount_captured: Amount = 0
    amount_refunded: Amount = 0
    # Reserved by refunds asked for but not yet confirmed by the provider.
    amount_refund_pending: Amount = 0
    checkout_url: str | None = None
    expires_at: datetime | None = None
    # What the provider told us that the merchant may see (a receipt number, a masked phone, a
    # result code and text): names and values are the provider adapter's, shown as they are.
    provider_details: dict[str, str] = field(default_factory=dict)
    # For providers whose notifications are not signed: the SHA-256 of the single-purpose token
    # their notification URL carries for this payment. Never shown.
    webhook_token_hash: str | None = None
    # What the customer is charged in, when the payment is in another currency (a crypto
    # payment priced in fiat: amount/currency are the coin's, this the order's price).
    price_amount: Amount | None = None
    price_currency: str | None = None

    def with_status(self, status: PaymentStatus, at: datetime, **changes: Any) -> Payment:
        """The next version of this payment in ``status``."""
        return replace(self, status=status, version=self.version + 1, updated_at=at, **changes)

    def with_changes(self, at: datetime, **changes: Any) -> Payment:
        """The next version of this payment, status unchanged."""
        return self.with_status(self.status, at, **changes)

    def public_view(self) -> dict[str, Any]:
        """What the merchant's app sees (API responses and event data). No PII beyond ids."""
        return {
            "payment_id": self.payment_id,
            "payable_type": self.payable_type,
            "payable_id": self.payable_id,
            "amount": render_amount(self.amount),
            "currency": self.currency,
            "status": self.status.value,
            "version": self.version,
            "provider": self.provider,
            "provider_reference": self.provider_ref,
            "description": self.description,
            "metadata": dict(self.metadata),
            "amount_captured": render_amount(self.amount_captured),
            "amount_refunded": render_amount(self.amount_refunded),
            "amount_refund_pending": render_amount(self.amount_refund_pending),
            "checkout_url": self.checkout_url,
            "expires_at": rfc3339(self.expires_at) if self.expires_at else None,
            "provider_details": dict(self.provider_details),
            "price_amount": None if self.price_amount is None else render_amount(self.price_amount),
            "price_currency": self.price_currency,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
        }


def render_amount(amount: Amount) -> int | str:
    # Fiat minor units stay integers; crypto decimals travel as strings so no JSON parser
    # turns them into floats.
    return amount if isinstance(amount, int) else format(amount.normalize(), "f")
