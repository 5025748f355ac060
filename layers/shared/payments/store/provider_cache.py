"""Slow-changing provider answers (a currency list) cached per tenant in the payments table,
so that every container shares one copy and a request does not wait for the provider.

One item per (tenant, list): read with one GetItem, replaced with one PutItem when stale. Two
containers refreshing at once both write the same list: harmless, so no lease.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist

from payments.store.models import ProviderListItem

ITEM_TYPE = "provider_list"
# Kept this long after it went stale, for the table's TTL to remove (never read then).
KEEP_AFTER_STALE = timedelta(days=1)


def cached_list(
    tenant_id: str,
    name: str,
    fetch: Callable[[], tuple[str, ...]],
    *,
    max_age_seconds: int,
    now: Callable[[], float] = time.time,
) -> tuple[str, ...]:
    """The list ``name`` of ``tenant_id``: the stored copy while fresh, else ``fetch()``ed and
    stored for ``max_age_seconds``."""
    pk, sk = ProviderListItem.key(tenant_id, name)
    try:
        item = ProviderListItem.get(pk, sk)
        if item.fresh_until > now():
            return tuple(str(value) for value in item.values)
    except DoesNotExist:
        pass
    values = fetch()
    fresh_until = now() + max_age_seconds
    ProviderListItem(
        pk,
        sk,
        item_type=ITEM_TYPE,
        values=list(values),
        fresh_until=fresh_until,
        ttl=datetime.fromtimestamp(fresh_until, UTC) + KEEP_AFTER_STALE,
    ).save()
    return values
