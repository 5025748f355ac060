"""Walking the sparse ``log-index`` (models.LogIndex): a tenant's payments and deliveries by
UTC day of creation, newest first, and one payment's outbox events.

Payments and deliveries are spread over one partition per tenant and day
(``PAYLOG#<tenant>#<YYYY-MM-DD>``, ``DLVLOG#<tenant>#<YYYY-MM-DD>``), so that no partition takes
more than one day's writes. A listing reads the day partitions from the newest backwards, applies
its filters as a FilterExpression, and stops when the page is full, when its day range ends (the
caller's oldest day) or when it has spent its read budget (a number of Query calls): then the
cursor says where the next call carries on (the day, and the key after the last item returned).
A page may therefore hold fewer items than asked, even none, with a cursor: follow it until it
is null.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any

from pynamodb.expressions.condition import Condition

from payments.errors import PaymentsError
from payments.store.models import (
    OutboxItem,
    PaymentItem,
    delivery_log_partition,
    payment_events_partition,
    payment_log_partition,
)

LOG_INDEX = "log-index"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SORT_KEY = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z#[A-Za-z0-9_\-]{1,64}")
_ITEM_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")


class InvalidCursorError(PaymentsError):
    code = "invalid_cursor"


@dataclass(frozen=True, slots=True)
class LogKind:
    """One kind of day-partitioned log: how its partitions and its items' keys look."""

    name: str
    partition: Callable[[str, str], str]  # (tenant, day) -> gsi5pk
    item_pk_prefix: str  # "PAYMENT#": the item's own pk is this + its id
    item_sk: str  # "PAYMENT": the item's own sk


PAYMENT_LOG = LogKind("payments", payment_log_partition, "PAYMENT#", "PAYMENT")
DELIVERY_LOG = LogKind("deliveries", delivery_log_partition, "DELIVERY#", "DELIVERY")


@dataclass(frozen=True, slots=True)
class LogPage:
    items: list[dict[str, Any]]  # raw DynamoDB items, newest first
    next_cursor: str | None
    queries: int  # Query calls made


@dataclass(frozen=True, slots=True)
class DayRange:
    newest: date
    oldest: date

    def days(self, start: date | None = None) -> list[date]:
        first = start or self.newest
        count = (first - self.oldest).days + 1
        return [first - timedelta(days=offset) for offset in range(max(count, 0))]


def bounded_by_tenant(tenant_id: str, newest: date, oldest: date) -> DayRange | None:
    """The days from ``newest`` back to ``oldest``, but never before the tenant's creation day
    (one GetItem: a young tenant's listing reads no empty days before it existed); None when
    no day is left."""
    from payments.store.repositories import get_tenant

    tenant = get_tenant(tenant_id)
    if tenant is not None:
        oldest = max(oldest, tenant.created_at.astimezone(UTC).date())
    return DayRange(newest, oldest) if oldest <= newest else None


def walk(
    kind: LogKind,
    tenant_id: str,
    days: DayRange,
    *,
    limit: int,
    cursor: str | None,
    max_queries: int,
    lower_key: str | None = None,
    upper_key: str | None = None,
    filter_condition: Condition | None = None,
    attributes: list[str] | None = None,
) -> LogPage:
    """Up to ``limit`` items of the log, newest first, from ``cursor`` (or the newest day) on;
    ``lower_key``/``upper_key`` bound every day's sort keys (inclusive / exclusive)."""
    start_day, start_key = (
        _decode_cursor(cursor, kind, tenant_id, days) if cursor else (days.newest, None)
    )
    connection = PaymentItem._get_connection()
    range_condition = _range_condition(lower_key, upper_key)
    items: list[dict[str, Any]] = []
    queries = 0
    day_list = days.days(start_day)
    for position, day in enumerate(day_list):
        partition = kind.partition(tenant_id, day.isoformat())
        exclusive = start_key if day == start_day else None
        while True:
            if queries >= max_queries:
                return LogPage(items, _encode_cursor(day, exclusive), queries)
            remaining = limit - len(items)
            page = connection.query(
                partition,
                range_key_condition=range_condition,
                filter_condition=filter_condition,
                index_name=LOG_INDEX,
                scan_index_forward=False,
                # Without a filter every item read is returned: read no more than the page
                # needs. With one, read more per call (the filter drops some).
                limit=remaining if filter_condition is None else max(remaining, 200),
                exclusive_start_key=exclusive,
                attributes_to_get=attributes,
            )
            queries += 1
            found = page.get("Items", [])
            for raw in found:
                items.append(raw)
                if len(items) == limit:
                    last_of_page = raw is found[-1] and not page.get("LastEvaluatedKey")
                    if last_of_page:
                        later = day_list[position + 1 :]
                        next_cursor = _encode_cursor(later[0], None) if later else None
                    else:
                        next_cursor = _encode_cursor(day, _item_key(raw))
                    return LogPage(items, next_cursor, queries)
            exclusive = page.get("LastEvaluatedKey")
            if not exclusive:
                break
    return LogPage(items, None, queries)


def _range_condition(lower_key: str | None, upper_key: str | None) -> Condition | None:
    sort_key = PaymentItem.gsi5sk
    if lower_key is not None and upper_key is not None:
        # Sort keys are "<time>#<id>": "<upper time>#..." sorts after "<upper time>", so an
        # inclusive upper bound of the bare time excludes that very time (exclusive "to").
        return sort_key.between(lower_key, upper_key)
    if lower_key is not None:
        return sort_key >= lower_key
    if upper_key is not None:
        return sort_key < upper_key
    return None


