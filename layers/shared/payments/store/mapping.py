"""Conversions between domain objects and stored items (and the GSI keys they carry)."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from payments.domain.payment import Customer, Payment
from payments.domain.refunds import Refund, RefundStatus
from payments.domain.settlement import SETTLEMENT_DUE_AT
from payments.domain.states import OPEN_STATUSES, PaymentStatus
from payments.money import FIAT_EXPONENTS, Amount
from payments.store.models import (
    CustomerMap,
    PaymentItem,
    PaymentRefItem,
    RefundItem,
    UniqueRefItem,
    log_day,
    payment_log_partition,
    utc_key_time,
)

# The sparse pending index is spread over a few partitions so that a burst of open payments
# does not make one hot key; the sweeper queries each shard.
PENDING_SHARDS = 8


def payable_partition(tenant_id: str, payable_type: str, payable_id: str) -> str:
    return f"{tenant_id}#{payable_type}#{payable_id}"


def provider_ref_partition(provider: str, provider_ref: str) -> str:
    return f"{provider}#{provider_ref}"


def normalized_email(email: str | None) -> str | None:
    """What a search by e-mail compares: the address trimmed, in lower case."""
    if not email or not email.strip():
        return None
    return email.strip().lower()


def pending_shard(payment_id: str) -> str:
    digest = hashlib.sha256(payment_id.encode()).digest()
    return f"pending#{digest[0] % PENDING_SHARDS}"


def settling_shard(payment_id: str) -> str:
    digest = hashlib.sha256(payment_id.encode()).digest()
    return f"settling#{digest[0] % PENDING_SHARDS}"


def stored_amount(currency: str, value: Decimal) -> Amount:
    """Fiat amounts come back as exact integers; crypto stays Decimal."""
    if currency not in FIAT_EXPONENTS:
        return value
    if value != value.to_integral_value():
        raise ValueError(f"stored {currency} amount {value} is not whole minor units")
    return int(value)


def payment_to_item(payment: Payment) -> PaymentItem:
    pk, sk = PaymentItem.key(payment.payment_id)
    item = PaymentItem(
        pk,
        sk,
        item_type="payment",
        payment_id=payment.payment_id,
        tenant_id=payment.tenant_id,
        payable_type=payment.payable_type,
        payable_id=payment.payable_id,
        amount=Decimal(payment.amount),
        currency=payment.currency,
        provider=payment.provider,
        provider_ref=payment.provider_ref,
        capture_ref=payment.capture_ref,
        status=payment.status.value,
        version=payment.version,
        description=payment.description,
        customer=CustomerMap(
            email=payment.customer.email, name=payment.customer.name, phone=payment.customer.phone
        ),
        metadata=dict(payment.metadata) or None,
        amount_captured=Decimal(payment.amount_captured),
        amount_refunded=Decimal(payment.amount_refunded),
        amount_refund_pending=Decimal(payment.amount_refund_pending),
        checkout_url=payment.checkout_url,
        expires_at=payment.expires_at,
        provider_details=dict(payment.provider_details) or None,
        webhook_token_hash=payment.webhook_token_hash,
        price_amount=None if payment.price_amount is None else Decimal(payment.price_amount),
        price_currency=payment.price_currency,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
        gsi1pk=payable_partition(payment.tenant_id, payment.payable_type, payment.payable_id),
        gsi1sk=f"{utc_key_time(payment.created_at)}#{payment.payment_id}",
        gsi5pk=payment_log_partition(payment.tenant_id, log_day(payment.created_at)),
        gsi5sk=f"{utc_key_time(payment.created_at)}#{payment.payment_id}",
        email_lc=normalized_email(payment.customer.email),
    )
    if payment.provider_ref:
        item.gsi2pk = provider_ref_partition(payment.provider, payment.provider_ref)
        item.gsi2sk = "PAYMENT"
    if payment.status in OPEN_STATUSES:
        # Only open payments carry these attributes: the index holds exactly what the
        # sweeper has to look at.
        item.gsi3pk = pending_shard(payment.payment_id)
        item.gsi3sk = f"{utc_key_time(payment.updated_at)}#{payment.payment_id}"
    elif (
        payment.status is PaymentStatus.SUCCEEDED and SETTLEMENT_DUE_AT in payment.provider_details
    ):
        # Cleared, waiting to settle (a provider that settles later): in the same sparse index
        # under its own partitions, by due date, so the sweeper finds the overdue ones.
        item.gsi3pk = settling_shard(payment.payment_id)
        item.gsi3sk = f"{payment.provider_details[SETTLEMENT_DUE_AT]}#{payment.payment_id}"
    return item


def item_to_payment(item: PaymentItem) -> Payment:
    customer = item.customer
    return Payment(
        payment_id=item.payment_id,
        tenant_id=item.tenant_id,
        payable_type=item.payable_type,
        payable_id=item.payable_id,
        amount=stored_amount(item.currency, item.amount),
        currency=item.currency,
        provider=item.provider,
        provider_ref=item.provider_ref,
        capture_ref=item.capture_ref,
        status=PaymentStatus(item.status),
        version=int(item.version),
        description=item.description,
        customer=Customer(
            email=customer.email if customer else None,
            name=customer.name if customer else None,
            phone=customer.phone if customer else None,
        ),
        metadata={str(k): str(v) for k, v in item.metadata.as_dict().items()}
        if item.metadata
        else {},
        amount_captured=stored_amount(item.currency, item.amount_captured),
        amount_refunded=stored_amount(item.currency, item.amount_refunded),
        amount_refund_pending=stored_amount(
            item.currency, item.amount_refund_pending or Decimal(0)
        ),
        checkout_url=item.checkout_url,
        expires_at=item.expires_at,
        provider_details={str(k): str(v) for k, v in item.provider_details.as_dict().items()}
        if item.provider_details
        else {},
        webhook_token_hash=item.webhook_token_hash,
        price_amount=stored_amount(item.price_currency, item.price_amount)
        if item.price_currency and item.price_amount is not None
        else None,
        price_currency=item.price_currency,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def provider_ref_item(payment: Payment, provider_ref: str) -> PaymentRefItem:
    """A secondary provider reference, findable through the provider-ref index."""
    pk, sk = PaymentRefItem.key(payment.payment_id, payment.provider, provider_ref)
    return PaymentRefItem(
        pk,
        sk,
        item_type="payment_ref",
        payment_id=payment.payment_id,
        tenant_id=payment.tenant_id,
        provider=payment.provider,
        provider_ref=provider_ref,
        gsi2pk=provider_ref_partition(payment.provider, provider_ref),
        gsi2sk=sk,
    )


def unique_ref_item(payment: Payment, provider_ref: str) -> UniqueRefItem:
    """The claim of ``provider_ref`` for ``payment`` within its tenant and provider."""
    pk, sk = UniqueRefItem.key(payment.tenant_id, payment.provider, provider_ref)
    return UniqueRefItem(
        pk, sk, item_type="unique_ref", payment_id=payment.payment_id, tenant_id=payment.tenant_id
    )


def refund_to_item(refund: Refund) -> RefundItem:
    pk, sk = RefundItem.key(refund.payment_id, refund.refund_id)
    return RefundItem(
        pk,
        sk,
        item_type="refund",
        refund_id=refund.refund_id,
        payment_id=refund.payment_id,
        tenant_id=refund.tenant_id,
        provider=refund.provider,
        amount=Decimal(refund.amount),
        currency=refund.currency,
        status=refund.status.value,
        source=refund.source,
        reason=refund.reason,
        provider_refund_id=refund.provider_refund_id,
        version=refund.version,
        created_at=refund.created_at,
        updated_at=refund.updated_at,
    )


def item_to_refund(item: RefundItem) -> Refund:
    return Refund(
        refund_id=item.refund_id,
        payment_id=item.payment_id,
        tenant_id=item.tenant_id,
        provider=item.provider,
        amount=stored_amount(item.currency, item.amount),
        currency=item.currency,
        status=RefundStatus(item.status),
        source=item.source,
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=int(item.version),
        reason=item.reason,
        provider_refund_id=item.provider_refund_id,
    )
