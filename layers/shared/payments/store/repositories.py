"""Reads and the few non-payment writes (tenants, API keys). Payment changes go through
:func:`payments.store.state_change.commit_state_change` only."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.transactions import TransactWrite

from payments.domain.payment import Payment
from payments.domain.refunds import Refund
from payments.domain.settlement import moment_text
from payments.errors import PaymentsError
from payments.money import Amount
from payments.store.mapping import (
    PENDING_SHARDS,
    item_to_payment,
    item_to_refund,
    payable_partition,
    provider_ref_partition,
    stored_amount,
)
from payments.store.models import (
    LEGACY_LEDGER_SHARD,
    AccountBalanceItem,
    ApiKeyIdItem,
    ApiKeyItem,
    CustomerLinkItem,
    JournalEntryItem,
    OperatorKeyIdItem,
    OperatorKeyItem,
    PaymentHistoryItem,
    PaymentItem,
    RefundItem,
    TenantItem,
    TradeListItem,
    ledger_partition,
    ledger_partitions,
    ledger_shard,
    utc_key_time,
)


class InvalidCursorError(PaymentsError):
    code = "invalid_cursor"


# --- tenants and API keys -------------------------------------------------------------------

API_KEY_PREFIX = "pk_"
TENANT_STATUSES = frozenset({"active", "suspended"})


@dataclass(frozen=True, slots=True)
class UsageKey:
    """The tenant's API Gateway API key: its id and the value the authorizer hands over."""

    key_id: str
    value: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Tenant:
    tenant_id: str
    name: str
    status: str
    created_at: datetime
    usage_key: UsageKey | None = None


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    key_id: str
    tenant_id: str
    plaintext: str  # shown once, never stored


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    key_id: str
    tenant_id: str
    revoked: bool


def hash_api_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def new_tenant_id() -> str:
    return f"ten_{secrets.token_hex(8)}"


def create_tenant(
    name: str, *, tenant_id: str | None = None, usage_key: UsageKey | None = None
) -> Tenant:
    tenant_id = tenant_id or new_tenant_id()
    pk, sk = TenantItem.key(tenant_id)
    now = datetime.now(UTC)
    TenantItem(
        pk,
        sk,
        item_type="tenant",
        tenant_id=tenant_id,
        name=name,
        status="active",
        created_at=now,
        usage_key_id=usage_key.key_id if usage_key else None,
        usage_key=usage_key.value if usage_key else None,
    ).save(condition=TenantItem.pk.does_not_exist())
    return Tenant(tenant_id, name, "active", now, usage_key)


def set_usage_key(tenant_id: str, usage_key: UsageKey) -> bool:
    """Give an existing tenant its usage key; False when it has one already (or is unknown)."""
    try:
        TenantItem(*TenantItem.key(tenant_id)).update(
            actions=[
                TenantItem.usage_key_id.set(usage_key.key_id),
                TenantItem.usage_key.set(usage_key.value),
            ],
            condition=TenantItem.pk.exists() & TenantItem.usage_key.does_not_exist(),
        )
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def get_tenant(tenant_id: str) -> Tenant | None:
    try:
        item = TenantItem.get(*TenantItem.key(tenant_id))
    except DoesNotExist:
        return None
    return _tenant(item)


def list_tenants() -> Iterator[Tenant]:
    for item in TenantItem.scan(TenantItem.item_type == "tenant"):
        yield _tenant(item)


def set_tenant_status(tenant_id: str, status: str) -> Tenant | None:
    """Suspend (``suspended``) or reactivate (``active``) a tenant; None when unknown. The
    authorizer refuses every key of a tenant that is not active."""
    if status not in TENANT_STATUSES:
        raise ValueError(f"unknown tenant status {status!r}")
    item = TenantItem(*TenantItem.key(tenant_id))
    try:
        item.update(actions=[TenantItem.status.set(status)], condition=TenantItem.pk.exists())
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return None
    return _tenant(item)


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """What may be shown of an API key: never the key, never its hash."""

    key_id: str
    tenant_id: str
    created_at: datetime
    revoked: bool


