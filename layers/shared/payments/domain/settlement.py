"""When cleared funds are due to settle: a number of business days after clearing.

Business days skip Saturdays, Sundays and the holidays of a configurable calendar (ISO dates,
the deployment's ``SETTLEMENT_HOLIDAYS``). The due moment keeps the clearing's time of day: a
trade cleared on Friday 15:00 UTC with T+2 is due on Tuesday 15:00 UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

SETTLEMENT_BUSINESS_DAYS = 2
# Where a cleared payment carries its due date (Payment.provider_details, an RFC 3339 time):
# the store indexes cleared payments by it, for the sweeper's overdue check.
SETTLEMENT_DUE_AT = "settlement_due_at"


def moment_text(moment: datetime) -> str:
    """A settlement time as stored and indexed (RFC 3339, UTC, whole seconds, ``Z``): texts of
    this one form sort as the times do."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_holidays(text: str) -> frozenset[date]:
    """``"2026-12-25,2026-12-26"`` -> the dates; ValueError names a bad one."""
    days: set[date] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            days.add(date.fromisoformat(part))
        except ValueError:
            raise ValueError(f"{part!r} is not an ISO date (YYYY-MM-DD)") from None
    return frozenset(days)


def is_business_day(day: date, holidays: Iterable[date] = ()) -> bool:
    return day.weekday() < 5 and day not in set(holidays)


def settlement_due(
    cleared_at: datetime,
    holidays: Iterable[date] = (),
    business_days: int = SETTLEMENT_BUSINESS_DAYS,
) -> datetime:
    """``cleared_at`` plus ``business_days`` business days (same time of day)."""
    if cleared_at.tzinfo is None:
        raise ValueError("cleared_at must be timezone-aware")
    if business_days < 0:
        raise ValueError("business_days cannot be negative")
    closed = frozenset(holidays)
    due = cleared_at
    remaining = business_days
    while remaining:
        due += timedelta(days=1)
        if is_business_day(due.date(), closed):
            remaining -= 1
    return due
