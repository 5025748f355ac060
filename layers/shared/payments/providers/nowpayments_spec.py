"""NOWPayments (crypto payments and hosted invoices), as the rest of the system sees it.

The adapter (payments.providers.nowpayments, stdlib HTTP only) is loaded by the factory on
first use. IPNs are signed (``x-nowpayments-sig``, HMAC-SHA512 with the tenant's IPN secret) but
carry no timestamp, so each is also confirmed with ``GET /v1/payment/{id}`` before it counts
(``webhook_confirmation``). See docs/providers/nowpayments.md.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from payments.providers.spec import (
    CredentialField,
    ProviderSpec,
    WebhookSecurity,
    monogram_icon,
)

if TYPE_CHECKING:
    from payments.providers.nowpayments import NowPaymentsProvider

NAME = "nowpayments"
SIGNATURE_HEADER = "x-nowpayments-sig"
SIGNATURE_ALGORITHM = "HMAC-SHA512"


def payment_ref(nowpayments_payment_id: object) -> str:
    """Our provider reference of a NOWPayments payment: its ``payment_id``."""
    return str(nowpayments_payment_id)


def invoice_ref(invoice_id: object) -> str:
    """Our provider reference of a NOWPayments invoice (its payment does not exist yet)."""
    return f"invoice_{invoice_id}"


@cache
def _adapter() -> NowPaymentsProvider:
    from payments.providers.nowpayments import NowPaymentsProvider

    return NowPaymentsProvider()


SPEC = ProviderSpec(
    name=NAME,
    display_name="NOWPayments",
    icon=monogram_icon("NP", "#1e40af"),
    webhook_security=WebhookSecurity(
        algorithm="HMAC-SHA512",
        signature_header="x-nowpayments-sig",
        signed_content=(
            "the body's JSON with keys sorted recursively and compact separators, keyed with "
            "the tenant's IPN secret (docs/providers/nowpayments.md: the canonical form)"
        ),
        checks=(
            "each notification is confirmed with GET /v1/payment/{payment_id} on the tenant's "
            "API key before it counts",
        ),
    ),
    credential_fields=(
        CredentialField(
            "api_key",
            "the account's API key (Store settings > API keys), sent as x-api-key",
            pattern=r"[A-Za-z0-9\-]{8,128}",
        ),
        CredentialField(
            "ipn_secret",
            "the account's IPN secret key (Store settings > Instant payment notifications)",
            pattern=r"[ -~]{8,256}",
        ),
        CredentialField(
            "environment",
            "sandbox or production: the NOWPayments the account belongs to",
            secret=False,
            choices=("sandbox", "production"),
        ),
    ),
    crypto_payments=_adapter,
    sweep=_adapter,
    webhooks=_adapter,
    webhook_confirmation=_adapter,
    credential_test=_adapter,
    # A crypto payment waits for block confirmations: ask after a while, not at once.
    sweep_after_minutes=10,
    base_urls={
        "sandbox": "https://api-sandbox.nowpayments.io",
        "production": "https://api.nowpayments.io",
    },
    environment_field="environment",
)
