"""Webhook statistics: hourly counter items, sharded, one UpdateItem per delivery.

Each delivery that ends for a known tenant adds, in ONE UpdateItem on the item
``WHSTATS#<tenant>#<provider>#<shard>`` / ``HOUR#<hour>`` (shard at random among
models.STATS_SHARDS): 1 to ``received`` and to its outcome (``applied``, ``duplicate``,
``ignored`` or ``rejected``), 1 to ``rejected__<reason>`` when rejected, 1 to the
processing-time bucket ``ms__<bound>``, and sets ``last_received_at`` (and
``last_accepted_at`` or ``last_rejected_at`` with ``last_rejected_reason``). ADD on a missing
attribute starts it at 0, so the first delivery of an hour creates its item. Items expire
``RETENTION`` after their hour.

The write is outside the delivery's state-change transaction (it would add an item to it, and
make a counter's contention a payment's failure); see docs/webhooks.md for what the counts are
exact under.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from payments.domain.webhook_health import BUCKET_LABELS, Counts, bucket_label
from payments.store.models import STATS_SHARDS, WebhookStatsItem

RETENTION = timedelta(days=35)
ITEM_TYPE = "webhook_stats"
OUTCOMES = ("applied", "duplicate", "ignored", "rejected")
ACCEPTED = frozenset({"applied", "duplicate", "ignored"})
_REASON_PREFIX = "rejected__"
_BUCKET_PREFIX = "ms__"
_REASON_CHARS = re.compile(r"[^a-z0-9_]+")
MAX_REASON_LENGTH = 48
MAX_DETAIL_LENGTH = 200
# Items read per query page when walking back for the last times.
_WALK_PAGE = 48


def hour_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


def iso(moment: datetime) -> str:
    """A fixed-width UTC timestamp: compared as text, it sorts as time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def reason_key(reason: str) -> str:
    """A rejection reason as a stable attribute-name part: lower-case letters, digits, _."""
    cleaned = _REASON_CHARS.sub("_", reason.lower()).strip("_")[:MAX_REASON_LENGTH]
    return cleaned or "unknown"


def _number(name: str) -> NumberAttribute:
    attribute = NumberAttribute()
    attribute.attr_name = name
    return attribute


def _text(name: str) -> UnicodeAttribute:
    attribute = UnicodeAttribute()
    attribute.attr_name = name
    return attribute


