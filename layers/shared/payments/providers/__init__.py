"""The provider registry: every provider's spec, and typed access to its capabilities.

Specs are cheap (no SDK); an adapter module is imported the first time one of its capabilities
is asked for, so a function loads the SDK of the provider it talks to and no other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TypeVar

from payments.errors import ConflictError, NotFoundError
from payments.providers import (
    mpesa_spec,
    neobank_spec,
    nowpayments_spec,
    omnisend_spec,
    stripe_spec,
)
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
from payments.providers.spec import Capability, ProviderSpec

SPECS: Mapping[str, ProviderSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            stripe_spec.SPEC,
            mpesa_spec.SPEC,
            nowpayments_spec.SPEC,
            neobank_spec.SPEC,
            omnisend_spec.SPEC,
        )
    }
)

T = TypeVar("T")


class UnknownProviderError(NotFoundError):
    code = "unknown_provider"


class CapabilityNotSupportedError(ConflictError):
    """The provider exists but cannot do this (e.g. refund a payment of a push-only rail)."""

    code = "capability_not_supported"


def get_spec(name: str) -> ProviderSpec:
    try:
        return SPECS[name]
    except KeyError:
        known = ", ".join(sorted(SPECS))
        raise UnknownProviderError(f"unknown provider {name!r} (known: {known})") from None


def providers_with(capability: Capability) -> list[ProviderSpec]:
    return [spec for spec in SPECS.values() if capability in spec.capabilities]


# The error code of asking a provider for what it cannot do.
_UNSUPPORTED_CODES = {
    Capability.HOSTED_CHECKOUT: "checkout_not_supported",
    Capability.PUSH_PAYMENT: "push_not_supported",
    Capability.REFUNDS: "refund_not_supported",
    Capability.SWEEP: "refresh_not_supported",
    Capability.WEBHOOKS: "webhooks_not_supported",
    Capability.WEBHOOK_CONFIRMATION: "webhooks_not_supported",
    Capability.CREDENTIAL_TEST: "credential_test_not_supported",
    Capability.CRYPTO_PAYMENTS: "crypto_not_supported",
    Capability.TOKEN_TRADES: "trades_not_supported",
}


def _capability(name: str, capability: Capability, factory: Callable[[], T] | None) -> T:
    if factory is None:
        raise CapabilityNotSupportedError(
            f"{get_spec(name).display_name} does not support {capability.value.replace('_', ' ')}",
            code=_UNSUPPORTED_CODES.get(capability, "capability_not_supported"),
        )
    return factory()


def hosted_checkout(name: str) -> HostedCheckoutProvider:
    return _capability(name, Capability.HOSTED_CHECKOUT, get_spec(name).hosted_checkout)


def push_payments(name: str) -> PushPaymentProvider:
    return _capability(name, Capability.PUSH_PAYMENT, get_spec(name).push_payment)


def customers(name: str) -> CustomerProvider | None:
    """The provider's customer records, or None when it keeps none (customers are optional)."""
    factory = get_spec(name).customers
    return factory() if factory is not None else None


def refunds(name: str) -> RefundProvider:
    return _capability(name, Capability.REFUNDS, get_spec(name).refunds)


def sweeper(name: str) -> SweepableProvider:
    return _capability(name, Capability.SWEEP, get_spec(name).sweep)


def webhooks(name: str) -> WebhookProvider:
    return _capability(name, Capability.WEBHOOKS, get_spec(name).webhooks)


def webhook_confirmer(name: str) -> WebhookConfirmer:
    return _capability(name, Capability.WEBHOOK_CONFIRMATION, get_spec(name).webhook_confirmation)


def credential_tester(name: str) -> CredentialTester:
    return _capability(name, Capability.CREDENTIAL_TEST, get_spec(name).credential_test)


def crypto_payments(name: str) -> CryptoPaymentProvider:
    return _capability(name, Capability.CRYPTO_PAYMENTS, get_spec(name).crypto_payments)


def token_trades(name: str) -> TokenTradeProvider:
    return _capability(name, Capability.TOKEN_TRADES, get_spec(name).token_trades)
