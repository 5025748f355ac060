"""Crypto payments through NOWPayments: direct payments to an address, hosted invoices, the
currency list and estimates, with each tenant's own API key.

A direct payment is in the coin the customer sends: its ``amount`` is NOWPayments'
``pay_amount`` (an exact Decimal, CryptoAmount rules) in ``pay_currency``, and the order's price
(fiat minor units, or a crypto decimal) is kept beside it (``price_amount``/``price_currency``),
so the capture posts the coin to the ledger. An invoice's coin is chosen on NOWPayments' page,
so its payment starts in the price currency; the first IPN that names the coin moves it there,
the price kept beside it (``ProviderEvent.paid_in``), so an invoice's capture posts the coin
too. What then settles either is the provider-agnostic path: the signed IPN, confirmed with
``GET /v1/payment`` (webhook_nowpayments), or the sweeper. A capture posts what actually
arrived (``actually_paid``), so an overpayment is in the ledger and shows as
``amount_captured`` above ``amount``.

The provider is called before our payment is written: a NOWPayments payment has an address and
an amount that our payment must carry from its first version, and NOWPayments takes no
idempotency key. A refusal or no answer therefore leaves nothing of ours behind, and a retry
with the same Idempotency-Key starts again (a NOWPayments payment made for an answer we never
got names our payment id as ``order_id`` but not its reference, so its IPNs are refused).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from payments.domain.events import rfc3339
from payments.domain.payment import Payment, render_amount
from payments.domain.states import PaymentStatus
from payments.errors import PaymentsError, UnprocessableError
from payments.money import (
    FIAT_EXPONENTS,
    Amount,
    CryptoAmount,
    Money,
    MoneyError,
    UnknownCurrencyError,
    crypto_currency,
)
from payments.providers import crypto_payments
from payments.providers.base import (
    Credentials,
    CryptoInvoiceRequest,
    CryptoPaymentProvider,
    CryptoPaymentRequest,
    ProviderUnavailableError,
)
from payments.providers.nowpayments_spec import NAME
from payments.services.credentials import provider_credentials, webhook_url
from payments.services.rate_limits import CostlyOperation, enforce_rate_limit
from payments.services.transitions import apply_transition, create_payment
from payments.store import repositories
from payments.store.provider_cache import cached_list

# NOWPayments adds and removes coins rarely; an hour-old list is good enough to check against.
CURRENCIES_MAX_AGE_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Price:
    """An order's price: ``stored`` as our amounts are (fiat minor units or a crypto Decimal),
    ``major`` as NOWPayments takes it (a decimal of major units)."""

    stored: Amount
    major: Decimal
    currency: str

    @property
    def is_fiat(self) -> bool:
        return self.currency in FIAT_EXPONENTS


@dataclass(frozen=True, slots=True)
class CryptoPaymentInput:
    payable_type: str
    payable_id: str
    price_amount: int | str  # fiat minor units, or a decimal string for a crypto price
    price_currency: str
    pay_currency: str
    order_description: str = ""


@dataclass(frozen=True, slots=True)
class CryptoInvoiceInput:
    payable_type: str
    payable_id: str
    price_amount: int | str
    price_currency: str
    pay_currency: str | None = None
    order_description: str = ""
    success_url: str | None = None
    cancel_url: str | None = None


def payment_id_for(operation: str, tenant_id: str, idempotency_key: str) -> str:
    """A retried request (same tenant and Idempotency-Key) resumes the same payment."""
    digest = hashlib.sha256(f"{operation}\x00{tenant_id}\x00{idempotency_key}".encode()).hexdigest()
    return f"pay_{digest[:32]}"


# --------------------------------------------------------------------------- payments


def start_crypto_payment(
    tenant_id: str, request: CryptoPaymentInput, idempotency_key: str
) -> dict[str, Any]:
    """Validate, ask NOWPayments for the payment, then write ours (created -> pending)."""
    start = _begin("crypto_payment", tenant_id, request, idempotency_key)
    if start.existing is not None:
        return crypto_payment_view(start.existing)  # a retry after it was made
    price, credentials = start.price, start.credentials
    pay_currency = listed_currency(tenant_id, credentials, request.pay_currency, "pay_currency")
    check_minimum(credentials, start.provider, price, pay_currency)
    created = start.provider.create_payment(
        credentials,
        CryptoPaymentRequest(
            payment_id=start.payment_id,
            price_amount=price.major,
            price_currency=price.currency,
            pay_currency=pay_currency,
            callback_url=_ipn_url(tenant_id),
            description=request.order_description,
        ),
    )
    details = dict(created.details)
    if created.payin_extra_id:
        details["payin_extra_id"] = created.payin_extra_id
    payment = _record_pending(
        tenant_id,
        start,
        request,
        amount=CryptoAmount(created.pay_amount, created.pay_currency).value,
        currency=created.pay_currency,
        priced=True,
        changes={
            "provider_ref": created.provider_ref,
            "provider_details": details,
            "expires_at": created.expires_at,
        },
    )
    return crypto_payment_view(payment)


@dataclass(frozen=True, slots=True)
class _Start:
    """What both starts (payment, invoice) establish before NOWPayments is asked anything."""

    price: Price
    provider: CryptoPaymentProvider
    credentials: Credentials
    payment_id: str
    existing: Payment | None  # made by an earlier request with this Idempotency-Key


def _begin(
    operation: str,
    tenant_id: str,
    request: CryptoPaymentInput | CryptoInvoiceInput,
    idempotency_key: str,
) -> _Start:
    price = parse_price(request.price_amount, request.price_currency)
    provider = crypto_payments(NAME)
    enforce_rate_limit(tenant_id, CostlyOperation.CHECKOUT)
    credentials = provider_credentials(tenant_id, NAME)
    payment_id = payment_id_for(operation, tenant_id, idempotency_key)
    existing = repositories.get_payment(tenant_id, payment_id)
    return _Start(price, provider, credentials, payment_id, existing)


def _record_pending(
    tenant_id: str,
    start: _Start,
    request: CryptoPaymentInput | CryptoInvoiceInput,
    *,
    amount: Amount,
    currency: str,
    priced: bool,
    changes: dict[str, Any],
) -> Payment:
    """Our payment for what NOWPayments made, created then pending with its reference.
    ``priced``: the payment is in the coin, the order's price kept beside it."""
    payment = create_payment(
        tenant_id=tenant_id,
        payable_type=request.payable_type,
        payable_id=request.payable_id,
        amount=amount,
        currency=currency,
        provider=NAME,
        description=request.order_description,
        payment_id=start.payment_id,
        price_amount=start.price.stored if priced else None,
        price_currency=start.price.currency if priced else None,
    )
    return apply_transition(
        tenant_id=tenant_id,
        payment_id=start.payment_id,
        requested=PaymentStatus.PENDING,
        source="api",
        changes=changes,
        current=payment,
    ).payment


