"""The operator API's audit log: one item per request to /v1/admin/... (models.AuditItem).

An entry is written before the route runs (``begin``) and completed with the answer's status
(``finish``): a request whose entry cannot be written is refused before it acts, and one whose
answer was never recorded keeps ``status`` null. Entries live in one partition per UTC month
(``AUDIT#<YYYY-MM>``), sorted by time, and expire after :data:`RETENTION_DAYS`; a listing walks
the months newest first, so a page needs at most one Query per month of the retention.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import UpdateError

from payments.errors import PaymentsError
from payments.store.models import AuditItem

RETENTION_DAYS = 400
_MONTH = re.compile(r"\d{4}-\d{2}")
_SORT_KEY = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z#aud_[0-9a-f]{16}")


class InvalidCursorError(PaymentsError):
    code = "invalid_cursor"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    audit_id: str
    at: datetime
    operator_id: str | None
    operator_name: str | None
    key_id: str | None
    method: str
    path: str
    action: str
    target: str | None
    status: int | None


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: str | None


def begin(
    *,
    operator_id: str | None,
    operator_name: str | None,
    key_id: str | None,
    method: str,
    path: str,
    action: str,
    target: str | None,
    now: datetime | None = None,
) -> AuditEntry:
    """Record a request as it starts (status unknown yet)."""
    at = (now or datetime.now(UTC)).astimezone(UTC)
    entry = AuditEntry(
        f"aud_{secrets.token_hex(8)}",
        at,
        operator_id,
        operator_name,
        key_id,
        method,
        path,
        action,
        target,
        None,
    )
    AuditItem(
        *AuditItem.key(at, entry.audit_id),
        item_type="audit",
        audit_id=entry.audit_id,
        operator_id=operator_id,
        operator_name=operator_name,
        key_id=key_id,
        method=method,
        path=path,
        action=action,
        target=target,
        at=at,
        ttl=at + timedelta(days=RETENTION_DAYS),
    ).save(condition=AuditItem.pk.does_not_exist())
    return entry


def finish(entry: AuditEntry, status: int) -> None:
    """Complete an entry with the status code the caller got."""
    try:
        AuditItem(*AuditItem.key(entry.at, entry.audit_id)).update(
            actions=[AuditItem.status.set(status)], condition=AuditItem.pk.exists()
        )
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise


def page(*, limit: int, cursor: str | None, now: datetime | None = None) -> AuditPage:
    """Entries newest first across months, ``limit`` at a time."""
    today = (now or datetime.now(UTC)).astimezone(UTC)
    oldest = _month(today - timedelta(days=RETENTION_DAYS))
    month, after = _decode(cursor) if cursor else (_month(today), None)
    entries: list[AuditEntry] = []
    while month >= oldest and len(entries) < limit:
        condition = AuditItem.sk < after if after else None
        result = AuditItem.query(
            f"AUDIT#{month}",
            condition,
            scan_index_forward=False,
            limit=limit - len(entries),
        )
        for item in result:
            entries.append(_entry(item))
        if result.last_evaluated_key:
            # The page is full inside this month: the cursor resumes after its last entry.
            return AuditPage(entries, _encode(month, entries[-1]))
        month, after = _previous_month(month), None
    if len(entries) < limit or month < oldest:
        return AuditPage(entries, None)
    return AuditPage(entries, _encode(month, None))


def _entry(item: AuditItem) -> AuditEntry:
    return AuditEntry(
        item.audit_id,
        item.at,
        item.operator_id,
        item.operator_name,
        item.key_id,
        item.method,
        item.path,
        item.action,
        item.target,
        int(item.status) if item.status is not None else None,
    )


def _month(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def _previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def _encode(month: str, last: AuditEntry | None) -> str:
    sort_key = AuditItem.key(last.at, last.audit_id)[1] if last else ""
    raw = json.dumps({"m": month, "sk": sort_key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, str | None]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursorError("cursor is not valid") from None
    if not isinstance(value, dict) or set(value) != {"m", "sk"}:
        raise InvalidCursorError("cursor is not valid")
    month, sort_key = value["m"], value["sk"]
    if not isinstance(month, str) or not _MONTH.fullmatch(month) or not 1 <= int(month[5:]) <= 12:
        raise InvalidCursorError("cursor is not valid")
    if not isinstance(sort_key, str) or (sort_key and not _SORT_KEY.fullmatch(sort_key)):
        raise InvalidCursorError("cursor is not valid")
    if sort_key and not sort_key.startswith(month):
        raise InvalidCursorError("cursor is not valid")
    return month, sort_key or None
