"""What a provider is, declared once, beside its adapter: the one place its rules live.

A :class:`ProviderSpec` says what the provider can do (each capability a typed factory of the
adapter, so mypy proves the adapter implements that capability's protocol), which credentials a
tenant stores for it and how they are checked and shown, how our amounts become the provider's
and back, its limits, its refund reasons, how its webhooks are answered, and where its API is.
Services read these instead of knowing any provider: adding one is its adapter and spec, not an
edit of the shared pipeline.

Specs are cheap to import (no SDK): the factories import their adapter when first called.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from payments.domain.events import EventType
    from payments.domain.payment import Payment
    from payments.domain.states import PaymentStatus
    from payments.providers.base import (
        CredentialTester,
        CryptoPaymentProvider,
        CustomerProvider,
        HostedCheckoutProvider,
        PushPaymentProvider,
        RefundProvider,
        SweepableProvider,
        TokenTradeProvider,
        WebhookConfirmer,
        WebhookProvider,
    )


class Capability(StrEnum):
    HOSTED_CHECKOUT = "hosted_checkout"  # a page of the provider's where the customer pays
    PUSH_PAYMENT = "push_payment"  # a prompt on the customer's own phone (M-PESA STK)
    CUSTOMERS = "customers"  # provider-side customer records
    REFUNDS = "refunds"
    SWEEP = "sweep"  # the provider can be asked for a payment's current state
    WEBHOOKS = "webhooks"  # the provider notifies us (verified by the adapter)
    # Its notifications are unsigned: each is confirmed with the provider before it counts.
    WEBHOOK_CONFIRMATION = "webhook_confirmation"
    CREDENTIAL_TEST = "credential_test"  # a tenant's credentials can be tried on the provider
    # Payments in crypto currencies: addresses, hosted invoices, currencies, estimates.
    CRYPTO_PAYMENTS = "crypto_payments"
    # Customer registration and security-token trades paid through it (NEO Bank).
    TOKEN_TRADES = "token_trades"  # noqa: S105 - a capability name


class AmountNotSupportedError(ValueError):
    """An amount the provider cannot represent (e.g. a fraction of a unit it charges whole)."""


class AmountUnits(Protocol):
    """Our amounts (ISO 4217 minor units) in the provider's units, and back."""

    def to_provider(self, amount: int, currency: str) -> int: ...

    def from_provider(self, amount: int, currency: str) -> int: ...


class SameUnits:
    """The provider counts in ISO 4217 minor units, as we do."""

    def to_provider(self, amount: int, currency: str) -> int:
        return amount

    def from_provider(self, amount: int, currency: str) -> int:
        return amount


@dataclass(frozen=True, slots=True)
class CredentialField:
    """One value a tenant stores for a provider."""

    name: str
    description: str
    # Secret values are write-only: shown only redacted. Others (a shortcode, an environment)
    # are shown as they are.
    secret: bool = True
    required: bool = True
    pattern: str | None = None  # the whole value must match
    choices: tuple[str, ...] = ()
    max_length: int = 512

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not acceptable, or None."""
        if not isinstance(value, str) or not value.strip():
            return "is required" if self.required else "must be a non-empty string"
        if len(value) > self.max_length:
            return f"is longer than {self.max_length} characters"
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}"
        if self.pattern and not re.fullmatch(self.pattern, value):
            return f"does not have the expected form ({self.description})"
        return None


@dataclass(frozen=True, slots=True)
class Limits:
    """What the provider accepts, in its own units where they are amounts."""

    max_amount: int | None = None
    metadata_keys: int | None = None  # None: the provider takes no metadata
    metadata_key_length: int = 40
    metadata_value_length: int = 500
    # Names our adapter adds to the provider's metadata itself (clients may not use them).
    reserved_metadata_keys: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    """What our webhook pipeline decided about one delivery, before the provider's shape."""

    status: int
    code: str
    message: str
    outcome: str | None = None  # for accepted deliveries: applied, duplicate, ignored, rejected


@dataclass(frozen=True, slots=True)
class WebhookReply:
    status: int
    body: str
    content_type: str = "application/json"


def json_webhook_reply(answer: WebhookAnswer) -> WebhookReply:
    """Our own reply shape: 2xx ``{"received": true, "outcome"}``, else our error shape."""
    if 200 <= answer.status < 300:
        body: dict[str, Any] = {"received": True}
        if answer.outcome is not None:
            body["outcome"] = answer.outcome
    else:
        body = {"error": {"code": answer.code, "message": answer.message}}
    return WebhookReply(answer.status, json.dumps(body))


@dataclass(frozen=True, slots=True)
class WebhookSecurity:
    """How a provider's notifications are authenticated, as the registry API shows it: the
    header that carries the signature and its algorithm, or ``UNSIGNED`` with the checks that
    stand in for a signature. Descriptive: the adapter's verify_webhook does the checking."""

    algorithm: str  # "HMAC-SHA256", "HMAC-SHA512", ... or UNSIGNED
    signature_header: str | None = None  # None: the notifications carry no signature
    signed_content: str = ""  # what the signature covers, with which secret
    # Further checks on every notification (URL tokens, confirmation with the provider...).
    # The deployment's source-IP allow-list applies to every provider and is shown apart.
    checks: tuple[str, ...] = ()

    UNSIGNED = "none"

    @property
    def signed(self) -> bool:
        return self.signature_header is not None


