"""Who a request comes from, as the authorizer put it in the request's context: a merchant's
tenant, or an operator (services/auth.py writes the context).

Outside services and free of imports, so that every API function can read it at no cost
(payments.http imports it, and the docs function must not load payments.services): merchant
handlers refuse an operator (http.tenant_id_of), the operator API knows its caller and writes
the audit log with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OPERATOR_ROLE = "operator"


@dataclass(frozen=True, slots=True)
class OperatorContext:
    operator_id: str
    name: str
    key_id: str


def authorizer_context(raw_event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The authorizer's context of an API Gateway proxy event ({} when it has none)."""
    request_context = raw_event.get("requestContext") or {}
    authorizer = request_context.get("authorizer") if isinstance(request_context, Mapping) else {}
    return authorizer if isinstance(authorizer, Mapping) else {}


def is_operator(raw_event: Mapping[str, Any]) -> bool:
    return authorizer_context(raw_event).get("role") == OPERATOR_ROLE


def operator_context(raw_event: Mapping[str, Any]) -> OperatorContext | None:
    """The operator the authorizer resolved, or None when the caller is no operator."""
    authorizer = authorizer_context(raw_event)
    if authorizer.get("role") != OPERATOR_ROLE:
        return None
    values = [authorizer.get(name) for name in ("operator_id", "operator_name", "key_id")]
    if not all(isinstance(value, str) and value for value in values):
        return None
    operator_id, name, key_id = (str(value) for value in values)
    return OperatorContext(operator_id, name, key_id)
