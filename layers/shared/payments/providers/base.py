"""What every payment provider adapter offers, in provider-agnostic terms.

Adapters translate: our requests into the provider's API calls, and the provider's
notifications into :class:`ProviderEvent`. Everything they learn goes through the one
provider-agnostic path (``services.provider_events.apply_provider_event``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from payments.domain.payment import Payment
from payments.domain.refunds import RefundStatus
from payments.domain.states import PaymentStatus
from payments.errors import PaymentsError
from payments.money import Amount


class ProviderError(PaymentsError):
    """Base of what a provider call can fail with; ``code`` is our API error code."""

    code = "provider_error"
    status = 502


class ProviderUnavailableError(ProviderError):
    """The tenant has this provider disabled or not configured."""

    code = "provider_unavailable"
    status = 409


class ProviderRejectedError(ProviderError):
    """The provider answered and refused (bad parameters, over-refund...): a final answer."""

    code = "provider_rejected"
    status = 422

    def __init__(self, message: str, *, provider_code: str | None = None) -> None:
        super().__init__(message)
        self.provider_code = provider_code


class ProviderUnreachableError(ProviderError):
    """No final answer (network, 5xx, rate limit): safe to retry with the same idempotency key."""

    code = "provider_unreachable"
    status = 502


class WebhookVerificationError(Exception):
    """A notification whose signature (or timestamp) does not verify."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# How far a provider's signed timestamp may be from our clock, in either direction.
SIGNED_TIMESTAMP_TOLERANCE_SECONDS = 300


def check_signed_timestamp(
    timestamp: int, now: float, tolerance: int = SIGNED_TIMESTAMP_TOLERANCE_SECONDS
) -> None:
    """Refuse a signed timestamp more than ``tolerance`` seconds before *or after* ``now``.

    The past bound limits how long a captured delivery can be replayed. The future bound is
    what providers' SDKs leave out (Stripe's only rejects old timestamps): without it, a
    signature made for a time a day ahead stays replayable for that whole day. Every adapter
    whose provider signs a timestamp calls this after the signature itself has verified.
    """
    if tolerance <= 0:
        raise ValueError("tolerance must be positive")
    drift = timestamp - now
    if abs(drift) > tolerance:
        direction = "in the future" if drift > 0 else "old"
        raise WebhookVerificationError(
            f"Timestamp outside the tolerance zone: {int(abs(drift))} s {direction}"
            f" (at most {tolerance} s either way)"
        )


@dataclass(frozen=True, slots=True)
class Credentials:
    """A tenant's credentials for one provider, as stored in Secrets Manager."""

    values: Mapping[str, str]

    def require(self, name: str) -> str:
        value = self.values.get(name)
        if not value:
            raise ProviderUnavailableError(f"credential '{name}' is not configured")
        return value


@dataclass(frozen=True, slots=True)
class RefundObservation:
    """A refund as the provider reports it."""

    provider_refund_id: str
    amount: Amount
    status: RefundStatus
    our_refund_id: str | None = None  # set when the refund was asked for through us


@dataclass(frozen=True, slots=True)
class Denomination:
    """An amount in its currency (integer minor units for fiat, a Decimal for crypto)."""

    amount: Amount
    currency: str