def monogram_icon(letters: str, background: str, foreground: str = "#ffffff") -> str:
    """A provider's icon as a self-contained SVG data URI (no external host): its initials on
    a rounded square of its colour."""
    if not re.fullmatch(r"[A-Za-z0-9-]{1,3}", letters) or not all(
        re.fullmatch(r"#[0-9a-fA-F]{6}", colour) for colour in (background, foreground)
    ):
        raise ValueError("an icon is 1-3 letters on #rrggbb colours")
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="12" fill="{background}"/>'
        f'<text x="32" y="41" font-family="sans-serif" font-size="{30 - 5 * len(letters)}" '
        f'font-weight="700" text-anchor="middle" fill="{foreground}">{letters}</text></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _no_party(payment: Payment) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class Settlement:
    """A provider that clears a payment first and settles it days later (NEO Bank, T+2).

    Its ``succeeded`` means cleared: the capture posts to ``settlement_in_transit:<provider>``
    and ``settled`` moves the money on to ``provider_clearing:<provider>``; its ``failed`` is
    final, and after ``succeeded`` it reverses the clearing (domain.states, ``settles_later``).
    ``party`` names whose money a payment is (a customer profile id), for the accounts'
    suffix, so that each customer's cleared and settled balances are accounts of the ledger.
    """

    party: Callable[[Payment], str | None] = _no_party


# Events a provider emits beside ``payment.<status>`` when one of its payments moves, in the
# same transaction (NEO Bank: ``trade.settled``): (type, data) for the payment as it is after
# the change and the status it moved to.
CompanionEvents = Callable[
    ["Payment", "PaymentStatus"], Sequence[tuple["EventType", dict[str, Any]]]
]


class ProviderKind(StrEnum):
    PAYMENTS = "payments"  # takes payments (and usually notifies us of them)
    NOTIFICATIONS = "notifications"  # sends messages for us (Omnisend): no payments, no webhooks


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    display_name: str
    credential_fields: tuple[CredentialField, ...]
    kind: ProviderKind = ProviderKind.PAYMENTS
    # A data URI (monogram_icon): the registry API shows it, nothing is fetched from elsewhere.
    icon: str = ""
    # How its webhooks are authenticated (required of a provider with webhooks).
    webhook_security: WebhookSecurity | None = None
    # Capabilities, each the adapter's factory typed as that capability's protocol.
    hosted_checkout: Callable[[], HostedCheckoutProvider] | None = None
    push_payment: Callable[[], PushPaymentProvider] | None = None
    customers: Callable[[], CustomerProvider] | None = None
    refunds: Callable[[], RefundProvider] | None = None
    sweep: Callable[[], SweepableProvider] | None = None
    webhooks: Callable[[], WebhookProvider] | None = None
    # Unsigned notifications: each is checked against its payment and confirmed with the
    # provider before it counts (see payments.services.webhooks).
    webhook_confirmation: Callable[[], WebhookConfirmer] | None = None
    credential_test: Callable[[], CredentialTester] | None = None
    crypto_payments: Callable[[], CryptoPaymentProvider] | None = None
    token_trades: Callable[[], TokenTradeProvider] | None = None
    units: AmountUnits = field(default_factory=SameUnits)
    limits: Limits = field(default_factory=Limits)
    # Reasons a refund may give (empty: none may be given).
    refund_reasons: frozenset[str] = frozenset()
    # Hosted checkout: whether the provider needs a URL to send the customer back to.
    requires_success_url: bool = False
    webhook_reply: Callable[[WebhookAnswer], WebhookReply] = json_webhook_reply
    # True: each payment has its own notification URL, ``/{tenant_id}/{token}``, whose token
    # (stored hashed on the payment, Payment.webhook_token_hash) a notification must carry.
    webhook_path_token: bool = False
    # How long a payment stays open before the sweeper asks the provider (None: the
    # deployment's SWEEPER_PENDING_AGE_MINUTES).
    sweep_after_minutes: int | None = None
    # Clears first and settles later (None: a capture is final money at the provider).
    settlement: Settlement | None = None
    companion_events: CompanionEvents | None = None
    # A rule across credential fields (each field's own rules are its CredentialField):
    # what is wrong with a set of values, or None.
    credentials_problem: Callable[[Mapping[str, str]], str | None] | None = None
    # Environment name -> API base URL; the credential field that picks the environment
    # (None: there is one). A deployment may point a provider elsewhere (its sandbox) with the
    # setting PROVIDER_API_BASE_<NAME>.
    base_urls: Mapping[str, str] = field(default_factory=dict)
    environment_field: str | None = None

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset(
            capability
            for capability, factory in (
                (Capability.HOSTED_CHECKOUT, self.hosted_checkout),
                (Capability.PUSH_PAYMENT, self.push_payment),
                (Capability.CUSTOMERS, self.customers),
                (Capability.REFUNDS, self.refunds),
                (Capability.SWEEP, self.sweep),
                (Capability.WEBHOOKS, self.webhooks),
                (Capability.WEBHOOK_CONFIRMATION, self.webhook_confirmation),
                (Capability.CREDENTIAL_TEST, self.credential_test),
                (Capability.CRYPTO_PAYMENTS, self.crypto_payments),
                (Capability.TOKEN_TRADES, self.token_trades),
            )
            if factory is not None
        )

    def credential_field(self, name: str) -> CredentialField | None:
        return next((f for f in self.credential_fields if f.name == name), None)

    def api_base(self, values: Mapping[str, str]) -> str:
        """Where the provider's API is for a tenant's credentials ``values``: the URL of the
        environment they name (``environment_field``; the only one when there is none), or the
        deployment's own for this provider (PROVIDER_API_BASE_<NAME>, e.g. a sandbox)."""
        from payments.config import get_settings
        from payments.providers.base import ProviderUnavailableError

        if self.environment_field is None:
            environment = next(iter(self.base_urls))
        else:
            environment = values.get(self.environment_field, "")
            if environment not in self.base_urls:
                raise ProviderUnavailableError(
                    f"unknown {self.display_name} {self.environment_field} {environment!r}"
                )
        return get_settings().provider_api_base(self.name) or self.base_urls[environment]
