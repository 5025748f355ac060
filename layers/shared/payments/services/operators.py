"""Who an operator request comes from: the operator the authorizer put in its context.

Kept apart from the authorizer's module (and free of imports) so that every API function can
read it cheaply: merchant handlers to refuse an operator (payments.http.tenant_id_of), the
operator API to know its caller and write the audit log.
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
