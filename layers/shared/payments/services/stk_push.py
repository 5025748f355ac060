"""M-PESA STK push: create the payment and prompt the customer's phone, with the tenant's own
Daraja credentials, to pay the tenant's own PayBill or Till.

What then settles the payment is the provider-agnostic path: Daraja's callback through the
webhook pipeline (token, source, match and STK query checked first), or the sweeper and
``GET /v1/payments/{id}?refresh=true`` asking Daraja when the callback does not come.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

from payments.domain.payment import Customer, Payment
from payments.domain.states import OPEN_STATUSES, PaymentStatus
from payments.errors import ConflictError, UnprocessableError
from payments.money import Money
from payments.providers import push_payments
from payments.providers.base import ProviderRejectedError, ProviderUnavailableError, PushRequest
from payments.providers.mpesa_spec import (
    CURRENCY,
    MAX_ACCOUNT_REFERENCE,
    MAX_AMOUNT_KES,
    MAX_TRANSACTION_DESC,
    NAME,
    SPEC,
    InvalidPhoneNumberError,
    normalise_phone,
)
from payments.services.amounts import check_provider_amount
from payments.services.credentials import provider_credentials
from payments.services.rate_limits import CostlyOperation, enforce_rate_limit
from payments.services.transitions import apply_transition, create_payment
from payments.services.webhooks import new_webhook_token, payment_webhook_url
from payments.store import claims, repositories

__all__ = ["MAX_ACCOUNT_REFERENCE", "MAX_AMOUNT_KES", "MAX_TRANSACTION_DESC"]  # for the handler

# Daraja refuses a second push to one phone within two minutes (ResultCode 17); we refuse it
# first, with a clear answer, unless the earlier payment is already final.
DUPLICATE_WINDOW_SECONDS = 120


class DuplicatePushError(ConflictError):
    code = "duplicate_push"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True, slots=True)
class StkPushInput:
    payable_type: str
    payable_id: str
    amount: int  # KES minor units, whole shillings
    phone_number: str
    account_reference: str
    transaction_desc: str
    # For the receipt e-mail (Omnisend) and your records; the phone is the one prompted.
    customer_email: str | None = None
    customer_name: str | None = None


def payment_id_for(tenant_id: str, idempotency_key: str) -> str:
    """A retried request (same tenant and Idempotency-Key) resumes the same payment."""
    digest = hashlib.sha256(f"stk_push\x00{tenant_id}\x00{idempotency_key}".encode()).hexdigest()
    return f"pay_{digest[:32]}"


def start_stk_push(tenant_id: str, request: StkPushInput, idempotency_key: str) -> dict[str, Any]:
    """Validate, create (or resume) the payment, claim the phone, push, go pending."""
    phone = _validated(request)
    provider = push_payments(NAME)
    enforce_rate_limit(tenant_id, CostlyOperation.CHECKOUT)
    credentials = provider_credentials(tenant_id, NAME)  # before anything is written
    payment_id = payment_id_for(tenant_id, idempotency_key)
    payment = repositories.get_payment(tenant_id, payment_id) or create_payment(
        tenant_id=tenant_id,
        payable_type=request.payable_type,
        payable_id=request.payable_id,
        amount=request.amount,
        currency=CURRENCY,
        provider=NAME,
        description=request.transaction_desc,
        customer=Customer(email=request.customer_email, name=request.customer_name, phone=phone),
        metadata={"account_reference": request.account_reference},
        payment_id=payment_id,
    )
    if payment.status is not PaymentStatus.CREATED:
        return stk_push_view(payment, "")  # a retry after the push was sent
    claim_key = _phone_claim(tenant_id, phone)
    _claim_phone(tenant_id, claim_key, payment_id)
    token, token_hash = new_webhook_token()
    callback_url = payment_webhook_url(NAME, tenant_id, token)
    if callback_url is None:
        claims.release(claim_key, payment_id)
        raise ProviderUnavailableError(
            "this deployment has no M-PESA callback URL (PROVIDER_WEBHOOK_URL_MPESA)"
        )
    try:
        accepted = provider.push_payment(
            credentials,
            PushRequest(
                payment=payment,
                phone_number=phone,
                account_reference=request.account_reference,
                description=request.transaction_desc,
                callback_url=callback_url,
            ),
        )
    except ProviderUnavailableError:
        # The tenant's credentials were refused before anything reached the customer: the
        # phone is free again, and the payment stays created for a retry once they are fixed.
        claims.release(claim_key, payment_id)
        raise
    except ProviderRejectedError as error:
        # Daraja's final "no": the payment failed and the phone is free again. An unreachable
        # Daraja leaves the payment created (and the phone claimed for the window), so that a
        # retry with the same key resumes it without a second prompt in the meantime.
        claims.release(claim_key, payment_id)
        apply_transition(
            tenant_id=tenant_id,
            payment_id=payment_id,
            requested=PaymentStatus.FAILED,
            source="api",
            changes={
                "provider_details": {
                    "result_code": error.provider_code or "",
                    "result_desc": error.message[:200],
                }
            },
            current=payment,
        )
        raise
    result = apply_transition(
        tenant_id=tenant_id,
        payment_id=payment_id,
        requested=PaymentStatus.PENDING,
        source="api",
        changes={
            "provider_ref": accepted.provider_ref,
            "provider_details": dict(accepted.details),
            "webhook_token_hash": token_hash,
        },
        current=payment,
    )
    return stk_push_view(result.payment, accepted.customer_message)


def stk_push_view(payment: Payment, customer_message: str) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "status": payment.status.value,
        "checkout_request_id": payment.provider_ref,
        "customer_message": customer_message,
    }


def _validated(request: StkPushInput) -> str:
    check_provider_amount(SPEC, Money(request.amount, CURRENCY))
    for name, value, most in (
        ("account_reference", request.account_reference, MAX_ACCOUNT_REFERENCE),
        ("transaction_desc", request.transaction_desc, MAX_TRANSACTION_DESC),
    ):
        if not value.strip() or len(value) > most:
            raise UnprocessableError(
                f"{name} must be 1-{most} characters (Daraja's limit)", code="invalid_" + name
            )
    try:
        return normalise_phone(request.phone_number)
    except InvalidPhoneNumberError as error:
        raise UnprocessableError(str(error), code="invalid_phone_number") from None


def _phone_claim(tenant_id: str, phone: str) -> str:
    digest = hashlib.sha256(f"{tenant_id}\x00{phone}".encode()).hexdigest()
    return f"{NAME}-phone#{digest}"


def _claim_phone(tenant_id: str, claim_key: str, payment_id: str) -> None:
    """Hold the customer's phone for Daraja's duplicate window, unless another payment holds
    it and is still open."""
    if claims.take(claim_key, payment_id, seconds=DUPLICATE_WINDOW_SECONDS) is not None:
        return
    holder = claims.holder_of(claim_key)
    if holder is not None:
        other = repositories.get_payment(tenant_id, holder.holder)
        if other is not None and other.status not in OPEN_STATUSES:
            # The earlier prompt was answered: the phone is free (one conditional release,
            # so two requests racing here still leave one holder).
            if claims.release(claim_key, holder.holder) and claims.take(
                claim_key, payment_id, seconds=DUPLICATE_WINDOW_SECONDS
            ):
                return
            holder = claims.holder_of(claim_key)
    wait = math.ceil(holder.held_until - time.time()) if holder else 1
    raise DuplicatePushError(
        "a push to this phone number is already waiting for the customer; retry in "
        f"{max(wait, 1)} s or when it is answered",
        retry_after_seconds=max(wait, 1),
    )
