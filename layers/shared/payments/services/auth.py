"""API key -> tenant, for the REST API's Lambda REQUEST authorizer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)

from payments.store import repositories

# API Gateway turns exactly this message into a 401 (and the devstack gateway does the same).
UNAUTHORIZED = "Unauthorized"
MAX_KEY_LENGTH = 256


class AuthorizationDeniedError(Exception):
    def __init__(self) -> None:
        super().__init__(UNAUTHORIZED)


def bearer_key(headers: dict[str, str] | None) -> str | None:
    """The API key from ``Authorization: Bearer <key>`` (header name case-insensitive)."""
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and isinstance(value, str):
            scheme, _, key = value.strip().partition(" ")
            key = key.strip()
            if scheme.lower() == "bearer" and 0 < len(key) <= MAX_KEY_LENGTH:
                return key
    return None


def authorize_request(event: dict[str, Any]) -> dict[str, Any]:
    """An IAM policy allowing the whole API for a valid key, with the tenant in the context.

    The policy covers every route (not just the one asked for) because API Gateway caches it
    for 300 s per key and reuses it for the key's next calls to any route. Missing, malformed,
    unknown and revoked keys, and keys of a suspended tenant, all get the same 401. The tenant's
    usage key (``usageIdentifierKey``) comes from the same tenant read: no extra call.
    """
    request = APIGatewayAuthorizerRequestEvent(event)
    key = bearer_key(request.headers)
    if key is None:
        raise AuthorizationDeniedError()
    record = repositories.find_api_key(key)
    if record is None or record.revoked:
        raise AuthorizationDeniedError()
    tenant = repositories.get_tenant(record.tenant_id)
    if tenant is None or tenant.status != "active":
        raise AuthorizationDeniedError()
    response = APIGatewayAuthorizerResponse.from_route_arn(
        request.method_arn,
        principal_id=record.key_id,
        context={"tenant_id": record.tenant_id, "key_id": record.key_id},
        # Selects the tenant's usage plan (its throttle). A tenant without one yet gets
        # API Gateway's 403 until `payctl limits backfill` gives it one (docs/decisions.md).
        usage_identifier_key=tenant.usage_key.value if tenant.usage_key else None,
    )
    response.allow_all_routes()
    return response.asdict()
