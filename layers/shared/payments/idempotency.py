"""Request idempotency (the ``Idempotency-Key`` header) through Powertools, in IdempotencyTable.

A key is scoped to the operation and the tenant. The same key with the same body answers the
first response (stored, not rebuilt); with another body it is refused; while the first request
still runs, a second one is told to retry. A request that failed leaves no record, so a retry
runs again (and our operations are built to resume, not repeat).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.config import get_settings
from payments.errors import ConflictError, UnprocessableError

HEADER = "Idempotency-Key"
EXPIRES_AFTER_SECONDS = 24 * 60 * 60  # like Stripe's


@cache
def _persistence() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table_name)


def run_idempotently(
    *,
    operation: str,
    tenant_id: str,
    idempotency_key: str,
    body: Mapping[str, Any],
    action: Callable[[], dict[str, Any]],
    lambda_context: LambdaContext | None,
) -> dict[str, Any]:
    """Run ``action`` once per (operation, tenant, key); replay its result afterwards."""
    config = IdempotencyConfig(
        event_key_jmespath="[operation, tenant_id, idempotency_key]",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=EXPIRES_AFTER_SECONDS,
    )
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="request", persistence_store=_persistence(), config=config
    )
    def run(request: dict[str, Any]) -> dict[str, Any]:
        return action()

    try:
        result: dict[str, Any] = run(
            request={
                "operation": operation,
                "tenant_id": tenant_id,
                "idempotency_key": idempotency_key,
                "body": dict(body),
            }
        )
    except IdempotencyValidationError:
        raise UnprocessableError(
            f"this {HEADER} was used with a different request body",
            code="idempotency_key_reused",
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise ConflictError(
            f"a request with this {HEADER} is still being processed; retry shortly",
            code="idempotency_key_in_use",
        ) from None
    return result
