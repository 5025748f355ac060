"""A tenant's payments, newest first, filtered and searched (GET /v1/payments without a payable
or a provider reference, GET /v1/payments/export), and the search alone
(:func:`search_payments`, which the operators' cross-tenant search calls once per tenant).

What ``q`` matches, decided in this order (docs/dashboard-api.md):

1. ``pay_...``: that payment id, one strongly consistent read;
2. a text with ``@``: the customer's e-mail, case-insensitive (``email_lc``, a filter on the log);
3. otherwise a provider reference (the provider-ref index, as ``?provider_reference=``) and,
   when no payment has that reference, a payable id (a filter on the log).

The list reads the log index (store/activity_log.py) day by day from the newest, back to
``created_from`` or to the horizon: the tenant's creation day, and at most
:data:`HORIZON_DAYS` days back. Payments stored before the index existed are listed once
``payctl payments backfill-index`` has given them its keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.expressions.condition import Condition

from payments.domain.payment import Payment
from payments.errors import InvalidQueryError
from payments.store import activity_log, repositories
from payments.store.activity_log import PAYMENT_LOG, DayRange
from payments.store.mapping import item_to_payment, normalized_email
from payments.store.models import PaymentItem, utc_key_time

# How far back a listing looks at most (the log has one partition per day).
HORIZON_DAYS = 400
# Query calls one page may make before it answers with what it has and a cursor.
PAGE_READ_BUDGET = 40
EXPORT_MAX_ROWS = 10_000
# Query calls one export may make in all (each reads up to 1 MB).
EXPORT_READ_BUDGET = 600
MAX_QUERY_LENGTH = 254


@dataclass(frozen=True, slots=True)
class PaymentFilters:
    status: str | None = None
    provider: str | None = None
    payable_type: str | None = None
    currency: str | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive

    def __post_init__(self) -> None:
        if self.created_from is not None and self.created_from.tzinfo is None:
            raise InvalidQueryError("created_from needs a time zone")
        if self.created_to is not None and self.created_to.tzinfo is None:
            raise InvalidQueryError("created_to needs a time zone")
        if (
            self.created_from is not None
            and self.created_to is not None
            and self.created_from >= self.created_to
        ):
            raise InvalidQueryError("created_from must be before created_to")

    def matches(self, payment: Payment) -> bool:
        return (
            (self.status is None or payment.status.value == self.status)
            and (self.provider is None or payment.provider == self.provider)
            and (self.payable_type is None or payment.payable_type == self.payable_type)
            and (self.currency is None or payment.currency == self.currency)
            and (self.created_from is None or payment.created_at >= self.created_from)
            and (self.created_to is None or payment.created_at < self.created_to)
        )

    def condition(self) -> Condition | None:
        condition: Condition | None = None
        for attribute, value in (
            (PaymentItem.status, self.status),
            (PaymentItem.provider, self.provider),
            (PaymentItem.payable_type, self.payable_type),
            (PaymentItem.currency, self.currency),
        ):
            if value is not None:
                term = attribute == value
                condition = term if condition is None else condition & term
        return condition


@dataclass(frozen=True, slots=True)
class _Search:
    """What ``q`` became: payments found directly, or a filter for the log walk."""

    direct: list[Payment] | None = None
    condition: Condition | None = None


def _resolve(tenant_id: str, q: str) -> _Search:
    text = q.strip()
    if not text or len(text) > MAX_QUERY_LENGTH or any(ord(c) < 0x20 or ord(c) == 0x7F for c in q):
        raise InvalidQueryError(f"q must be 1-{MAX_QUERY_LENGTH} printable characters")
    if text.startswith("pay_"):
        payment = repositories.get_payment(tenant_id, text)
        return _Search(direct=[payment] if payment is not None else [])
    if "@" in text:
        return _Search(condition=PaymentItem.email_lc == normalized_email(text))
    for payment in _by_provider_reference(tenant_id, text):
        return _Search(direct=[payment])
    return _Search(condition=PaymentItem.payable_id == text)


def _by_provider_reference(tenant_id: str, reference: str) -> Iterator[Payment]:
    from payments.providers import SPECS

    for name in sorted(SPECS):
        payment = repositories.find_payment_by_provider_ref(tenant_id, name, reference)
        if payment is not None:
            yield payment
            return


def _day_range(tenant_id: str, filters: PaymentFilters, now: datetime) -> DayRange | None:
    today = now.astimezone(UTC).date()
    newest = today
    if filters.created_to is not None:
        newest = min(
            newest, (filters.created_to - timedelta(microseconds=1)).astimezone(UTC).date()
        )
    oldest = today - timedelta(days=HORIZON_DAYS)
    if filters.created_from is not None:
        oldest = max(oldest, filters.created_from.astimezone(UTC).date())
    return activity_log.bounded_by_tenant(tenant_id, newest, oldest)


def _combined(first: Condition | None, second: Condition | None) -> Condition | None:
    if first is None:
        return second
    if second is None:
        return first
    combined: Condition = first & second
    return combined


def _views(raw_items: list[dict[str, Any]], tenant_id: str) -> list[dict[str, Any]]:
    payments = [item_to_payment(PaymentItem.from_raw_data(raw)) for raw in raw_items]
    return [p.public_view() for p in payments if p.tenant_id == tenant_id]


def list_payments(
    tenant_id: str,
    filters: PaymentFilters,
    *,
    q: str | None,
    limit: int,
    cursor: str | None,
    max_queries: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One page of the tenant's payments, newest first (``{"data", "next_cursor"}``), from at
    most ``max_queries`` Query calls (default :data:`PAGE_READ_BUDGET`)."""
    budget = PAGE_READ_BUDGET if max_queries is None else max_queries
    views, next_cursor, _ = _page(tenant_id, filters, q, limit, cursor, budget, now)
    return {"data": views, "next_cursor": next_cursor}