def tenants_with_api_keys() -> list[tuple[Tenant, list[ApiKeyInfo]]]:
    """Every tenant with its API keys (oldest first), from one scan of the table: tenants and
    keys share no partition, and this is an operator's listing, not a request path."""
    tenants: dict[str, Tenant] = {}
    keys: dict[str, list[ApiKeyInfo]] = {}
    connection = TenantItem._get_connection()
    start_key: dict[str, Any] | None = None
    while True:
        page = connection.scan(
            filter_condition=TenantItem.item_type.is_in("tenant", "api_key"),
            # pynamodb annotates this as str; it is the previous page's key map, as in query.
            exclusive_start_key=start_key,  # type: ignore[arg-type]
        )
        for raw in page.get("Items", []):
            if raw["item_type"]["S"] == "tenant":
                tenant = _tenant(TenantItem.from_raw_data(raw))
                tenants[tenant.tenant_id] = tenant
            else:
                key = ApiKeyItem.from_raw_data(raw)
                keys.setdefault(key.tenant_id, []).append(
                    ApiKeyInfo(
                        key.key_id, key.tenant_id, key.created_at, key.revoked_at is not None
                    )
                )
        start_key = page.get("LastEvaluatedKey")
        if not start_key:
            break
    return [
        (tenant, sorted(keys.get(tenant.tenant_id, []), key=lambda k: (k.created_at, k.key_id)))
        for tenant in sorted(tenants.values(), key=lambda t: (t.created_at, t.tenant_id))
    ]


def _tenant(item: TenantItem) -> Tenant:
    usage_key = (
        UsageKey(item.usage_key_id, item.usage_key)
        if item.usage_key_id and item.usage_key
        else None
    )
    return Tenant(item.tenant_id, item.name, item.status, item.created_at, usage_key)


def issue_api_key(tenant_id: str) -> IssuedApiKey:
    """A new random key for ``tenant_id``; only its SHA-256 is stored."""
    key_id = f"key_{secrets.token_hex(8)}"
    plaintext = f"{API_KEY_PREFIX}{secrets.token_urlsafe(32)}"
    key_hash = hash_api_key(plaintext)
    now = datetime.now(UTC)
    with TransactWrite(connection=_connection()) as tx:
        tx.condition_check(
            TenantItem, *TenantItem.key(tenant_id), condition=TenantItem.status == "active"
        )
        tx.save(
            ApiKeyItem(
                *ApiKeyItem.key(key_hash),
                item_type="api_key",
                key_id=key_id,
                tenant_id=tenant_id,
                created_at=now,
            ),
            condition=ApiKeyItem.pk.does_not_exist(),
        )
        tx.save(
            ApiKeyIdItem(
                *ApiKeyIdItem.key(key_id),
                item_type="api_key_id",
                key_id=key_id,
                key_hash=key_hash,
                tenant_id=tenant_id,
            ),
            condition=ApiKeyIdItem.pk.does_not_exist(),
        )
    return IssuedApiKey(key_id, tenant_id, plaintext)


def find_api_key(plaintext: str) -> ApiKeyRecord | None:
    """The key record for a presented key, by hash; None when unknown."""
    try:
        item = ApiKeyItem.get(*ApiKeyItem.key(hash_api_key(plaintext)), consistent_read=False)
    except DoesNotExist:
        return None
    return ApiKeyRecord(item.key_id, item.tenant_id, item.revoked_at is not None)


def revoke_api_key(key_id: str) -> bool:
    """Revoke by public key id; False when no such key exists."""
    try:
        index = ApiKeyIdItem.get(*ApiKeyIdItem.key(key_id))
    except DoesNotExist:
        return False
    ApiKeyItem(*ApiKeyItem.key(index.key_hash)).update(
        actions=[ApiKeyItem.revoked_at.set(datetime.now(UTC))],
        condition=ApiKeyItem.pk.exists(),
    )
    return True


# --- operator keys -------------------------------------------------------------------------

# The authorizer looks a presented key up as an operator key only when it starts with this
# (and as an API key otherwise): one read per authorization either way.
OPERATOR_KEY_PREFIX = "opk_"


@dataclass(frozen=True, slots=True)
class OperatorKey:
    """An operator key as it may be shown: never the key, never its hash."""

    key_id: str
    operator_id: str
    name: str
    created_at: datetime
    revoked: bool


@dataclass(frozen=True, slots=True)
class IssuedOperatorKey:
    key: OperatorKey
    plaintext: str = field(repr=False)  # shown once, never stored


def operator_id_for(name: str) -> str:
    """The same operator (``op_...``) for every key issued under one name, in any case: an
    operator's new key keeps its identity in the audit log."""
    digest = hashlib.sha256(name.strip().casefold().encode("utf-8")).hexdigest()
    return f"op_{digest[:16]}"