def _item_key(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {name: raw[name] for name in ("pk", "sk", "gsi5pk", "gsi5sk")}


def _encode_cursor(day: date, key: Mapping[str, Any] | None) -> str:
    position: dict[str, Any] = {"d": day.isoformat()}
    if key is not None:
        position["k"] = {name: key[name]["S"] for name in ("pk", "sk", "gsi5pk", "gsi5sk")}
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(
    cursor: str, kind: LogKind, tenant_id: str, days: DayRange
) -> tuple[date, dict[str, Any] | None]:
    """The day and start key a cursor names; refused unless issued for this log of this
    tenant and inside the query's days (a client-edited cursor stays a 400, never reaches
    DynamoDB as a malformed start key)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidCursorError("cursor is not valid") from error
    if not isinstance(position, dict) or not set(position) <= {"d", "k"} or "d" not in position:
        raise InvalidCursorError("cursor is not valid")
    day_text = position["d"]
    if not isinstance(day_text, str) or not _DAY.fullmatch(day_text):
        raise InvalidCursorError("cursor is not valid")
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise InvalidCursorError("cursor is not valid") from None
    if not days.oldest <= day <= days.newest:
        raise InvalidCursorError("cursor does not belong to this query")
    key = position.get("k")
    if key is None:
        return day, None
    if not isinstance(key, dict) or set(key) != {"pk", "sk", "gsi5pk", "gsi5sk"}:
        raise InvalidCursorError("cursor does not belong to this query")
    if not all(isinstance(value, str) for value in key.values()):
        raise InvalidCursorError("cursor does not belong to this query")
    item_id = key["pk"].removeprefix(kind.item_pk_prefix)
    if (
        key["gsi5pk"] != kind.partition(tenant_id, day.isoformat())
        or key["sk"] != kind.item_sk
        or not key["pk"].startswith(kind.item_pk_prefix)
        or not _ITEM_ID.fullmatch(item_id)
        or not _SORT_KEY.fullmatch(key["gsi5sk"])
        or key["gsi5sk"].rpartition("#")[2] != item_id
    ):
        raise InvalidCursorError("cursor does not belong to this query")
    return day, {name: {"S": value} for name, value in key.items()}


# --- a payment's events --------------------------------------------------------------------


def payment_events(tenant_id: str, payment_id: str, *, limit: int = 100) -> list[OutboxItem]:
    """The outbox events of one payment, oldest first (one Query; they expire with the
    outbox, a week after they were written)."""
    # The payment model's connection: it is the one that declares the log index.
    result = PaymentItem._get_connection().query(
        payment_events_partition(tenant_id, payment_id), index_name=LOG_INDEX, limit=limit
    )
    events = [OutboxItem.from_raw_data(raw) for raw in result.get("Items", [])]
    return [event for event in events if event.tenant_id == tenant_id]


# --- the index over items stored before it --------------------------------------------------


def backfill_index() -> dict[str, int]:
    """Give every payment, delivery and payment outbox event stored before the log index its
    index keys (and payments their lower-case e-mail), one conditional UpdateItem each; returns
    how many of each were updated. Safe to run again, and while the system runs: an item
    written meanwhile has the keys already and is left alone."""
    from pynamodb.exceptions import UpdateError

    from payments.store.mapping import normalized_email
    from payments.store.models import (
        DeliveryItem,
        delivery_log_partition,
        log_day,
        payment_log_partition,
        utc_key_time,
    )

    counts = {"payments": 0, "deliveries": 0, "events": 0}

    def update(item: Any, actions: list[Any], kind: str) -> None:
        try:
            item.update(
                actions=actions,
                condition=type(item).pk.exists() & type(item).gsi5pk.does_not_exist(),
            )
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
            return
        counts[kind] += 1

    for payment in PaymentItem.scan(
        (PaymentItem.item_type == "payment") & PaymentItem.gsi5pk.does_not_exist()
    ):
        actions = [
            PaymentItem.gsi5pk.set(
                payment_log_partition(payment.tenant_id, log_day(payment.created_at))
            ),
            PaymentItem.gsi5sk.set(f"{utc_key_time(payment.created_at)}#{payment.payment_id}"),
        ]
        email = normalized_email(payment.customer.email if payment.customer else None)
        if email is not None:
            actions.append(PaymentItem.email_lc.set(email))
        update(payment, actions, "payments")
    for delivery in DeliveryItem.scan(
        (DeliveryItem.item_type == "delivery") & DeliveryItem.gsi5pk.does_not_exist()
    ):
        update(
            delivery,
            [
                DeliveryItem.gsi5pk.set(
                    delivery_log_partition(delivery.tenant_id, log_day(delivery.created_at))
                ),
                DeliveryItem.gsi5sk.set(
                    f"{utc_key_time(delivery.created_at)}#{delivery.delivery_id}"
                ),
            ],
            "deliveries",
        )
    for event in OutboxItem.scan(
        (OutboxItem.item_type == "outbox") & OutboxItem.gsi5pk.does_not_exist()
    ):
        payment_id = _event_payment_id(event.envelope)
        if payment_id is None:
            continue
        update(
            event,
            [
                OutboxItem.payment_id.set(payment_id),
                OutboxItem.gsi5pk.set(payment_events_partition(event.tenant_id, payment_id)),
                OutboxItem.gsi5sk.set(f"{utc_key_time(event.created_at)}#{event.event_id}"),
            ],
            "events",
        )
    return counts


def _event_payment_id(envelope: str) -> str | None:
    """The payment an outbox event is about (payment.* and trade.* events name it)."""
    try:
        data = json.loads(envelope).get("data") or {}
    except (ValueError, AttributeError):
        return None
    for subject in ("payment", "trade"):
        value = (data.get(subject) or {}).get("payment_id") if isinstance(data, dict) else None
        if isinstance(value, str) and _ITEM_ID.fullmatch(value):
            return value
    return None