def _page(
    tenant_id: str,
    filters: PaymentFilters,
    q: str | None,
    limit: int,
    cursor: str | None,
    max_queries: int,
    now: datetime | None,
) -> tuple[list[dict[str, Any]], str | None, int]:
    search = _resolve(tenant_id, q) if q is not None else _Search()
    if search.direct is not None:
        if cursor is not None:
            raise activity_log.InvalidCursorError("this search has a single page")
        found = [p.public_view() for p in search.direct if filters.matches(p)]
        return found[:limit], None, 0
    days = _day_range(tenant_id, filters, now or datetime.now(UTC))
    if days is None:
        if cursor is not None:
            raise activity_log.InvalidCursorError("cursor does not belong to this query")
        return [], None, 0
    page = activity_log.walk(
        PAYMENT_LOG,
        tenant_id,
        days,
        limit=limit,
        cursor=cursor,
        max_queries=max_queries,
        lower_key=utc_key_time(filters.created_from) if filters.created_from else None,
        upper_key=utc_key_time(filters.created_to) if filters.created_to else None,
        filter_condition=_combined(filters.condition(), search.condition),
    )
    return _views(page.items, tenant_id), page.next_cursor, page.queries


def search_payments(tenant_id: str, q: str, *, limit: int) -> list[dict[str, Any]]:
    """The tenant's payments that ``q`` names (see the module docstring), newest first, at most
    ``limit``, as payment views (the API's PaymentView). No cursor: the first page only."""
    return list(list_payments(tenant_id, PaymentFilters(), q=q, limit=limit, cursor=None)["data"])


def export_payments(
    tenant_id: str, filters: PaymentFilters, *, q: str | None, now: datetime | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """Every matching payment view, newest first, up to :data:`EXPORT_MAX_ROWS`; True when more
    matched (or the read budget ran out before the list ended)."""
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    spent = 0
    moment = now or datetime.now(UTC)
    while True:
        budget = EXPORT_READ_BUDGET - spent
        if budget <= 0:
            return rows, True
        views, cursor, queries = _page(
            tenant_id,
            filters,
            q,
            min(1000, EXPORT_MAX_ROWS - len(rows)),
            cursor,
            min(budget, PAGE_READ_BUDGET),
            moment,
        )
        spent += max(queries, 1)
        rows.extend(views)
        if cursor is None:
            return rows, False
        if len(rows) >= EXPORT_MAX_ROWS:
            return rows, True


__all__ = [
    "EXPORT_MAX_ROWS",
    "HORIZON_DAYS",
    "PaymentFilters",
    "export_payments",
    "list_payments",
    "search_payments",
]
