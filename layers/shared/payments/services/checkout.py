"""Hosted checkout: create the payment, the provider session, and hand back its URL.

Provider-agnostic: the provider's spec says whether it has a hosted checkout, its amount units
and ceiling, its metadata limits and whether it needs a success URL.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from payments.domain.payment import Customer, Payment
from payments.domain.states import PaymentStatus
from payments.errors import UnprocessableError
from payments.money import Money, fiat_currency
from payments.providers import (
    UnknownProviderError,
    customers,
    get_spec,
    hosted_checkout,
    providers_with,
)
from payments.providers.base import CheckoutCustomer, CheckoutRequest, ProviderRejectedError
from payments.providers.spec import Capability, ProviderSpec
from payments.services.amounts import check_provider_amount
from payments.services.credentials import provider_credentials
from payments.services.customers import checkout_customer
from payments.services.rate_limits import CostlyOperation, enforce_rate_limit
from payments.services.transitions import apply_transition, create_payment
from payments.store import repositories

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class CheckoutInput:
    payable_type: str
    payable_id: str
    amount: int
    currency: str
    description: str
    success_url: str | None
    cancel_url: str | None = None
    customer: Customer = field(default_factory=Customer)
    metadata: dict[str, str] = field(default_factory=dict)
    expires_in_minutes: int = 24 * 60
    provider: str = "stripe"


def checkout_providers() -> list[str]:
    """The providers a checkout may name: those whose spec has a hosted checkout."""
    return [spec.name for spec in providers_with(Capability.HOSTED_CHECKOUT)]


def payment_id_for(tenant_id: str, idempotency_key: str) -> str:
    """A retried request (same tenant and Idempotency-Key) resumes the same payment."""
    digest = hashlib.sha256(f"checkout\x00{tenant_id}\x00{idempotency_key}".encode()).hexdigest()
    return f"pay_{digest[:32]}"


def start_checkout(tenant_id: str, request: CheckoutInput, idempotency_key: str) -> dict[str, Any]:
    """Validate, create (or resume) the payment, open the provider session, go pending."""
    try:
        spec = get_spec(request.provider)
    except UnknownProviderError as error:
        raise UnprocessableError(error.message, code="unknown_provider") from None
    provider = hosted_checkout(spec.name)
    money = _validated(request, spec)
    # Only a request that runs counts: an Idempotency-Key replay never reaches this function.
    enforce_rate_limit(tenant_id, CostlyOperation.CHECKOUT)
    credentials = provider_credentials(tenant_id, spec.name)  # before anything is written
    payment_id = payment_id_for(tenant_id, idempotency_key)
    payment = repositories.get_payment(tenant_id, payment_id) or create_payment(
        tenant_id=tenant_id,
        payable_type=request.payable_type,
        payable_id=request.payable_id,
        amount=money.minor,
        currency=money.currency,
        provider=spec.name,
        description=request.description,
        customer=request.customer,
        metadata=request.metadata,
        payment_id=payment_id,
    )
    if payment.status is not PaymentStatus.CREATED:
        return checkout_view(payment)  # a retry after the session was opened
    records = customers(spec.name)
    customer = (
        checkout_customer(tenant_id, records, credentials, request.customer)
        if records is not None
        else CheckoutCustomer(email=request.customer.email)
    )
    # From the payment's creation, not from now: a retry must send Stripe the very same
    # parameters under the same idempotency key.
    expires_at = payment.created_at + timedelta(minutes=request.expires_in_minutes)
    try:
        session = provider.create_checkout_session(
            credentials,
            CheckoutRequest(
                payment=payment,
                success_url=request.success_url,
                cancel_url=request.cancel_url,
                expires_at=expires_at,
                customer=customer,
            ),
            idempotency_key=f"checkout:{payment_id}",
        )
    except ProviderRejectedError:
        # The provider's final "no": the payment failed. Unreachable providers leave it
        # created, so that a retry with the same key resumes it.
        apply_transition(
            tenant_id=tenant_id,
            payment_id=payment_id,
            requested=PaymentStatus.FAILED,
            source="api",
            current=payment,
        )
        raise
    result = apply_transition(
        tenant_id=tenant_id,
        payment_id=payment_id,
        requested=PaymentStatus.PENDING,
        source="api",
        changes={
            "provider_ref": session.session_id,
            "checkout_url": session.url,
            "expires_at": session.expires_at,
        },
        current=payment,
    )
    return checkout_view(result.payment)


def checkout_view(payment: Payment) -> dict[str, Any]:
    view = payment.public_view()
    return {
        "payment_id": payment.payment_id,
        "status": payment.status.value,
        "checkout_url": view["checkout_url"],
        "expires_at": view["expires_at"],
    }


def _validated(request: CheckoutInput, spec: ProviderSpec) -> Money:
    currency = fiat_currency(request.currency)
    money = Money(request.amount, currency.code)
    check_provider_amount(spec, money)
    if request.success_url is None:
        if spec.requires_success_url:
            raise UnprocessableError(
                f"success_url is required for {spec.display_name}", code="success_url_required"
            )
    else:
        _check_redirect_url("success_url", request.success_url)
    if request.cancel_url is not None:
        _check_redirect_url("cancel_url", request.cancel_url)
    _check_metadata(request.metadata, spec)
    return money


def _check_redirect_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    secure = parts.scheme == "https" or (parts.scheme == "http" and host in LOCAL_HOSTS)
    if not host or not secure or parts.username or parts.password:
        raise UnprocessableError(
            f"{name} must be an https URL (http only for localhost)", code="invalid_redirect_url"
        )


def _check_metadata(metadata: dict[str, str], spec: ProviderSpec) -> None:
    limits = spec.limits
    if not metadata:
        return
    if limits.metadata_keys is None:
        raise UnprocessableError(
            f"{spec.display_name} takes no metadata", code="metadata_not_supported"
        )
    most = limits.metadata_keys - len(limits.reserved_metadata_keys)
    if len(metadata) > most:
        raise UnprocessableError(f"metadata holds at most {most} keys", code="metadata_too_large")
    for key, value in metadata.items():
        if key in limits.reserved_metadata_keys or not key or "[" in key or "]" in key:
            raise UnprocessableError(
                f"metadata key {key!r} is not allowed", code="invalid_metadata"
            )
        if len(key) > limits.metadata_key_length or len(value) > limits.metadata_value_length:
            raise UnprocessableError(
                f"metadata keys hold at most {limits.metadata_key_length} characters and "
                f"values {limits.metadata_value_length}",
                code="metadata_too_large",
            )