@dataclass(frozen=True, slots=True)
class SubjectEvent:
    """News about one of the provider's objects that is not a payment (a customer
    registration), applied by the service that owns that kind of object."""

    kind: str  # "profile"
    provider_ref: str  # the provider's id of it (NEO Bank: the CPRN)
    status: str  # its new state, in our words ("verified", "rejected")
    our_id: str | None = None  # our id of it, when the provider echoes it


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A verified provider notification, translated."""

    event_id: str
    event_type: str
    # Our payment id when the provider echoes it (metadata), else found by reference.
    payment_id: str | None = None
    provider_refs: tuple[str, ...] = ()
    requested_status: PaymentStatus | None = None
    # The provider's id of the captured money (Stripe: the PaymentIntent), used to refund.
    capture_ref: str | None = None
    refunds: tuple[RefundObservation, ...] = ()
    # What the provider says was asked for, to check against the payment before money moves.
    amount: Amount | None = None
    currency: str | None = None
    # The currency the customer pays in and what is asked in it, when that was decided after
    # the payment was made (an invoice paid in the coin the customer chose on the provider's
    # page). An open payment still in its price currency takes it, its price kept beside it.
    paid_in: Denomination | None = None
    # What actually arrived, in the currency paid in, when it can differ from what was asked
    # (a crypto overpayment): a capture posts this to the ledger. None: the payment's amount.
    received: Amount | None = None
    # What the payment shows of this notification once it applies (Payment.provider_details):
    # a receipt number, a result code and its text...
    details: Mapping[str, str] = field(default_factory=dict)
    # Who paid, as the provider names them (an M-PESA phone number), to check against the
    # payment's customer before money moves. Never shown.
    payer: str | None = None
    # Not about a payment: about another of the provider's objects (then nothing above counts).
    subject: SubjectEvent | None = None

    @property
    def actionable(self) -> bool:
        return self.requested_status is not None or bool(self.refunds) or self.subject is not None


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    session_id: str
    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class CheckoutCustomer:
    provider_customer_id: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    payment: Payment
    success_url: str | None
    cancel_url: str | None
    expires_at: datetime
    customer: CheckoutCustomer = field(default_factory=CheckoutCustomer)


@dataclass(frozen=True, slots=True)
class PushRequest:
    """Ask the customer's own device to approve a payment (an M-PESA STK prompt)."""

    payment: Payment
    phone_number: str  # normalised by the provider's spec
    account_reference: str
    description: str
    callback_url: str  # this payment's own notification URL (with its token)


@dataclass(frozen=True, slots=True)
class PushAccepted:
    provider_ref: str  # the provider's id of the push (M-PESA's CheckoutRequestID)
    customer_message: str
    details: Mapping[str, str] = field(default_factory=dict)  # for Payment.provider_details


# One protocol per capability (see payments.providers.spec): a provider implements those it
# has, and its spec's typed factories make mypy check each one.


@dataclass(frozen=True, slots=True)
class CredentialTestResult:
    """What the provider said when asked with a tenant's credentials. ``code`` is ``ok`` or
    why not (``invalid_credentials``, ``permission_denied``, ``provider_unreachable``...);
    ``message`` is for a person and never repeats a credential."""

    ok: bool
    code: str
    message: str


class HostedCheckoutProvider(Protocol):
    name: str

    def create_checkout_session(
        self, credentials: Credentials, request: CheckoutRequest, *, idempotency_key: str
    ) -> CheckoutSession: ...


class PushPaymentProvider(Protocol):
    name: str

    def push_payment(self, credentials: Credentials, request: PushRequest) -> PushAccepted:
        """Send the prompt; ProviderRejectedError when the provider refuses it, and
        ProviderUnreachableError when it is unknown whether it was sent."""
        ...


class CustomerProvider(Protocol):
    name: str

    def create_customer(
        self, credentials: Credentials, *, email: str, name: str | None, phone: str | None,
        idempotency_key: str,
    ) -> str: ...  # fmt: skip


class RefundProvider(Protocol):
    name: str

    def create_refund(
        self,
        credentials: Credentials,
        payment: Payment,
        *,
        refund_id: str,
        amount: Amount,
        reason: str | None,
        idempotency_key: str,
    ) -> RefundObservation: ...


class SweepableProvider(Protocol):
    name: str

    def check_payment(
        self, credentials: Credentials, payment: Payment
    ) -> tuple[ProviderEvent, dict[str, object]] | None:
        """The provider's current truth about an open payment, as an event (None: still open)."""
        ...


class WebhookProvider(Protocol):
    name: str

    def verify_webhook(
        self, credentials: Credentials, payload: bytes, headers: Mapping[str, str]
    ) -> ProviderEvent:
        """Verify and translate; raises WebhookVerificationError."""
        ...


class WebhookConfirmer(Protocol):
    """For notifications that prove nothing by themselves (unsigned): check one against the
    payment it names and ask the provider, with the tenant's credentials, before it counts."""

    name: str

    def confirm_webhook(
        self, credentials: Credentials, payment: Payment, event: ProviderEvent
    ) -> ProviderEvent:
        """The event to apply, as the provider confirms it; WebhookVerificationError (with the
        reason recorded) when it does not match the payment or the provider does not agree."""
        ...


class CredentialTester(Protocol):
    name: str

    def test_credentials(self, credentials: Credentials) -> CredentialTestResult:
        """Ask the provider something cheap with ``credentials``; a refusal is a result, not
        an exception."""
        ...


