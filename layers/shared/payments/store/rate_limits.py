"""Per-tenant budgets of costly operations: fixed windows counted by one conditional update.

Each (tenant, operation, window) has one counter item. Taking a unit is a single UpdateItem,
``ADD used 1`` on the condition ``attribute_not_exists(used) OR used < capacity``: DynamoDB
evaluates the condition and applies the change atomically, so concurrent callers can never
push a window past its capacity, and a refused call writes nothing. Windows are aligned to
multiples of their length (epoch seconds); items expire through the table's TTL.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from payments.store.models import RateLimitItem


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    allowed: bool
    # Seconds until the current window ends (when a refused caller may succeed again).
    retry_after_seconds: int


def take(
    tenant_id: str,
    operation: str,
    *,
    capacity: int,
    window_seconds: int,
    now: float | None = None,
) -> RateLimitDecision:
    """Count one call of ``operation`` for ``tenant_id`` unless its window is full."""
    moment = time.time() if now is None else now
    window_start = int(moment // window_seconds) * window_seconds
    window_end = window_start + window_seconds
    retry_after = max(1, math.ceil(window_end - moment))
    if capacity <= 0:
        return RateLimitDecision(False, retry_after)  # the operation is switched off
    item = RateLimitItem(*RateLimitItem.key(tenant_id, operation, window_start))
    try:
        item.update(
            actions=[
                RateLimitItem.used.add(1),
                RateLimitItem.item_type.set("rate_limit"),
                RateLimitItem.tenant_id.set(tenant_id),
                RateLimitItem.operation.set(operation),
                # Kept one window past its end, then left to TTL (which may take a while:
                # later windows use other items, so a late deletion changes nothing).
                RateLimitItem.ttl.set(datetime.fromtimestamp(window_end + window_seconds, UTC)),
            ],
            condition=RateLimitItem.used.does_not_exist() | (RateLimitItem.used < capacity),
        )
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return RateLimitDecision(False, retry_after)
    return RateLimitDecision(True, retry_after)
