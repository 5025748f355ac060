"""What a tenant can see of its webhooks: their health per provider, daily statistics, and the
inbox of what arrived (docs/webhooks.md). Read-only: the counters are written by the webhook
pipeline (services/webhooks.py), the inbox by the state change.

Every provider whose spec has webhooks is covered, so a new provider appears here without an
edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from payments import providers
from payments.domain.events import rfc3339
from payments.domain.webhook_health import Counts, health_status, percentile_ms
from payments.errors import InvalidQueryError, NotFoundError, PaymentsError
from payments.providers import providers_with
from payments.providers.spec import Capability
from payments.store import credential_status, webhook_stats
from payments.store import inbox as inbox_store

MAX_DAYS = webhook_stats.RETENTION.days
DEFAULT_DAYS = 7


def webhook_providers() -> list[str]:
    return sorted(spec.name for spec in providers_with(Capability.WEBHOOKS))


def _checked_provider(provider: str | None) -> list[str]:
    """The providers a query is about: the one named (it must send webhooks), else all."""
    if provider is None:
        return webhook_providers()
    if provider not in providers.SPECS:
        raise PaymentsError(
            f"unknown provider {provider!r} (known: {', '.join(sorted(providers.SPECS))})",
            code="unknown_provider",
            status=400,
        )
    if provider not in webhook_providers():
        raise PaymentsError(
            f"{providers.SPECS[provider].display_name} sends no webhooks",
            code="webhooks_not_supported",
            status=400,
        )
    return [provider]


def stored_timestamp(stored: str | None) -> str | None:
    """A stored webhook_stats.iso() time as the API shows times."""
    if stored is None:
        return None
    return rfc3339(datetime.strptime(stored, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC))


# --- health --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    provider: str
    configured: bool
    last_hour: Counts
    last_day: Counts
    latest: webhook_stats.Latest

    def view(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "configured": self.configured,
            "status": health_status(self.last_hour, self.last_day).value,
            "last_received_at": stored_timestamp(self.latest.last_received_at),
            "last_accepted_at": stored_timestamp(self.latest.last_accepted_at),
            "last_rejected_at": stored_timestamp(self.latest.last_rejected_at),
            "last_rejected_reason": self.latest.last_rejected_reason,
            "received_last_hour": self.last_hour.received,
            "received_last_day": self.last_day.received,
            "acceptance_rate_last_hour": _rate(self.last_hour),
            "acceptance_rate_last_day": _rate(self.last_day),
        }


def _rate(counts: Counts) -> float | None:
    rate = counts.acceptance_rate()
    return round(rate, 4) if rate is not None else None


def provider_health(tenant_id: str, provider: str, now: datetime) -> ProviderHealth:
    """ "Last hour": the current UTC clock hour and the one before it (60-120 minutes);
    "last day": the current hour and the 23 before it."""
    hours = webhook_stats.hourly_counts(tenant_id, provider, now - timedelta(hours=23), now)
    current = webhook_stats.hour_key(now)
    previous = webhook_stats.hour_key(now - timedelta(hours=1))
    return ProviderHealth(
        provider=provider,
        configured=credential_status.get_status(tenant_id, provider) is not None,
        last_hour=Counts.total(c for hour, c in hours.items() if hour in {current, previous}),
        last_day=Counts.total(hours.values()),
        latest=webhook_stats.latest(tenant_id, provider),
    )


def webhook_health(tenant_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    moment = now or datetime.now(UTC)
    return {
        "data": [provider_health(tenant_id, p, moment).view() for p in webhook_providers()],
        "generated_at": rfc3339(moment),
    }


# --- daily statistics ----------------------------------------------------------------------


def webhook_daily_stats(
    tenant_id: str, *, days: int, provider: str | None, now: datetime | None = None
) -> dict[str, Any]:
    """Per provider, per UTC day (today and the ``days - 1`` before it, oldest first, days
    without deliveries included as zeros)."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidQueryError(f"days must be 1-{MAX_DAYS} (the statistics' retention)")
    moment = now or datetime.now(UTC)
    today = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=days - 1)
    dates = [(first + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(days)]
    rows: list[dict[str, Any]] = []
    for name in _checked_provider(provider):
        by_day: dict[str, Counts] = {date: Counts() for date in dates}
        last = today + timedelta(hours=23)
        for hour, counts in webhook_stats.hourly_counts(tenant_id, name, first, last).items():
            date = hour[:10]
            if date in by_day:
                by_day[date].add(counts)
        rows.extend(_day_view(name, date, counts) for date, counts in by_day.items())
    return {"data": rows, "days": days, "generated_at": rfc3339(moment)}


def _day_view(provider: str, date: str, counts: Counts) -> dict[str, Any]:
    return {
        "provider": provider,
        "date": date,
        "received": counts.received,
        "applied": counts.applied,
        "duplicate": counts.duplicate,
        "ignored": counts.ignored,
        "rejected": counts.rejected,
        "rejected_by_reason": dict(sorted(counts.rejected_by_reason.items())),
        "processing_ms_p50": percentile_ms(counts.latency_buckets, 0.50),
        "processing_ms_p95": percentile_ms(counts.latency_buckets, 0.95),
    }


# --- inbox ---------------------------------------------------------------------------------


def _entry_view(entry: inbox_store.InboxEntry) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": entry.inbox_id,
        "provider": entry.provider,
        "event_id": entry.event_id,
        "event_type": entry.event_type,
        "status": entry.status,
        "reason": entry.reason,
        "received_at": rfc3339(entry.received_at),
    }
    if entry.payload is not None:
        view["payload"] = entry.payload
    return view


def inbox_page(
    tenant_id: str,
    *,
    provider: str | None,
    status: str | None,
    since: datetime | None,
    limit: int,
    cursor: str | None,
    reason: str | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    providers: Sequence[str] = _checked_provider(provider)
    try:
        # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        since = since.astimezone(UTC) if since is not None else None
        until = until.astimezone(UTC) if until is not None else None
    except OverflowError:
        raise InvalidQueryError("since or until is out of range") from None
    if since is not None and until is not None and since >= until:
        raise InvalidQueryError("since must be before until")
    if status is not None and status not in inbox_store.STATUSES:
        raise InvalidQueryError(f"status must be one of {', '.join(inbox_store.STATUSES)}")
    page = inbox_store.list_entries(
        tenant_id,
        providers,
        limit=limit,
        status=status,
        since=since,
        cursor=cursor,
        reason=reason,
        until=until,
    )
    return {
        "data": [_entry_view(entry) for entry in page.entries],
        "next_cursor": page.next_cursor,
    }


class InboxEntryNotFoundError(NotFoundError):
    code = "inbox_entry_not_found"


def inbox_entry(tenant_id: str, entry_id: str) -> dict[str, Any]:
    parsed = inbox_store.parse_inbox_id(entry_id)
    entry = inbox_store.get_entry(tenant_id, *parsed) if parsed else None
    if entry is None:
        raise InboxEntryNotFoundError(f"no inbox entry {entry_id}")
    return _entry_view(entry)


def backfill_inbox_index() -> int:
    """payctl inbox backfill-index: index the inbox records stored before the index."""
    return inbox_store.backfill_index()
