"""Omnisend (customer e-mails): no payments, but a tenant's credentials like any provider's.

services/notifications.py talks to it; this spec is what the credentials use case and payctl
need to store and show its key.
"""

from __future__ import annotations

from payments.providers.spec import CredentialField, ProviderKind, ProviderSpec, monogram_icon

SPEC = ProviderSpec(
    name="omnisend",
    display_name="Omnisend",
    kind=ProviderKind.NOTIFICATIONS,
    icon=monogram_icon("O", "#1d1d1b"),
    credential_fields=(
        CredentialField(
            "api_key",
            "the brand's Omnisend API key (Store settings > API keys)",
            pattern=r"[A-Za-z0-9._\-]{8,256}",
        ),
    ),
    base_urls={"live": "https://api.omnisend.com"},
)