def crypto_payment_view(payment: Payment) -> dict[str, Any]:
    details = payment.provider_details
    return {
        "payment_id": payment.payment_id,
        "status": payment.status.value,
        "provider_status": details.get("provider_status"),
        "provider_reference": payment.provider_ref,
        "pay_address": details.get("pay_address"),
        "pay_amount": render_amount(payment.amount),
        "pay_currency": payment.currency,
        "payin_extra_id": details.get("payin_extra_id"),
        "expires_at": rfc3339(payment.expires_at) if payment.expires_at else None,
        "price_amount": render_amount(
            payment.price_amount if payment.price_amount is not None else payment.amount
        ),
        "price_currency": payment.price_currency or payment.currency,
    }


# --------------------------------------------------------------------------- invoices


def start_crypto_invoice(
    tenant_id: str, request: CryptoInvoiceInput, idempotency_key: str
) -> dict[str, Any]:
    """A hosted NOWPayments invoice for the price; our payment (in the price currency until
    the customer chooses a coin) is the invoice's ``order_id`` and is found by the invoice's
    reference until its payment exists."""
    start = _begin("crypto_invoice", tenant_id, request, idempotency_key)
    if start.existing is not None:
        return crypto_invoice_view(start.existing)
    price, credentials = start.price, start.credentials
    pay_currency = None
    if request.pay_currency is not None:
        pay_currency = listed_currency(tenant_id, credentials, request.pay_currency, "pay_currency")
        check_minimum(credentials, start.provider, price, pay_currency)
    invoice = start.provider.create_invoice(
        credentials,
        CryptoInvoiceRequest(
            payment_id=start.payment_id,
            price_amount=price.major,
            price_currency=price.currency,
            callback_url=_ipn_url(tenant_id),
            success_url=request.success_url,
            cancel_url=request.cancel_url,
            pay_currency=pay_currency,
            description=request.order_description,
        ),
    )
    details = {"invoice_id": invoice.invoice_id}
    if invoice.pay_currency:
        details["pay_currency"] = invoice.pay_currency
    payment = _record_pending(
        tenant_id,
        start,
        request,
        amount=price.stored,
        currency=price.currency,
        priced=False,
        changes={
            "provider_ref": invoice.provider_ref,
            "provider_details": details,
            "checkout_url": invoice.invoice_url,
        },
    )
    return crypto_invoice_view(payment)


