"""Short exclusive claims: one holder at a time for a key, until a moment or until released.

A claim is one conditional write: taken when no one holds the key, when the holder's time is
up, or when the caller already holds it (a retry). What holds is for the service to say (a
payment holding a customer's phone while its M-PESA prompt is open).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError

from payments.store.models import ClaimItem

ITEM_TYPE = "claim"
KEEP_AFTER_EXPIRY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Claim:
    holder: str
    held_until: float  # epoch seconds


def take(key: str, holder: str, *, seconds: float, now: float | None = None) -> Claim | None:
    """Hold ``key`` for ``seconds``; None when someone else holds it (see :func:`holder_of`)."""
    now = time.time() if now is None else now
    until = now + seconds
    item = ClaimItem(
        *ClaimItem.key(key),
        item_type=ITEM_TYPE,
        holder=holder,
        held_until=until,
        ttl=datetime.fromtimestamp(until, UTC) + KEEP_AFTER_EXPIRY,
    )
    free = (
        ClaimItem.pk.does_not_exist() | (ClaimItem.held_until < now) | (ClaimItem.holder == holder)
    )
    try:
        item.save(condition=free)
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return Claim(holder, until)


def holder_of(key: str, now: float | None = None) -> Claim | None:
    """Who holds ``key`` now, if anyone."""
    now = time.time() if now is None else now
    try:
        item = ClaimItem.get(*ClaimItem.key(key), consistent_read=True)
    except DoesNotExist:
        return None
    if float(item.held_until) < now:
        return None
    return Claim(item.holder, float(item.held_until))


def release(key: str, holder: str) -> bool:
    """Give ``key`` up, if ``holder`` still holds it."""
    try:
        ClaimItem(*ClaimItem.key(key)).delete(condition=ClaimItem.holder == holder)
    except DeleteError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True