@dataclass(frozen=True, slots=True)
class CryptoPaymentRequest:
    """A payment in a crypto currency for a price (fiat or crypto); our payment id travels to
    the provider (NOWPayments' ``order_id``). Amounts are exact decimals of major units."""

    payment_id: str
    price_amount: Decimal
    price_currency: str
    pay_currency: str
    callback_url: str | None
    description: str = ""
    pay_amount: Decimal | None = None  # a fixed amount to pay instead of the price converted


@dataclass(frozen=True, slots=True)
class CryptoPayment:
    """The provider's payment: where and how much the customer sends."""

    provider_ref: str
    provider_status: str
    pay_address: str
    pay_amount: Decimal
    pay_currency: str
    price_amount: Decimal
    price_currency: str
    order_id: str | None
    payin_extra_id: str | None = None  # the memo / destination tag some currencies need
    expires_at: datetime | None = None
    details: Mapping[str, str] = field(default_factory=dict)  # for Payment.provider_details


@dataclass(frozen=True, slots=True)
class CryptoInvoiceRequest:
    """A hosted invoice page for a price; the payment made through it names ``payment_id``."""

    payment_id: str
    price_amount: Decimal
    price_currency: str
    callback_url: str | None
    success_url: str | None = None
    cancel_url: str | None = None
    pay_currency: str | None = None  # None: the customer chooses on the page
    description: str = ""


@dataclass(frozen=True, slots=True)
class CryptoInvoice:
    provider_ref: str  # the reference our payment is found by until its provider payment exists
    invoice_id: str
    invoice_url: str
    price_amount: Decimal
    price_currency: str
    pay_currency: str | None
    order_id: str | None


@dataclass(frozen=True, slots=True)
class CryptoEstimate:
    amount_from: Decimal
    currency_from: str
    amount_to: Decimal
    currency_to: str


@dataclass(frozen=True, slots=True)
class CryptoMinimum:
    currency_from: str
    currency_to: str
    min_amount: Decimal  # in currency_from
    fiat_equivalent: Decimal | None = None  # in the fiat asked for, when one was


class CryptoPaymentProvider(Protocol):
    """Payments in crypto currencies (NOWPayments): direct payments to an address, hosted
    invoices, the currency list, estimates and per-pair minimums. Currency codes are ours
    (upper case); ProviderRejectedError for a refusal (a currency it does not take, an amount
    below the minimum), ProviderUnavailableError for refused credentials."""

    name: str

    def create_payment(
        self, credentials: Credentials, request: CryptoPaymentRequest
    ) -> CryptoPayment: ...

    def create_invoice(
        self, credentials: Credentials, request: CryptoInvoiceRequest
    ) -> CryptoInvoice: ...

    def currencies(self, credentials: Credentials) -> tuple[str, ...]: ...

    def estimate(
        self, credentials: Credentials, *, amount: Decimal, currency_from: str, currency_to: str
    ) -> CryptoEstimate: ...

    def min_amount(
        self,
        credentials: Credentials,
        *,
        currency_from: str,
        currency_to: str,
        fiat_equivalent: str | None = None,
    ) -> CryptoMinimum: ...


@dataclass(frozen=True, slots=True)
class CustomerRegistration:
    """A customer as the provider registered them (NEO Bank: a CPRN)."""

    provider_ref: str
    status: str  # "pending", "verified" or "rejected"


@dataclass(frozen=True, slots=True)
class TokenTradeRequest:
    """Pay for an amount of a security token (ERC-1400) through a registered customer."""

    payment: Payment  # our payment id travels as the provider's reference
    customer_ref: str  # the customer's registration (CPRN)
    token_contract_address: str
    token_symbol: str
    token_quantity: Decimal
    description: str = ""


@dataclass(frozen=True, slots=True)
class TradeAccepted:
    provider_ref: str  # the provider's transaction id (NEO Bank: TXN-...)
    provider_status: str


class TokenTradeProvider(Protocol):
    """Customer registration and security-token trades (NEO Bank). ProviderRejectedError for
    a refusal (an unverified registration, a malformed field), ProviderUnreachableError when
    there is no final answer (safe to repeat: the provider dedupes on our references)."""

    name: str

    def register_customer(
        self,
        credentials: Credentials,
        *,
        reference: str,
        email: str,
        name: str,
        wallet_address: str,
    ) -> CustomerRegistration: ...

    def registration(self, credentials: Credentials, provider_ref: str) -> CustomerRegistration: ...

    def initiate_trade(
        self, credentials: Credentials, request: TokenTradeRequest
    ) -> TradeAccepted: ...
