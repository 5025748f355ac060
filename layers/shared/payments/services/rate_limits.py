"""Per-tenant limits of the operations that cost us (or a third party) more than a read.

Each service calls :func:`enforce_rate_limit` before it does anything: a refused call costs one
DynamoDB update and nothing else, and answers 429 ``rate_limited`` with ``Retry-After``. The
budgets are settings (``RATE_LIMIT_<OPERATION>``); the whole-API request rate is API Gateway's
usage plans' job (services/tenants.py).
"""

from __future__ import annotations

from enum import StrEnum

from payments.config import RateLimit, Settings, get_settings
from payments.errors import RateLimitedError
from payments.observability import Metric, count
from payments.store import rate_limits


class CostlyOperation(StrEnum):
    SECRET_ROTATION = "secret_rotation"  # noqa: S105 - an operation name, not a secret
    DELIVERY_RETRY = "delivery_retry"
    CREDENTIAL_TEST = "credential_test"
    CHECKOUT = "checkout"  # also the pushes of push payments: a payment started
    PAYMENT_REFRESH = "payment_refresh"


_DESCRIPTIONS = {
    CostlyOperation.SECRET_ROTATION: "callback secret rotations",
    CostlyOperation.DELIVERY_RETRY: "manual delivery retries",
    CostlyOperation.CREDENTIAL_TEST: "credential tests",
    CostlyOperation.CHECKOUT: "payments started",
    CostlyOperation.PAYMENT_REFRESH: "payment refreshes from the provider",
}


def limit_of(operation: CostlyOperation, settings: Settings | None = None) -> RateLimit:
    limit: RateLimit = getattr(settings or get_settings(), f"rate_limit_{operation.value}")
    return limit


def enforce_rate_limit(tenant_id: str, operation: CostlyOperation) -> None:
    """Count one ``operation`` for the tenant, or raise 429 when its window is used up."""
    limit = limit_of(operation)
    decision = rate_limits.take(
        tenant_id, operation.value, capacity=limit.capacity, window_seconds=limit.window_seconds
    )
    if not decision.allowed:
        count(Metric.RATE_LIMIT_REFUSALS, operation=operation.value)
        raise RateLimitedError(
            f"too many {_DESCRIPTIONS[operation]}: at most {limit.capacity} per "
            f"{limit.window_seconds} s; retry in {decision.retry_after_seconds} s",
            retry_after_seconds=decision.retry_after_seconds,
        )
