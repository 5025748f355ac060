"""The provider registry as a tenant sees it (GET /v1/providers): generated from the specs in
payments.providers.SPECS, so a provider added there is listed without an edit here.

For each: what it is and can do (its spec), whether this tenant has it set up (the stored
credentials and their last test), where its webhooks go and how they are authenticated, the
source networks this deployment accepts them from, and when the last one was accepted.
"""

from __future__ import annotations

from typing import Any

from payments import providers
from payments.aws.secrets import read_provider_secret
from payments.config import get_settings
from payments.providers import get_spec
from payments.providers.spec import Capability, ProviderSpec
from payments.services.credentials import ENABLED, webhook_url
from payments.services.webhook_stats import stored_timestamp
from payments.store import credential_status, webhook_stats


def provider_registry(tenant_id: str) -> dict[str, Any]:
    # providers.SPECS read on each call (not imported by name): the registry is what is
    # registered now.
    return {"data": [_entry(tenant_id, spec) for _, spec in sorted(providers.SPECS.items())]}


def provider_entry(tenant_id: str, name: str) -> dict[str, Any]:
    """One provider; UnknownProviderError (404 unknown_provider) for a name no spec has."""
    return _entry(tenant_id, get_spec(name))


def _entry(tenant_id: str, spec: ProviderSpec) -> dict[str, Any]:
    # Fresh: what is stored now, as GET .../credentials shows it, not a container's cache.
    secret = read_provider_secret(tenant_id, spec.name, fresh=True)
    status = credential_status.get_status(tenant_id, spec.name) if secret is not None else None
    sends_webhooks = Capability.WEBHOOKS in spec.capabilities
    security = spec.webhook_security
    last_accepted = (
        webhook_stats.latest(tenant_id, spec.name, ("last_accepted_at",)).last_accepted_at
        if sends_webhooks
        else None
    )
    return {
        "name": spec.name,
        "display_name": spec.display_name,
        "kind": spec.kind.value,
        "icon": spec.icon,
        "capabilities": sorted(capability.value for capability in spec.capabilities),
        "credential_fields": [
            {
                "name": field.name,
                "description": field.description,
                "secret": field.secret,
                "required": field.required,
                "choices": list(field.choices),
            }
            for field in spec.credential_fields
        ],
        "configured": secret is not None,
        "enabled": secret is not None and secret.get(ENABLED) is not False,
        "verified": bool(status.verified) if status is not None else False,
        "webhook_url": webhook_url(tenant_id, spec.name),
        "webhook_url_per_payment": spec.webhook_path_token,
        "webhook_security": (
            {
                "signed": security.signed,
                "signature_header": security.signature_header,
                "algorithm": security.algorithm,
                "signed_content": security.signed_content,
                "checks": list(security.checks),
            }
            if sends_webhooks and security is not None
            else None
        ),
        "source_networks": (
            [str(network) for network in get_settings().webhook_source_networks(spec.name)]
            if sends_webhooks
            else []
        ),
        "last_webhook_accepted_at": stored_timestamp(last_accepted),
    }
