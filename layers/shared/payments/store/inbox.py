"""Reading the webhook inbox (what providers sent, accepted or not) for one tenant.

Inbox items are keyed for dedupe (``INBOX#<provider>#<tenant>#<event id>``); listing them uses
the sparse ``inbox-index`` (models.InboxIndex): one partition per tenant and provider, newest
first, without the payloads. A list over several providers reads their partitions side by side
and merges them in one order, newest first: (received time, provider, event id), descending,
which is also what the cursor names.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.attributes import UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist

from payments.errors import PaymentsError
from payments.store.models import InboxItem, inbox_partition, utc_key_time

INBOX_ID_PREFIX = "ibx_"
STATUSES = ("accepted", "ignored", "rejected")
_PROVIDER_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_KEY_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
MAX_EVENT_ID_LENGTH = 255


class InvalidCursorError(PaymentsError):
    code = "invalid_cursor"


@dataclass(frozen=True, slots=True)
class InboxEntry:
    inbox_id: str
    provider: str
    event_id: str
    event_type: str
    status: str
    reason: str | None
    received_at: datetime
    payload: str | None = None  # only when one entry is read


@dataclass(frozen=True, slots=True)
class InboxPage:
    entries: list[InboxEntry]
    next_cursor: str | None


def inbox_id(provider: str, event_id: str) -> str:
    """The public id of an inbox record: its provider and event id, reversible (so reading
    one is a GetItem under the caller's own tenant), URL-safe."""
    raw = f"{provider}\n{event_id}".encode()
    return INBOX_ID_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_inbox_id(value: str) -> tuple[str, str] | None:
    if not value.startswith(INBOX_ID_PREFIX):
        return None
    encoded = value.removeprefix(INBOX_ID_PREFIX)
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    provider, separator, event_id = raw.partition("\n")
    if not separator or not _PROVIDER_NAME.fullmatch(provider) or not event_id:
        return None
    if len(event_id) > MAX_EVENT_ID_LENGTH or "\n" in event_id:
        return None
    return provider, event_id


def get_entry(tenant_id: str, provider: str, event_id: str) -> InboxEntry | None:
    """One inbox record of this tenant, with its raw payload; None when the tenant has none
    by that id (another tenant's is under another key)."""
    try:
        item = InboxItem.get(*InboxItem.key(provider, tenant_id, event_id))
    except DoesNotExist:
        return None
    if item.tenant_id != tenant_id:  # the key says so already; never trust one check alone
        return None
    return InboxEntry(
        inbox_id=inbox_id(item.provider, item.event_id),
        provider=item.provider,
        event_id=item.event_id,
        event_type=item.event_type,
        status=item.status,
        reason=item.reason,
        received_at=item.received_at,
        payload=item.payload,
    )


# --- listing -------------------------------------------------------------------------------

_DATETIME = UTCDateTimeAttribute()


def _entry(raw: Mapping[str, Mapping[str, Any]]) -> InboxEntry:
    def text(name: str) -> str | None:
        value = raw.get(name, {}).get("S")
        return str(value) if value is not None else None

    provider = text("provider") or ""
    event_id = text("event_id") or ""
    return InboxEntry(
        inbox_id=inbox_id(provider, event_id),
        provider=provider,
        event_id=event_id,
        event_type=text("event_type") or "",
        status=text("status") or "",
        reason=text("reason"),
        received_at=_DATETIME.deserialize(text("received_at") or ""),
    )


_Ordered = tuple[str, str, str, dict[str, Any]]  # (key time, provider, event id, raw item)


def _partition_items(
    tenant_id: str, provider: str, upper: str | None, since_key: str | None, page_size: int
) -> Iterator[_Ordered]:
    """One provider's inbox entries of this tenant, newest first, below ``upper`` (gsi4sk),
    down to ``since_key`` (a key time): the stream ends at its first older entry."""
    connection = InboxItem._get_connection()
    condition = InboxItem.gsi4sk < upper if upper is not None else None
    start: Any = None
    while True:
        page = connection.query(
            inbox_partition(tenant_id, provider),
            range_key_condition=condition,
            index_name=InboxItem.inbox_index.Meta.index_name,
            scan_index_forward=False,
            limit=page_size,
            exclusive_start_key=start,
        )
        for raw in page.get("Items", []):
            key_time, _, event_id = str(raw["gsi4sk"]["S"]).partition("#")
            if since_key is not None and key_time < since_key:
                return
            yield key_time, provider, event_id, raw
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def _upper_bound(provider: str, cursor: tuple[str, str, str] | None) -> str | None:
    """The gsi4sk every entry of ``provider`` after the cursor is below, in the merged order
    (time, provider, event id) descending."""
    if cursor is None:
        return None
    key_time, cursor_provider, event_id = cursor
    if provider == cursor_provider:
        return f"{key_time}#{event_id}"
    # Same time: providers after the cursor's come before it in descending order (already
    # listed); those before it come after it (still to list). "$" sorts right after "#".
    return f"{key_time}#" if provider > cursor_provider else f"{key_time}$"


def _lowest(first: str | None, second: str | None) -> str | None:
    """The tighter of two exclusive upper bounds (None: no bound)."""
    if first is None or second is None:
        return first or second
    return min(first, second)


def list_entries(
    tenant_id: str,
    providers: Sequence[str],
    *,
    limit: int,
    status: str | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    reason: str | None = None,
    until: datetime | None = None,
) -> InboxPage:
    """``since`` inclusive, ``until`` exclusive; ``status`` and ``reason`` exact."""
    position = _decode_cursor(cursor) if cursor else None
    since_key = utc_key_time(since) if since is not None else None
    until_key = utc_key_time(until) if until is not None else None
    streams = [
        _partition_items(
            tenant_id,
            provider,
            _lowest(_upper_bound(provider, position), until_key),
            since_key,
            limit + 1,
        )
        for provider in sorted(set(providers))
    ]
    merged = heapq.merge(*streams, key=lambda entry: entry[:3], reverse=True)
    entries: list[InboxEntry] = []
    last: tuple[str, str, str] | None = None
    more = False
    for key_time, provider, event_id, raw in merged:
        if status is not None and raw.get("status", {}).get("S") != status:
            continue
        if reason is not None and raw.get("reason", {}).get("S") != reason:
            continue
        if len(entries) == limit:
            more = True
            break
        entries.append(_entry(raw))
        last = (key_time, provider, event_id)
    next_cursor = _encode_cursor(last) if more and last is not None else None
    return InboxPage(entries, next_cursor)


def _encode_cursor(position: tuple[str, str, str]) -> str:
    key_time, provider, event_id = position
    raw = json.dumps({"t": key_time, "p": provider, "e": event_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str, str]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidCursorError("cursor is not valid") from error
    if not isinstance(decoded, dict) or set(decoded) != {"t", "p", "e"}:
        raise InvalidCursorError("cursor is not valid")
    key_time, provider, event_id = decoded["t"], decoded["p"], decoded["e"]
    if (
        not isinstance(key_time, str)
        or not _KEY_TIME.fullmatch(key_time)
        or not isinstance(provider, str)
        or not _PROVIDER_NAME.fullmatch(provider)
        or not isinstance(event_id, str)
        or not 0 < len(event_id) <= MAX_EVENT_ID_LENGTH
    ):
        raise InvalidCursorError("cursor is not valid")
    return key_time, provider, event_id


# --- the index over records stored before it ------------------------------------------------


def backfill_index() -> int:
    """Give every inbox record stored before the inbox index its index keys (one conditional
    UpdateItem each); returns how many were updated. Safe to run again, and while webhooks
    arrive."""
    from pynamodb.exceptions import UpdateError

    updated = 0
    for item in InboxItem.scan(
        InboxItem.pk.startswith("INBOX#") & InboxItem.gsi4pk.does_not_exist()
    ):
        try:
            item.update(
                actions=[
                    InboxItem.gsi4pk.set(inbox_partition(item.tenant_id, item.provider)),
                    InboxItem.gsi4sk.set(f"{utc_key_time(item.received_at)}#{item.event_id}"),
                ],
                condition=InboxItem.pk.exists() & InboxItem.gsi4pk.does_not_exist(),
            )
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
            continue
        updated += 1
    return updated