def crypto_invoice_view(payment: Payment) -> dict[str, Any]:
    """The invoice as made; once the customer has chosen a coin the payment is in it and the
    price is kept beside it (``price_amount``/``price_currency``)."""
    if payment.price_amount is not None and payment.price_currency is not None:
        price, price_currency = payment.price_amount, payment.price_currency
        pay_currency: str | None = payment.currency
    else:
        price, price_currency = payment.amount, payment.currency
        pay_currency = payment.provider_details.get("pay_currency")
    return {
        "payment_id": payment.payment_id,
        "status": payment.status.value,
        "invoice_id": payment.provider_details.get("invoice_id"),
        "invoice_url": payment.checkout_url,
        "price_amount": render_amount(price),
        "price_currency": price_currency,
        "pay_currency": pay_currency,
    }


# --------------------------------------------------------------------------- currencies, estimates


def listed_currencies(tenant_id: str, credentials: Credentials | None = None) -> tuple[str, ...]:
    """NOWPayments' coins for the tenant's account, from the shared cache (per environment:
    sandbox and production list different coins)."""
    credentials = credentials or provider_credentials(tenant_id, NAME)
    environment = credentials.values.get("environment", "")
    return cached_list(
        tenant_id,
        f"{NAME}:{environment}:currencies",
        lambda: crypto_payments(NAME).currencies(credentials),
        max_age_seconds=CURRENCIES_MAX_AGE_SECONDS,
    )


def listed_currency(tenant_id: str, credentials: Credentials, code: str, field: str) -> str:
    """``code`` as a coin NOWPayments lists for the tenant (422 unsupported_currency)."""
    try:
        coin = crypto_currency(code).code
    except MoneyError as error:
        raise UnprocessableError(f"{field}: {error}", code=error.code) from None
    if coin not in listed_currencies(tenant_id, credentials):
        raise UnprocessableError(
            f"{field}: NOWPayments does not list {coin} for this account "
            "(GET /v1/crypto/currencies)",
            code="unsupported_currency",
        )
    return coin


def parse_price(amount: int | str, currency_code: str) -> Price:
    """A fiat price in integer minor units, a crypto price as a decimal string; positive."""
    code = currency_code.upper()
    if code in FIAT_EXPONENTS:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise UnprocessableError(
                f"price_amount for {code} is an integer of minor units (1000 is {code} 10.00)",
                code="invalid_amount",
            )
        money = Money(amount, code)
        if not money.is_positive():
            raise UnprocessableError("price_amount must be positive", code="invalid_amount")
        return Price(money.minor, money.to_decimal(), code)
    if not isinstance(amount, str):
        raise UnprocessableError(
            f'price_amount for {code} is a decimal string ("0.0015"), not a JSON number',
            code="invalid_amount",
        )
    crypto = CryptoAmount.parse(amount, code)  # MoneyError: 422 with its code
    if not crypto.is_positive():
        raise UnprocessableError("price_amount must be positive", code="invalid_amount")
    return Price(crypto.value, crypto.value, crypto.currency)