def issue_operator_key(name: str) -> IssuedOperatorKey:
    """A new random operator key for the operator called ``name``; only its SHA-256 is
    stored, and the key is returned this once."""
    key_id = f"okey_{secrets.token_hex(8)}"
    plaintext = f"{OPERATOR_KEY_PREFIX}{secrets.token_urlsafe(32)}"
    key_hash = hash_api_key(plaintext)
    operator_id = operator_id_for(name)
    now = datetime.now(UTC)
    with TransactWrite(connection=_connection()) as tx:
        tx.save(
            OperatorKeyItem(
                *OperatorKeyItem.key(key_hash),
                item_type="operator_key",
                key_id=key_id,
                operator_id=operator_id,
                name=name,
                created_at=now,
            ),
            condition=OperatorKeyItem.pk.does_not_exist(),
        )
        tx.save(
            OperatorKeyIdItem(
                *OperatorKeyIdItem.key(key_id),
                item_type="operator_key_id",
                key_id=key_id,
                key_hash=key_hash,
                operator_id=operator_id,
                name=name,
                created_at=now,
            ),
            condition=OperatorKeyIdItem.pk.does_not_exist(),
        )
    return IssuedOperatorKey(OperatorKey(key_id, operator_id, name, now, False), plaintext)


def find_operator_key(plaintext: str) -> OperatorKey | None:
    """The operator key for a presented key, by hash; None when unknown."""
    try:
        item = OperatorKeyItem.get(
            *OperatorKeyItem.key(hash_api_key(plaintext)), consistent_read=False
        )
    except DoesNotExist:
        return None
    return OperatorKey(
        item.key_id, item.operator_id, item.name, item.created_at, item.revoked_at is not None
    )


def list_operator_keys() -> list[OperatorKey]:
    """Every operator key ever issued, revoked ones included, oldest first (one Query)."""
    keys = [
        OperatorKey(i.key_id, i.operator_id, i.name, i.created_at, i.revoked_at is not None)
        for i in OperatorKeyIdItem.query(OperatorKeyIdItem.PARTITION, consistent_read=True)
    ]
    return sorted(keys, key=lambda key: (key.created_at, key.key_id))


def revoke_operator_key(key_id: str) -> bool:
    """Revoke by public key id (``okey_...``); False when no such key exists."""
    try:
        index = OperatorKeyIdItem.get(*OperatorKeyIdItem.key(key_id), consistent_read=True)
    except DoesNotExist:
        return False
    now = datetime.now(UTC)
    with TransactWrite(connection=_connection()) as tx:
        tx.update(
            OperatorKeyItem(*OperatorKeyItem.key(index.key_hash)),
            actions=[OperatorKeyItem.revoked_at.set(now)],
            condition=OperatorKeyItem.pk.exists(),
        )
        tx.update(
            index,
            actions=[OperatorKeyIdItem.revoked_at.set(now)],
            condition=OperatorKeyIdItem.pk.exists(),
        )
    return True


# --- payments ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    from_status: str
    requested_status: str
    to_status: str
    applied: bool
    reason: str
    source: str
    occurred_at: datetime
    provider_event_id: str | None = None


def get_payment_of_any_tenant(payment_id: str) -> Payment | None:
    """The payment whatever its tenant: for the operator API only (its caller has no tenant)."""
    try:
        item = PaymentItem.get(*PaymentItem.key(payment_id), consistent_read=True)
    except DoesNotExist:
        return None
    return item_to_payment(item)


def get_payment(tenant_id: str, payment_id: str) -> Payment | None:
    """The tenant's payment, or None: another tenant's payment is indistinguishable from none."""
    try:
        item = PaymentItem.get(*PaymentItem.key(payment_id), consistent_read=True)
    except DoesNotExist:
        return None
    if item.tenant_id != tenant_id:
        return None
    return item_to_payment(item)


@dataclass(frozen=True, slots=True)
class PaymentDetails:
    payment: Payment
    history: list[HistoryEntry]
    refunds: list[Refund]


