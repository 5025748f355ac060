"""Which providers a tenant can use, with what credentials."""

from __future__ import annotations

from collections.abc import Mapping

from payments.aws.secrets import read_provider_secret, write_provider_secret
from payments.providers.base import Credentials, ProviderUnavailableError

# The fields each provider's secret must hold (others are ignored).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "stripe": ("secret_key", "webhook_secret"),
    "omnisend": ("api_key",),
}


def provider_credentials(tenant_id: str, provider: str) -> Credentials:
    """The tenant's enabled credentials for ``provider``; ProviderUnavailableError otherwise."""
    secret = read_provider_secret(tenant_id, provider)
    if not secret or secret.get("enabled") is False:
        raise ProviderUnavailableError(f"{provider} is not enabled for this tenant")
    values = {k: str(v) for k, v in secret.items() if isinstance(v, str)}
    credentials = Credentials(values)
    for name in REQUIRED_FIELDS.get(provider, ()):
        credentials.require(name)
    return credentials


def set_provider_credentials(
    tenant_id: str, provider: str, values: Mapping[str, str], *, enabled: bool = True
) -> str:
    """Store credentials (payctl); refuses unknown providers and missing fields."""
    if provider not in REQUIRED_FIELDS:
        raise ValueError(f"unknown provider {provider!r}")
    missing = [name for name in REQUIRED_FIELDS[provider] if not values.get(name)]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    return write_provider_secret(tenant_id, provider, {**values, "enabled": enabled})


def redacted(value: str) -> str:
    """How a credential may appear in output: its kind and last four characters."""
    if len(value) <= 8:
        return "****"
    prefix = value.split("_")[0] + "_" if "_" in value[:8] else ""
    return f"{prefix}****{value[-4:]}"