def check_minimum(
    credentials: Credentials, provider: CryptoPaymentProvider, price: Price, pay_currency: str
) -> None:
    """Refuse a price below NOWPayments' minimum for paying in ``pay_currency`` (422
    amount_below_minimum) before anything is created there."""
    if price.is_fiat:
        minimum = provider.min_amount(
            credentials,
            currency_from=pay_currency,
            currency_to=pay_currency,
            fiat_equivalent=price.currency,
        )
        least = minimum.fiat_equivalent
    elif price.currency == pay_currency:
        least = provider.min_amount(
            credentials, currency_from=pay_currency, currency_to=pay_currency
        ).min_amount
    else:
        return  # a crypto price in another coin: NOWPayments itself refuses a small one
    if least is not None and price.major < least:
        raise UnprocessableError(
            f"price_amount is below NOWPayments' minimum for paying in {pay_currency}: "
            f"{price.currency} {_plain(least)}",
            code="amount_below_minimum",
        )


@dataclass(frozen=True, slots=True)
class EstimateInput:
    amount: str
    currency_from: str
    currency_to: str


def estimate(tenant_id: str, request: EstimateInput) -> dict[str, Any]:
    """What ``amount`` of ``currency_from`` comes to in ``currency_to``, and the pair's
    minimum in ``currency_from``. Bad queries are 400 (they are query parameters)."""
    credentials = provider_credentials(tenant_id, NAME)
    provider = crypto_payments(NAME)
    source = _estimate_currency(tenant_id, credentials, request.currency_from, "currency_from")
    target = _estimate_currency(tenant_id, credentials, request.currency_to, "currency_to")
    if source in FIAT_EXPONENTS and target in FIAT_EXPONENTS:
        raise _bad_query("one of currency_from and currency_to must be a crypto currency")
    amount = _estimate_amount(request.amount, source)
    answer = provider.estimate(credentials, amount=amount, currency_from=source, currency_to=target)
    if source in FIAT_EXPONENTS:
        pair = provider.min_amount(
            credentials, currency_from=target, currency_to=target, fiat_equivalent=source
        )
        least = pair.fiat_equivalent
    else:
        coin_to = source if target in FIAT_EXPONENTS else target
        least = provider.min_amount(
            credentials, currency_from=source, currency_to=coin_to
        ).min_amount
    return {
        "amount_from": _plain(answer.amount_from),
        "currency_from": source,
        "estimated_amount": _plain(answer.amount_to),
        "currency_to": target,
        "min_amount": None if least is None else _plain(least),
    }


def _estimate_currency(tenant_id: str, credentials: Credentials, code: str, field: str) -> str:
    upper = code.upper()
    if upper in FIAT_EXPONENTS:
        return upper
    try:
        return listed_currency(tenant_id, credentials, code, field)
    except UnprocessableError as error:
        raise PaymentsError(error.message, code=error.code) from None  # 400: a query


def _estimate_amount(text: str, currency_code: str) -> Decimal:
    """A positive decimal string (``10.5``): no exponent, sign, float spelling or excess
    decimals for a fiat currency."""
    try:
        if currency_code in FIAT_EXPONENTS:
            value = Money.from_decimal_string(text, currency_code).to_decimal()
        else:
            value = CryptoAmount.parse(text, currency_code).value
    except (MoneyError, UnknownCurrencyError) as error:
        raise PaymentsError(f"amount: {error}", code=error.code) from None
    if value <= 0:
        raise PaymentsError("amount must be positive", code="invalid_amount")
    return value


def _bad_query(message: str) -> PaymentsError:
    return PaymentsError(message, code="unsupported_currency")


def _ipn_url(tenant_id: str) -> str:
    url = webhook_url(tenant_id, NAME)
    if url is None:
        raise ProviderUnavailableError(
            "this deployment has no NOWPayments IPN URL (PROVIDER_WEBHOOK_URL_NOWPAYMENTS)"
        )
    return url


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"
