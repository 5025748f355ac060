"""The one way any payment changes state: a single DynamoDB ``TransactWriteItems``.

One call writes, all or nothing:

1. the inbox record of the provider notification that caused the change (conditional on not
   existing: a redelivered notification is a clean no-op),
2. the payment (a create conditional on not existing, or a replace conditional on the status and
   version the decision was made against; an out-of-order request that does not move the payment
   writes a condition check on that version instead),
3. a history entry (every requested transition, applied or not),
4. the journal entries and the balance of every account they touch,
5. the outbox item(s) carrying the event(s) to the bus,
6. any extra item of the same change (a refund record, the claim of a unique provider
   reference, say).

A lost race (someone changed the payment first) writes nothing and answers ``CONFLICT``; the
caller re-reads and decides again.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from payments.domain.events import EventEnvelope
from payments.domain.ledger import JournalEntry
from payments.domain.payment import Payment
from payments.domain.refunds import Refund
from payments.domain.states import PaymentStatus
from payments.errors import BusyError
from payments.money import Amount
from payments.store.mapping import payment_to_item, refund_to_item, unique_ref_item
from payments.store.models import (
    AccountBalanceItem,
    InboxItem,
    JournalEntryItem,
    JournalLineMap,
    OutboxItem,
    PaymentHistoryItem,
    PaymentItem,
    RefundItem,
    UniqueRefItem,
    inbox_partition,
    ledger_shard,
    payment_events_partition,
    utc_key_time,
)

INBOX_RETENTION = timedelta(days=90)
OUTBOX_RETENTION = timedelta(days=7)
# DynamoDB cancels a transaction that touches an item another transaction is writing
# ("TransactionConflict"); those are retried here, conditions never are.
_CONFLICT_RETRIES = 3


class CommitOutcome(StrEnum):
    COMMITTED = "committed"
    DUPLICATE = "duplicate"  # the inbox record already existed: nothing written
    CONFLICT = "conflict"  # the payment changed under us: nothing written
    # A provider reference the change claims (ConditionalPut.unique) belongs to another
    # payment already: nothing written, and deciding again cannot help.
    REFERENCE_TAKEN = "reference_taken"


@dataclass(frozen=True, slots=True)
class InboxRecord:
    provider: str
    event_id: str
    tenant_id: str
    event_type: str
    payload: str
    status: str = "accepted"
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    from_status: PaymentStatus
    requested_status: PaymentStatus
    applied: bool
    reason: str
    source: str
    provider_event_id: str | None = None


@dataclass(frozen=True, slots=True)
class StateChange:
    """Everything one change writes. ``payment`` is the payment as it should be afterwards."""

    payment: Payment
    history: HistoryRecord
    occurred_at: datetime
    # None: the payment is new and must not exist yet.
    expected_version: int | None
    expected_status: PaymentStatus | None
    # False: the payment is not written, only checked to still be at ``expected_version``.
    write_payment: bool = True
    inbox: InboxRecord | None = None
    journal: Sequence[JournalEntry] = ()
    events: Sequence[EventEnvelope] = ()
    # Other items of the same change (refund records...). A failed condition on one of them
    # means the world moved on since the decision: CONFLICT, re-read and decide again.
    extra_items: Sequence[ConditionalPut] = ()
    change_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True, slots=True)
class ConditionalPut:
    item: Model
    condition: Condition | None = None
    # True: the item claims something for this payment alone (a unique provider reference);
    # its failed condition is REFERENCE_TAKEN, not a race.
    unique: bool = False


def commit_state_change(change: StateChange) -> CommitOutcome:
    """Write ``change`` in one ``TransactWriteItems``; see the module docstring."""
    for attempt in range(_CONFLICT_RETRIES + 1):
        roles: list[str] = []
        try:
            # The token makes botocore's own retries of this call idempotent; our retries after
            # a TransactionConflict are new requests and get a token of their own.
            with TransactWrite(
                connection=_connection(), client_request_token=f"{change.change_id}-{attempt}"
            ) as tx:
                roles = _stage(tx, change)
        except TransactWriteError as error:
            outcome = _classify(error, roles)
            if outcome is not None:
                return outcome
            if attempt < _CONFLICT_RETRIES:
                time.sleep(0.05 * (2**attempt))
        else:
            return CommitOutcome.COMMITTED
    raise ConflictRetriesExhaustedError(change.change_id)


class ConflictRetriesExhaustedError(BusyError):
    def __init__(self, change_id: str) -> None:
        super().__init__(f"change {change_id} kept colliding with concurrent writes; retry")


def _stage(tx: TransactWrite, change: StateChange) -> list[str]:
    """Add every item of ``change`` to ``tx``; returns their roles in pynamodb's wire order
    (condition checks, deletes, puts, updates), to read cancellation reasons by index."""
    checks: list[str] = []
    puts: list[str] = []
    updates: list[str] = []
    _add_inbox(tx, change, puts)
    _add_payment(tx, change, checks, puts)
    _add_history(tx, change, puts)
    _add_ledger(tx, change, puts, updates)
    _add_events(tx, change, puts)
    for extra in change.extra_items:
        tx.save(extra.item, condition=extra.condition)
        puts.append("unique" if extra.unique else "extra")
    return checks + puts + updates


def _classify(error: TransactWriteError, roles: list[str]) -> CommitOutcome | None:
    """DUPLICATE / CONFLICT / REFERENCE_TAKEN for failed conditions; None when the write
    should be retried."""
    failed = failed_roles(error, roles)
    if "inbox" in failed:
        return CommitOutcome.DUPLICATE
    if failed & {"payment", "extra"}:
        return CommitOutcome.CONFLICT
    if "unique" in failed:
        return CommitOutcome.REFERENCE_TAKEN
    if failed:
        # A history, journal or outbox item already existed under a fresh id: a bug, not a
        # race. Nothing was written; let it surface.
        raise error
    codes = {reason.code for reason in error.cancellation_reasons if reason is not None}
    if codes <= {"TransactionConflict", "None"}:
        return None
    raise error


def failed_roles(error: TransactWriteError, roles: list[str]) -> set[str]:
    """The roles (in the transaction's wire order) of the items whose condition failed;
    re-raises anything but a cancelled transaction."""
    if error.cause_response_code != "TransactionCanceledException":
        raise error
    return {
        roles[index]
        for index, reason in enumerate(error.cancellation_reasons)
        if reason is not None and reason.code == "ConditionalCheckFailed" and index < len(roles)
    }


def _connection() -> Connection:
    return PaymentItem._get_connection().connection


def _add_inbox(tx: TransactWrite, change: StateChange, puts: list[str]) -> None:
    if change.inbox is None:
        return
    tx.save(inbox_item(change.inbox, change.occurred_at), condition=InboxItem.pk.does_not_exist())
    puts.append("inbox")


def inbox_item(record: InboxRecord, received_at: datetime) -> InboxItem:
    pk, sk = InboxItem.key(record.provider, record.tenant_id, record.event_id)
    return InboxItem(
        pk,
        sk,
        item_type="inbox",
        provider=record.provider,
        event_id=record.event_id,
        tenant_id=record.tenant_id,
        event_type=record.event_type,
        status=record.status,
        reason=record.reason,
        payload=record.payload,
        received_at=received_at,
        ttl=received_at + INBOX_RETENTION,
        gsi4pk=inbox_partition(record.tenant_id, record.provider),
        gsi4sk=f"{utc_key_time(received_at)}#{record.event_id}",
    )


def refund_write(refund: Refund, *, expected_version: int | None) -> ConditionalPut:
    """A refund record for a change: new (must not exist) or replacing ``expected_version``."""
    condition = (
        RefundItem.pk.does_not_exist()
        if expected_version is None
        else RefundItem.version == expected_version
    )
    return ConditionalPut(refund_to_item(refund), condition)


def unique_ref_claim(payment: Payment, provider_ref: str) -> ConditionalPut:
    """The claim of ``provider_ref`` for ``payment`` alone (within its tenant and provider)."""
    return ConditionalPut(
        unique_ref_item(payment, provider_ref), UniqueRefItem.pk.does_not_exist(), unique=True
    )


def record_inbox(record: InboxRecord) -> bool:
    """Record a notification that changes no payment (ignored or rejected): one conditional
    PutItem. False when this provider event id was already recorded."""
    try:
        inbox_item(record, datetime.now(UTC)).save(condition=InboxItem.pk.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _add_payment(
    tx: TransactWrite, change: StateChange, checks: list[str], puts: list[str]
) -> None:
    pk, sk = PaymentItem.key(change.payment.payment_id)
    if change.expected_version is None:
        condition = PaymentItem.pk.does_not_exist()
    else:
        condition = (PaymentItem.version == change.expected_version) & (
            PaymentItem.tenant_id == change.payment.tenant_id
        )
        if change.expected_status is not None:
            condition &= PaymentItem.status == change.expected_status.value
    if change.write_payment:
        tx.save(payment_to_item(change.payment), condition=condition)
        puts.append("payment")
    else:
        tx.condition_check(PaymentItem, pk, sk, condition=condition)
        checks.append("payment")


def _add_history(tx: TransactWrite, change: StateChange, puts: list[str]) -> None:
    history = change.history
    payment = change.payment
    pk, sk = PaymentHistoryItem.key(
        payment.payment_id, utc_key_time(change.occurred_at), change.change_id
    )
    tx.save(
        PaymentHistoryItem(
            pk,
            sk,
            item_type="payment_history",
            payment_id=payment.payment_id,
            tenant_id=payment.tenant_id,
            change_id=change.change_id,
            from_status=history.from_status.value,
            requested_status=history.requested_status.value,
            to_status=payment.status.value if history.applied else history.from_status.value,
            applied=history.applied,
            reason=history.reason,
            source=history.source,
            provider_event_id=history.provider_event_id,
            occurred_at=change.occurred_at,
        ),
        condition=PaymentHistoryItem.pk.does_not_exist(),
    )
    puts.append("history")


def _add_ledger(
    tx: TransactWrite, change: StateChange, puts: list[str], updates: list[str]
) -> None:
    stage_journal(tx, change.journal, change.occurred_at, puts, updates)


def commit_journal(journal: Sequence[JournalEntry], occurred_at: datetime) -> None:
    """Post entries that belong to no payment change (an operator's adjustment): the entries
    and every balance they move, in one transaction."""
    with TransactWrite(connection=_connection()) as tx:
        stage_journal(tx, journal, occurred_at, [], [])


def stage_journal(
    tx: TransactWrite,
    journal: Sequence[JournalEntry],
    occurred_at: datetime,
    puts: list[str],
    updates: list[str],
) -> None:
    if not journal:
        return
    totals: dict[tuple[str, int, str, str], list[Amount]] = defaultdict(lambda: [0, 0])
    for entry in journal:
        shard = ledger_shard(entry.shard_key or entry.payment_id)
        pk, sk = JournalEntryItem.key(
            entry.tenant_id, shard, utc_key_time(occurred_at), entry.entry_id
        )
        tx.save(
            JournalEntryItem(
                pk,
                sk,
                item_type="journal_entry",
                entry_id=entry.entry_id,
                tenant_id=entry.tenant_id,
                payment_id=entry.payment_id,
                description=entry.description,
                lines=[
                    JournalLineMap(
                        account=line.account,
                        currency=line.currency,
                        debit=Decimal(line.debit),
                        credit=Decimal(line.credit),
                    )
                    for line in entry.lines
                ],
                created_at=occurred_at,
            ),
            condition=JournalEntryItem.pk.does_not_exist(),
        )
        puts.append("journal")
        for (account, currency), (debits, credits) in entry.net_by_account().items():
            totals[(entry.tenant_id, shard, account, currency)][0] += debits
            totals[(entry.tenant_id, shard, account, currency)][1] += credits
    # One update per balance item: a transaction may touch an item only once. The balances
    # are the payment's shard's, never a tenant-wide item (models.LEDGER_SHARDS).
    for (tenant_id, shard, account, currency), (debits, credits) in sorted(totals.items()):
        bpk, bsk = AccountBalanceItem.key(tenant_id, shard, account, currency)
        tx.update(
            AccountBalanceItem(bpk, bsk),
            actions=[
                AccountBalanceItem.item_type.set("account_balance"),
                AccountBalanceItem.tenant_id.set(tenant_id),
                AccountBalanceItem.account.set(account),
                AccountBalanceItem.currency.set(currency),
                AccountBalanceItem.debits.add(Decimal(debits)),
                AccountBalanceItem.credits.add(Decimal(credits)),
            ],
        )
        updates.append("balance")


def _add_events(tx: TransactWrite, change: StateChange, puts: list[str]) -> None:
    for event in change.events:
        tx.save(
            outbox_item(event, change.occurred_at, payment_id=change.payment.payment_id),
            condition=OutboxItem.pk.does_not_exist(),
        )
        puts.append("outbox")


def outbox_item(event: EventEnvelope, at: datetime, *, payment_id: str | None = None) -> OutboxItem:
    """The outbox item that carries ``event`` to the bus (written in the change's transaction,
    conditional on not existing). An event of a payment (``payment_id``) is also listed under
    the payment in the log index (the payment's activity), until the outbox item expires."""
    pk, sk = OutboxItem.key(event.id)
    item = OutboxItem(
        pk,
        sk,
        item_type="outbox",
        event_id=event.id,
        event_type=event.type.value,
        tenant_id=event.tenant_id,
        envelope=event.to_json(),
        created_at=at,
        ttl=at + OUTBOX_RETENTION,
    )
    if payment_id is not None:
        item.payment_id = payment_id
        item.gsi5pk = payment_events_partition(event.tenant_id, payment_id)
        item.gsi5sk = f"{utc_key_time(at)}#{event.id}"
    return item
