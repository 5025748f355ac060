"""Stripe, as the rest of the system sees it: capabilities, credentials, units, limits.

The adapter (payments.providers.stripe, which imports the SDK) is loaded by the factories on
first use, so reading this spec costs no SDK import.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from payments.providers.spec import (
    AmountNotSupportedError,
    CredentialField,
    Limits,
    ProviderSpec,
    WebhookSecurity,
    monogram_icon,
)

if TYPE_CHECKING:
    from payments.providers.stripe import StripeProvider

NAME = "stripe"

# Stripe's API counts some currencies differently from ISO 4217 (docs.stripe.com/currencies):
# ISK is zero-decimal in ISO but two-decimal at Stripe, where amounts must be whole krónur
# (multiples of 100); the three-decimal currencies take three decimals whose last digit is 0.
_TWO_DECIMAL_AT_STRIPE = frozenset({"ISK"})
_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


class StripeUnits:
    """Our ISO minor units <-> Stripe's ``amount`` integers."""

    def to_provider(self, amount: int, currency: str) -> int:
        code = currency.upper()
        if code in _TWO_DECIMAL_AT_STRIPE:
            return amount * 100
        if code in _THREE_DECIMAL and amount % 10:
            raise AmountNotSupportedError(
                f"Stripe takes {code} amounts in multiples of 10 (0.010 {code})"
            )
        return amount

    def from_provider(self, amount: int, currency: str) -> int:
        code = currency.upper()
        if code in _TWO_DECIMAL_AT_STRIPE:
            if amount % 100:
                raise AmountNotSupportedError(f"Stripe reported a fractional {code} amount")
            return amount // 100
        return amount


@cache
def _adapter() -> StripeProvider:
    from payments.providers.stripe import StripeProvider

    return StripeProvider()


SPEC = ProviderSpec(
    name=NAME,
    display_name="Stripe",
    icon=monogram_icon("S", "#635bff"),
    webhook_security=WebhookSecurity(
        algorithm="HMAC-SHA256",
        signature_header="Stripe-Signature",
        signed_content=(
            "'{t}.{raw body}' with the endpoint's signing secret (whsec_...); the header's t= "
            "timestamp must be within 300 s, any of its v1= signatures may match"
        ),
    ),
    credential_fields=(
        CredentialField(
            "secret_key",
            "the account's secret key, sk_test_... or sk_live_... (or a restricted rk_ key)",
            pattern=r"(sk|rk)_(test|live)_[A-Za-z0-9_]+",
        ),
        CredentialField(
            "webhook_secret",
            "the signing secret of the account's webhook endpoint for us, whsec_...",
            pattern=r"whsec_[A-Za-z0-9_+/=]+",
        ),
    ),
    hosted_checkout=_adapter,
    customers=_adapter,
    refunds=_adapter,
    sweep=_adapter,
    webhooks=_adapter,
    credential_test=_adapter,
    units=StripeUnits(),
    limits=Limits(
        max_amount=99_999_999,  # Stripe's ceiling for one charge, in its units
        metadata_keys=50,
        metadata_key_length=40,
        metadata_value_length=500,
        reserved_metadata_keys=frozenset({"payment_id", "tenant_id"}),
    ),
    refund_reasons=frozenset({"duplicate", "fraudulent", "requested_by_customer"}),
    requires_success_url=True,
    base_urls={"live": "https://api.stripe.com"},
)