def record_delivery(
    tenant_id: str,
    provider: str,
    *,
    outcome: str,
    elapsed_ms: float,
    at: datetime,
    reason: str | None = None,
    detail: str | None = None,
    shard: int | None = None,
) -> None:
    """Count one delivery (one UpdateItem). ``reason`` (rejections) becomes a counter of its
    own; ``detail`` is kept as the last rejection's reason, as it is (bounded)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    # Spreads load, guards nothing: not a secret.
    chosen = random.randrange(STATS_SHARDS) if shard is None else shard  # noqa: S311
    hour = hour_key(at)
    now = iso(at)
    item = WebhookStatsItem(*WebhookStatsItem.key(tenant_id, provider, chosen, hour))
    actions: list[Any] = [
        WebhookStatsItem.item_type.set(ITEM_TYPE),
        WebhookStatsItem.tenant_id.set(tenant_id),
        WebhookStatsItem.provider.set(provider),
        WebhookStatsItem.hour.set(hour),
        WebhookStatsItem.ttl.set(at.replace(minute=0, second=0, microsecond=0) + RETENTION),
        WebhookStatsItem.received.add(1),
        _number(outcome).add(1),
        _number(_BUCKET_PREFIX + bucket_label(elapsed_ms)).add(1),
        WebhookStatsItem.last_received_at.set(now),
    ]
    if outcome == "rejected":
        key = reason_key(reason or "unknown")
        actions += [
            _number(_REASON_PREFIX + key).add(1),
            WebhookStatsItem.last_rejected_at.set(now),
            WebhookStatsItem.last_rejected_reason.set((detail or key)[:MAX_DETAIL_LENGTH]),
        ]
    else:
        actions.append(WebhookStatsItem.last_accepted_at.set(now))
    item.update(actions=actions)


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Latest:
    last_received_at: str | None = None
    last_accepted_at: str | None = None
    last_rejected_at: str | None = None
    last_rejected_reason: str | None = None


def counts_of(raw: Mapping[str, Mapping[str, Any]]) -> Counts:
    """One stored item (DynamoDB's wire form) as Counts."""

    def number(name: str) -> int:
        value = raw.get(name, {}).get("N")
        return int(value) if value is not None else 0

    counts = Counts(
        received=number("received"),
        applied=number("applied"),
        duplicate=number("duplicate"),
        ignored=number("ignored"),
        rejected=number("rejected"),
    )
    for name in raw:
        if name.startswith(_REASON_PREFIX):
            counts.rejected_by_reason[name.removeprefix(_REASON_PREFIX)] = number(name)
        elif name.startswith(_BUCKET_PREFIX) and name.removeprefix(_BUCKET_PREFIX) in BUCKET_LABELS:
            counts.latency_buckets[name.removeprefix(_BUCKET_PREFIX)] = number(name)
    return counts


def _text_of(raw: Mapping[str, Mapping[str, Any]], name: str) -> str | None:
    value = raw.get(name, {}).get("S")
    return str(value) if value is not None else None


def _pages(
    tenant_id: str, provider: str, shard: int, condition: Any, *, newest_first: bool, limit: int
) -> Iterator[dict[str, Any]]:
    connection = WebhookStatsItem._get_connection()
    start: Any = None
    while True:
        page = connection.query(
            WebhookStatsItem.partition(tenant_id, provider, shard),
            range_key_condition=condition,
            consistent_read=True,
            scan_index_forward=not newest_first,
            limit=limit,
            exclusive_start_key=start,
        )
        yield from page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def hourly_counts(
    tenant_id: str, provider: str, first_hour: datetime, last_hour: datetime
) -> dict[str, Counts]:
    """The counts of every hour from ``first_hour`` to ``last_hour`` (inclusive) that had any
    delivery, by hour key, the shards summed: one query (paged) per shard."""
    condition = WebhookStatsItem.sk.between(
        f"HOUR#{hour_key(first_hour)}", f"HOUR#{hour_key(last_hour)}"
    )
    by_hour: dict[str, Counts] = {}
    for shard in range(STATS_SHARDS):
        for raw in _pages(tenant_id, provider, shard, condition, newest_first=False, limit=500):
            hour = _text_of(raw, "hour") or str(raw["sk"]["S"]).removeprefix("HOUR#")
            by_hour.setdefault(hour, Counts()).add(counts_of(raw))
    return by_hour


LATEST_FIELDS = ("last_received_at", "last_accepted_at", "last_rejected_at")


def latest(tenant_id: str, provider: str, fields: tuple[str, ...] = LATEST_FIELDS) -> Latest:
    """The last received, accepted and rejected times (with the last rejection's reason)
    within the retention, or those of ``fields`` only: each shard is read newest hour first
    until it has given them all (or has no more hours)."""
    found: dict[str, str] = {}
    reason: str | None = None
    for shard in range(STATS_SHARDS):
        missing = set(fields)
        condition = WebhookStatsItem.sk.startswith("HOUR#")
        for raw in _pages(
            tenant_id, provider, shard, condition, newest_first=True, limit=_WALK_PAGE
        ):
            for name in list(missing):
                value = _text_of(raw, name)
                if value is None:
                    continue
                missing.discard(name)
                if value > found.get(name, ""):
                    found[name] = value
                    if name == "last_rejected_at":
                        reason = _text_of(raw, "last_rejected_reason")
            if not missing:
                break
    return Latest(
        last_received_at=found.get("last_received_at"),
        last_accepted_at=found.get("last_accepted_at"),
        last_rejected_at=found.get("last_rejected_at"),
        last_rejected_reason=reason if "last_rejected_at" in found else None,
    )
