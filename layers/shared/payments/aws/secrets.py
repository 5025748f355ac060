"""Per-tenant provider credentials in Secrets Manager, under one prefix, encrypted with our key.

Reads go through Powertools Parameters (cached for ``CACHE_SECONDS`` per container). Values are
never logged; errors name the secret, never its content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import (
    GetParameterError,
    TransformParameterError,
)

from payments.config import get_settings

CACHE_SECONDS = 300


def secret_name(tenant_id: str, provider: str) -> str:
    return f"{get_settings().secrets_prefix}{tenant_id}/{provider}"


def read_provider_secret(
    tenant_id: str, provider: str, *, fresh: bool = False
) -> dict[str, Any] | None:
    """The tenant's secret for ``provider`` as a dict, or None when there is none. ``fresh``
    skips the container's cache (to show or test what is stored now)."""
    try:
        value = parameters.get_secret(
            secret_name(tenant_id, provider),
            transform="json",
            max_age=CACHE_SECONDS,
            force_fetch=fresh,
        )
    except (GetParameterError, TransformParameterError):
        return None
    return dict(value) if isinstance(value, dict) else None


def write_provider_secret(tenant_id: str, provider: str, values: Mapping[str, Any]) -> str:
    """Create or replace the tenant's secret for ``provider``; returns the secret's name."""
    import boto3

    client = boto3.client("secretsmanager")
    name = secret_name(tenant_id, provider)
    body = json.dumps(dict(values), separators=(",", ":"), sort_keys=True)
    try:
        client.put_secret_value(SecretId=name, SecretString=body)
    except client.exceptions.ResourceNotFoundException:
        kwargs: dict[str, Any] = {"Name": name, "SecretString": body}
        if get_settings().kms_key_id:
            kwargs["KmsKeyId"] = get_settings().kms_key_id
        client.create_secret(**kwargs)
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    return name