def get_payment_details(tenant_id: str, payment_id: str) -> PaymentDetails | None:
    """The payment with its history and refunds, from one Query of its item collection."""
    pk, _ = PaymentItem.key(payment_id)
    payment: Payment | None = None
    history: list[HistoryEntry] = []
    refunds: list[Refund] = []
    for raw in collection(pk):
        sort_key = raw["sk"]["S"]
        if sort_key == "PAYMENT":
            payment = item_to_payment(PaymentItem.from_raw_data(raw))
        elif sort_key.startswith("HISTORY#"):
            history.append(_history_entry(PaymentHistoryItem.from_raw_data(raw)))
        elif sort_key.startswith("REFUND#"):
            refunds.append(item_to_refund(RefundItem.from_raw_data(raw)))
    if payment is None or payment.tenant_id != tenant_id:
        return None
    refunds.sort(key=lambda refund: refund.created_at)
    return PaymentDetails(payment, history, refunds)


def get_refunds(payment_id: str) -> list[Refund]:
    pk, _ = PaymentItem.key(payment_id)
    return sorted(
        (
            item_to_refund(item)
            for item in RefundItem.query(
                pk, RefundItem.sk.startswith("REFUND#"), consistent_read=True
            )
        ),
        key=lambda refund: refund.created_at,
    )


def find_payment_by_provider_ref(
    tenant_id: str, provider: str, provider_ref: str
) -> Payment | None:
    """The tenant's payment that ``provider`` knows as ``provider_ref`` (session, intent...)."""
    for item in (
        PaymentItem._get_connection()
        .query(
            provider_ref_partition(provider, provider_ref), index_name="provider-ref-index", limit=5
        )
        .get("Items", [])
    ):
        if item.get("tenant_id", {}).get("S") == tenant_id:
            return get_payment(tenant_id, item["payment_id"]["S"])
    return None


def collection(pk: str) -> Iterator[dict[str, Any]]:
    """Every raw item under one partition key, strongly consistent, all pages."""
    connection = PaymentItem._get_connection()
    start_key: dict[str, Any] | None = None
    while True:
        page = connection.query(pk, consistent_read=True, exclusive_start_key=start_key)
        yield from page.get("Items", [])
        start_key = page.get("LastEvaluatedKey")
        if not start_key:
            return


def open_payments_older_than(cutoff: datetime) -> Iterator[Payment]:
    """Payments still open (created or pending) whose last change is before ``cutoff``,
    from every shard of the sparse pending index."""
    for shard in range(PENDING_SHARDS):
        for item in PaymentItem.pending_index.query(
            f"pending#{shard}", PaymentItem.gsi3sk < utc_key_time(cutoff)
        ):
            yield item_to_payment(item)


def cleared_payments_due_before(cutoff: datetime) -> Iterator[Payment]:
    """Payments cleared but not settled (a provider that settles later) whose settlement was
    due before ``cutoff``, from every shard of the sparse index's settling partitions."""
    for shard in range(PENDING_SHARDS):
        for item in PaymentItem.pending_index.query(
            f"settling#{shard}", PaymentItem.gsi3sk < moment_text(cutoff)
        ):
            yield item_to_payment(item)


# --- customers -----------------------------------------------------------------------------


def get_customer_link(tenant_id: str, provider: str, email: str) -> str | None:
    try:
        item = CustomerLinkItem.get(*CustomerLinkItem.key(tenant_id, provider, email))
    except DoesNotExist:
        return None
    return item.provider_customer_id


def save_customer_link(tenant_id: str, provider: str, email: str, customer_id: str) -> str:
    """Store the link unless one exists; returns the customer id that is linked."""
    try:
        CustomerLinkItem(
            *CustomerLinkItem.key(tenant_id, provider, email),
            item_type="customer_link",
            tenant_id=tenant_id,
            provider=provider,
            email=email,
            provider_customer_id=customer_id,
            created_at=datetime.now(UTC),
        ).save(condition=CustomerLinkItem.pk.does_not_exist())
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return get_customer_link(tenant_id, provider, email) or customer_id
    return customer_id


@dataclass(frozen=True, slots=True)
class PaymentPage:
    payments: list[Payment]
    next_cursor: str | None


def list_payments_for_payable(
    tenant_id: str, payable_type: str, payable_id: str, *, limit: int, cursor: str | None
) -> PaymentPage:
    """The tenant's payments for one payable object, newest first, one page at a time."""
    partition = payable_partition(tenant_id, payable_type, payable_id)
    start_key = _decode_cursor(cursor, partition) if cursor else None
    result = PaymentItem.payable_index.query(
        partition, scan_index_forward=False, limit=limit, last_evaluated_key=start_key
    )
    payments = [item_to_payment(item) for item in result]
    last_key = result.last_evaluated_key
    return PaymentPage(payments, _encode_cursor(last_key) if last_key else None)


