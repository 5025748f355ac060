"""GET /v1/reports: payments per UTC day, provider and currency, with totals and rates.

Read from the log index (store/activity_log.py), one day partition after the other, only the
attributes the sums need. Sums are exact: ints for fiat minor units, Decimal for crypto (never a
float); only the rates are floats. Past :data:`READ_BUDGET` Query calls the report stops and says
``truncated`` (the days it did read are complete, the older ones missing).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from payments.domain.payment import render_amount
from payments.domain.states import CAPTURED_STATUSES, PaymentStatus
from payments.errors import InvalidQueryError
from payments.money import Amount
from payments.store import activity_log
from payments.store.mapping import stored_amount

MAX_DAYS = 92
DEFAULT_DAYS = 30
READ_BUDGET = 400
_ATTRIBUTES = [
    "pk",
    "sk",
    "gsi5pk",
    "gsi5sk",
    "tenant_id",
    "provider",
    "currency",
    "status",
    "amount_captured",
    "amount_refunded",
]
_SUCCEEDED = frozenset(s.value for s in CAPTURED_STATUSES)


@dataclass(slots=True)
class _Sums:
    count: int = 0
    succeeded: int = 0
    failed: int = 0
    volume: Amount = 0
    refunded: Amount = 0

    def add(self, status: str, captured: Amount, refunded: Amount) -> None:
        self.count += 1
        self.succeeded += status in _SUCCEEDED
        self.failed += status == PaymentStatus.FAILED.value
        self.volume += captured
        self.refunded += refunded

    def view(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "volume": render_amount(self.volume),
            "refunded": render_amount(self.refunded),
        }


def parse_day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidQueryError(f"{name} is not a date (YYYY-MM-DD)") from None


def report(
    tenant_id: str, *, first: date | None, last: date | None, now: datetime | None = None
) -> dict[str, Any]:
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    last = last or (today if first is None else min(today, first + timedelta(DEFAULT_DAYS - 1)))
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidQueryError("from must not be after to")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidQueryError(f"at most {MAX_DAYS} days per report")
    sums: dict[tuple[str, str, str], _Sums] = defaultdict(_Sums)
    cursor: str | None = None
    spent = 0
    truncated = False
    # Not before the tenant existed: a young tenant's report reads only its own days.
    bounded = activity_log.bounded_by_tenant(tenant_id, last, first)
    while bounded is not None:
        page = activity_log.walk(
            activity_log.PAYMENT_LOG,
            tenant_id,
            bounded,
            limit=1000,
            cursor=cursor,
            max_queries=min(50, READ_BUDGET - spent),
            attributes=_ATTRIBUTES,
        )
        spent += page.queries
        for raw in page.items:
            if raw.get("tenant_id", {}).get("S") != tenant_id:
                continue
            currency = raw["currency"]["S"]
            day = raw["gsi5pk"]["S"].rpartition("#")[2]
            sums[(day, raw["provider"]["S"], currency)].add(
                raw["status"]["S"],
                stored_amount(currency, Decimal(raw["amount_captured"]["N"])),
                stored_amount(currency, Decimal(raw["amount_refunded"]["N"])),
            )
        cursor = page.next_cursor
        if cursor is None:
            break
        if spent >= READ_BUDGET:
            truncated = True
            break
    totals: dict[tuple[str, str], _Sums] = defaultdict(_Sums)
    for (_, provider, currency), day_sums in sums.items():
        total = totals[(provider, currency)]
        total.count += day_sums.count
        total.succeeded += day_sums.succeeded
        total.failed += day_sums.failed
        total.volume += day_sums.volume
        total.refunded += day_sums.refunded
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "days": [
            {"date": day, "provider": provider, "currency": currency, **value.view()}
            for (day, provider, currency), value in sorted(sums.items())
        ],
        "totals": [
            {
                "provider": provider,
                "currency": currency,
                **value.view(),
                "success_rate": value.succeeded / value.count if value.count else None,
                "refund_rate": float(Decimal(value.refunded) / Decimal(value.volume))
                if value.volume
                else None,
            }
            for (provider, currency), value in sorted(totals.items())
        ],
        "truncated": truncated,
    }
