"""API key -> tenant, operator key -> operator, for the REST API's Lambda REQUEST authorizer.

Two kinds of caller, two policies, each covering every route of its kind (API Gateway caches a
policy per key for 300 s and reuses it on the key's next calls to any route):

- a merchant's API key (``pk_...``): every route but the operator API, whose routes it is
  explicitly denied (an explicit Deny wins over any Allow);
- an operator key (``opk_...``): the operator API (``/v1/admin/...``) only, every method.
"""

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
# The operator API's routes: /v1/admin/<anything> (every one of them, whatever its method).
ADMIN_ROUTES = "/v1/admin/*"
# Each verb spelled out rather than `*`: in a policy ARN `*` also matches "/", so `*/v1/admin/*`
# would cover `GET/v1/<anything>/v1/admin/...` too; a verb pins the path to its start.
HTTP_VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


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
    """An IAM policy for a valid key, with who it is in the context.

    Missing, malformed, unknown and revoked keys, and keys of a suspended tenant, all get the
    same 401. A key is looked up as exactly one kind, by its prefix: one read for an operator
    key, the key and its tenant for an API key (whose usage key, ``usageIdentifierKey``, comes
    from that same tenant read: no extra call).
    """
    request = APIGatewayAuthorizerRequestEvent(event)
    key = bearer_key(request.headers)
    if key is None:
        raise AuthorizationDeniedError()
    if key.startswith(repositories.OPERATOR_KEY_PREFIX):
        return _operator_policy(request.method_arn, key)
    record = repositories.find_api_key(key)
    if record is None or record.revoked:
        raise AuthorizationDeniedError()
    tenant = repositories.get_tenant(record.tenant_id)
    if tenant is None or tenant.status != "active":
        raise AuthorizationDeniedError()
    return merchant_policy(
        request.method_arn,
        key_id=record.key_id,
        tenant_id=record.tenant_id,
        # Selects the tenant's usage plan (its throttle). A tenant without one yet gets
        # API Gateway's 403 until `payctl limits backfill` gives it one (docs/decisions.md).
        usage_key=tenant.usage_key.value if tenant.usage_key else None,
    )


def _operator_policy(method_arn: str, key: str) -> dict[str, Any]:
    operator = repositories.find_operator_key(key)
    if operator is None or operator.revoked:
        raise AuthorizationDeniedError()
    return operator_policy(
        method_arn,
        key_id=operator.key_id,
        operator_id=operator.operator_id,
        operator_name=operator.name,
    )


def merchant_policy(
    method_arn: str, *, key_id: str, tenant_id: str, usage_key: str | None
) -> dict[str, Any]:
    """Every route of the API but the operator API's, which are explicitly denied."""
    response = APIGatewayAuthorizerResponse.from_route_arn(
        method_arn,
        principal_id=key_id,
        context={"role": "merchant", "tenant_id": tenant_id, "key_id": key_id},
        usage_identifier_key=usage_key,
    )
    response.allow_all_routes()
    for verb in HTTP_VERBS:
        response.deny_route(verb, ADMIN_ROUTES)
    return response.asdict()


def operator_policy(
    method_arn: str, *, key_id: str, operator_id: str, operator_name: str
) -> dict[str, Any]:
    """The operator API's routes only, every method; no usage key (operator routes are in no
    usage plan: docs/decisions.md)."""
    response = APIGatewayAuthorizerResponse.from_route_arn(
        method_arn,
        principal_id=key_id,
        context={
            "role": "operator",
            "operator_id": operator_id,
            "operator_name": operator_name,
            "key_id": key_id,
        },
    )
    for verb in HTTP_VERBS:
        response.allow_route(verb, ADMIN_ROUTES)
    return response.asdict()