def payment_history(payment_id: str) -> list[HistoryEntry]:
    """The payment's requested transitions in order, applied or not."""
    pk, _ = PaymentItem.key(payment_id)
    return [
        _history_entry(item)
        for item in PaymentHistoryItem.query(pk, PaymentHistoryItem.sk.startswith("HISTORY#"))
    ]


def _history_entry(item: PaymentHistoryItem) -> HistoryEntry:
    return HistoryEntry(
        from_status=item.from_status,
        requested_status=item.requested_status,
        to_status=item.to_status,
        applied=item.applied,
        reason=item.reason,
        source=item.source,
        occurred_at=item.occurred_at,
        provider_event_id=item.provider_event_id,
    )


def _encode_cursor(key: dict[str, dict[str, Any]]) -> str:
    raw = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, partition: str) -> dict[str, dict[str, Any]]:
    """Refuses cursors that were not issued for this very query (other tenants included)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidCursorError("cursor is not valid") from error
    if not isinstance(key, dict) or set(key) != _CURSOR_KEYS:
        raise InvalidCursorError("cursor does not belong to this query")
    values = {
        name: value.get("S") if isinstance(value, dict) and set(value) == {"S"} else None
        for name, value in key.items()
    }
    # Every field is checked, not only the partition: a DynamoDB start key of the wrong type
    # or shape is a ValidationException, and a cursor a client edited must stay a 400.
    if (
        values["gsi1pk"] != partition
        or values["sk"] != "PAYMENT"
        or not isinstance(values["pk"], str)
        or not _CURSOR_PAYMENT_KEY.fullmatch(values["pk"])
        or not isinstance(values["gsi1sk"], str)
        or not _CURSOR_SORT_KEY.fullmatch(values["gsi1sk"])
        or values["gsi1sk"].rpartition("#")[2] != values["pk"].removeprefix("PAYMENT#")
    ):
        raise InvalidCursorError("cursor does not belong to this query")
    return key


_CURSOR_KEYS = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})
_CURSOR_PAYMENT_KEY = re.compile(r"PAYMENT#[A-Za-z0-9_\-]{1,64}")
# gsi1sk is "<utc key time>#<payment id>" (store.mapping)
_CURSOR_SORT_KEY = re.compile(r"[0-9T:.\-+Z]{10,40}#[A-Za-z0-9_\-]{1,64}")


# --- ledger --------------------------------------------------------------------------------


def journal_entries(tenant_id: str) -> Iterator[JournalEntryItem]:
    """Every journal entry of a tenant, shard by shard (oldest first within each): one query
    per ledger partition (models.ledger_partitions), the pre-shard one included."""
    for partition in ledger_partitions(tenant_id):
        yield from JournalEntryItem.query(partition, JournalEntryItem.sk.startswith("ENTRY#"))


def payment_journal_entries(
    tenant_id: str, payment_id: str, *, since: datetime, shard_keys: list[str], max_pages: int = 5
) -> list[JournalEntryItem]:
    """The journal entries of one payment, oldest first: from the ledger shards its entries
    are placed in (its own, the settlement party's, the pre-shard partition), written at or
    after ``since`` (its creation), at most ``max_pages`` Query pages per shard."""
    partitions = dict.fromkeys(
        [ledger_partition(tenant_id, ledger_shard(key)) for key in shard_keys]
        + [ledger_partition(tenant_id, LEGACY_LEDGER_SHARD)]
    )
    connection = JournalEntryItem._get_connection()
    found: list[JournalEntryItem] = []
    for partition in partitions:
        start_key: dict[str, Any] | None = None
        for _ in range(max_pages):
            page = connection.query(
                partition,
                range_key_condition=JournalEntryItem.sk.between(
                    f"ENTRY#{utc_key_time(since)}", "ENTRY#~"
                ),
                filter_condition=(JournalEntryItem.payment_id == payment_id)
                & (JournalEntryItem.tenant_id == tenant_id),
                exclusive_start_key=start_key,
            )
            found.extend(JournalEntryItem.from_raw_data(raw) for raw in page.get("Items", []))
            start_key = page.get("LastEvaluatedKey")
            if not start_key:
                break
    found.sort(key=lambda entry: (entry.created_at, entry.entry_id))
    return found


def account_balances(tenant_id: str) -> Iterator[AccountBalanceItem]:
    """Every balance item of a tenant: one per account, currency and ledger shard. The
    account's balance is their sum (:func:`tenant_balances`)."""
    for partition in ledger_partitions(tenant_id):
        yield from AccountBalanceItem.query(partition, AccountBalanceItem.sk.startswith("BALANCE#"))


def tenant_balances(tenant_id: str) -> dict[tuple[str, str], tuple[Amount, Amount]]:
    """(account, currency) -> (debits, credits), summed over the tenant's ledger shards."""
    sums: dict[tuple[str, str], list[Amount]] = {}
    for item in account_balances(tenant_id):
        total = sums.setdefault((item.account, item.currency), [0, 0])
        total[0] += stored_amount(item.currency, item.debits)
        total[1] += stored_amount(item.currency, item.credits)
    return {key: (debits, credits) for key, (debits, credits) in sums.items()}


def _connection() -> Connection:
    return TenantItem._get_connection().connection


__all__ = [
    "ApiKeyInfo",
    "ApiKeyRecord",
    "HistoryEntry",
    "InvalidCursorError",
    "IssuedApiKey",
    "IssuedOperatorKey",
    "OperatorKey",
    "PaymentPage",
    "Tenant",
    "UsageKey",
    "account_balances",
    "create_tenant",
    "find_api_key",
    "find_operator_key",
    "get_payment",
    "get_payment_of_any_tenant",
    "get_tenant",
    "hash_api_key",
    "issue_api_key",
    "issue_operator_key",
    "journal_entries",
    "list_operator_keys",
    "list_payments_for_payable",
    "list_tenants",
    "new_tenant_id",
    "payment_history",
    "revoke_api_key",
    "revoke_operator_key",
    "set_tenant_status",
    "set_usage_key",
    "tenant_balances",
    "tenants_with_api_keys",
]


def shard_balances(
    tenant_id: str, shard_key: str, accounts: list[str]
) -> dict[tuple[str, str], tuple[Amount, Amount]]:
    """(account, currency) -> (debits, credits) of ``accounts`` in the one ledger shard of
    ``shard_key`` (the entries that move them are placed there: JournalEntry.shard_key), one
    query per account."""
    partition = ledger_partition(tenant_id, ledger_shard(shard_key))
    sums: dict[tuple[str, str], tuple[Amount, Amount]] = {}
    for account in accounts:
        for item in AccountBalanceItem.query(
            partition, AccountBalanceItem.sk.startswith(f"BALANCE#{account}#")
        ):
            if item.account == account:
                sums[(account, item.currency)] = (
                    stored_amount(item.currency, item.debits),
                    stored_amount(item.currency, item.credits),
                )
    return sums


_TRADE_CURSOR = re.compile(r"TRADE#[0-9T:.\-+Z]{10,40}#[A-Za-z0-9_\-]{1,64}")


def list_tenant_trades(
    tenant_id: str, *, limit: int, cursor: str | None
) -> tuple[list[Payment], str | None]:
    """The tenant's trades, newest first, one page at a time (TradeListItem, then the payments
    in one BatchGetItem). The cursor is the last item's sort key, refused for any other form."""
    partition = f"TRADES#{tenant_id}"
    start_key = None
    if cursor is not None:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            last = base64.urlsafe_b64decode(padded.encode()).decode()
        except (binascii.Error, ValueError, UnicodeDecodeError) as error:
            raise InvalidCursorError("cursor is not valid") from error
        if not _TRADE_CURSOR.fullmatch(last):
            raise InvalidCursorError("cursor does not belong to this query")
        start_key = {"pk": {"S": partition}, "sk": {"S": last}}
    result = TradeListItem.query(
        partition,
        TradeListItem.sk.startswith("TRADE#"),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start_key,
    )
    listed = list(result)
    found = {
        item.payment_id: item_to_payment(item)
        for item in PaymentItem.batch_get([PaymentItem.key(t.payment_id) for t in listed])
        if item.tenant_id == tenant_id
    }
    payments = [found[t.payment_id] for t in listed if t.payment_id in found]
    last_key = result.last_evaluated_key
    next_cursor = (
        base64.urlsafe_b64encode(last_key["sk"]["S"].encode()).decode().rstrip("=")
        if last_key
        else None
    )
    return payments, next_cursor
