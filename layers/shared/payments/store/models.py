"""The items of the single ``PaymentsTable`` (keys in docs/architecture.md).

Every item carries ``item_type`` so that stream consumers (the outbox pipe) can filter, and
amounts are stored as DynamoDB numbers through :class:`AmountAttribute`, which never passes
through a float (pynamodb's ``NumberAttribute`` round-trips through ``json`` and would).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.constants import NUMBER
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from payments.config import get_settings


class AmountAttribute(Attribute[Decimal]):
    """An exact decimal number (minor units or crypto decimals), never a float."""

    attr_type = NUMBER

    def serialize(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise TypeError(f"amounts are int or Decimal, got {type(value).__name__}")
        return format(Decimal(value), "f")

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


class _TableMeta(type):
    """Resolves the table name from settings on use, so importing a model reads no env."""

    @property
    def table_name(cls) -> str:
        return get_settings().payments_table_name


class PaymentsTableModel(Model):
    class Meta(metaclass=_TableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    item_type = UnicodeAttribute()
    ttl = TTLAttribute(null=True)


# --- tenancy -------------------------------------------------------------------------------


class TenantItem(PaymentsTableModel):
    tenant_id = UnicodeAttribute()
    name = UnicodeAttribute()
    status = UnicodeAttribute(default="active")
    created_at = UTCDateTimeAttribute()
    # The tenant's API Gateway API key (not a credential of the tenant's: with the API's key
    # source AUTHORIZER, only our authorizer presents it, as `usageIdentifierKey`). It selects
    # the tenant's usage plan; kept here so the authorizer's one tenant read carries it.
    usage_key_id = UnicodeAttribute(null=True)
    usage_key = UnicodeAttribute(null=True)

    @staticmethod
    def key(tenant_id: str) -> tuple[str, str]:
        return f"TENANT#{tenant_id}", "TENANT"


class ApiKeyItem(PaymentsTableModel):
    """Looked up by the SHA-256 of the presented key; the key itself is never stored."""

    key_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)

    @staticmethod
    def key(key_hash: str) -> tuple[str, str]:
        return f"APIKEY#{key_hash}", "APIKEY"


class ApiKeyIdItem(PaymentsTableModel):
    """Maps a public key id to its hash, so `payctl keys revoke KEY_ID` can find the key."""

    key_id = UnicodeAttribute()
    key_hash = UnicodeAttribute()
    tenant_id = UnicodeAttribute()

    @staticmethod
    def key(key_id: str) -> tuple[str, str]:
        return f"KEYID#{key_id}", "KEYID"


class OperatorKeyItem(PaymentsTableModel):
    """A platform operator's key, looked up by the SHA-256 of the presented key (like
    :class:`ApiKeyItem`); the key itself is never stored. It belongs to no tenant."""

    key_id = UnicodeAttribute()
    operator_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)

    @staticmethod
    def key(key_hash: str) -> tuple[str, str]:
        return f"OPERATORKEY#{key_hash}", "OPERATORKEY"


class OperatorKeyIdItem(PaymentsTableModel):
    """Every operator key's public id in one small partition: `payctl operators list` is one
    Query and `revoke OPERATOR_KEY_ID` finds the key's hash here."""

    key_id = UnicodeAttribute()
    key_hash = UnicodeAttribute()
    operator_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)

    PARTITION = "OPERATORKEYS"

    @staticmethod
    def key(key_id: str) -> tuple[str, str]:
        return OperatorKeyIdItem.PARTITION, f"KEYID#{key_id}"


class AuditItem(PaymentsTableModel):
    """One request to the operator API (/v1/admin/...): who, what, when and its outcome
    (store/audit.py). Written before the route runs and completed with the answer's status,
    so no operator action goes unrecorded; one partition per UTC month, newest last."""

    audit_id = UnicodeAttribute()
    operator_id = UnicodeAttribute(null=True)
    operator_name = UnicodeAttribute(null=True)
    key_id = UnicodeAttribute(null=True)
    method = UnicodeAttribute()
    path = UnicodeAttribute()
    action = UnicodeAttribute()
    target = UnicodeAttribute(null=True)
    status = NumberAttribute(null=True)  # null: the answer was never recorded
    at = UTCDateTimeAttribute()

    @staticmethod
    def partition(moment: datetime) -> str:
        return f"AUDIT#{moment.astimezone(UTC).strftime('%Y-%m')}"

    @staticmethod
    def key(moment: datetime, audit_id: str) -> tuple[str, str]:
        return AuditItem.partition(moment), f"{utc_key_time(moment)}#{audit_id}"


class RateLimitItem(PaymentsTableModel):
    """Calls of one costly operation by one tenant in one fixed window (store/rate_limits.py)."""

    tenant_id = UnicodeAttribute()
    operation = UnicodeAttribute()
    used = NumberAttribute(null=True)

    @staticmethod
    def key(tenant_id: str, operation: str, window_start: int) -> tuple[str, str]:
        return f"RATELIMIT#{tenant_id}#{operation}#{window_start}", "RATELIMIT"


class CredentialStatusItem(PaymentsTableModel):
    """What is known of a tenant's stored credentials for one provider: whether their last test
    passed (store/credential_status.py). The credentials themselves are in Secrets Manager."""

    tenant_id = UnicodeAttribute()
    provider = UnicodeAttribute()
    # Changes with every store of the credentials: a test records its result only under the
    # revision it started from, so a result never describes credentials it did not test.
    revision = UnicodeAttribute()
    verified = BooleanAttribute()
    last_tested_at = UTCDateTimeAttribute(null=True)
    last_test_code = UnicodeAttribute(null=True)
    last_test_message = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()

    @staticmethod
    def key(tenant_id: str, provider: str) -> tuple[str, str]:
        return f"TENANT#{tenant_id}", f"CREDENTIALS#{provider}"


class ProviderTokenItem(PaymentsTableModel):
    """A provider access token shared by every container, encrypted with our KMS key, and the
    lease of the one container refreshing it (store/provider_tokens.py)."""

    token_ciphertext = UnicodeAttribute(null=True)
    token_id = UnicodeAttribute(null=True)
    use_until = NumberAttribute(null=True)  # epoch seconds
    lease_holder = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(null=True)  # epoch seconds

    @staticmethod
    def key(cache_key: str) -> tuple[str, str]:
        return f"PROVIDERTOKEN#{cache_key}", "PROVIDERTOKEN"


class ClaimItem(PaymentsTableModel):
    """Something one payment holds for a while (a customer's phone while its prompt is open,
    store/claims.py); expired claims are free to take and leave through the table's TTL."""

    holder = UnicodeAttribute()
    held_until = NumberAttribute()  # epoch seconds
    ttl = TTLAttribute(null=True)

    @staticmethod
    def key(claim: str) -> tuple[str, str]:
        return f"CLAIM#{claim}", "CLAIM"


# --- payments ------------------------------------------------------------------------------


class PayableIndex(GlobalSecondaryIndex["PaymentItem"]):
    class Meta:
        index_name = "payable-index"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ProviderRefIndex(GlobalSecondaryIndex["PaymentItem"]):
    class Meta:
        index_name = "provider-ref-index"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class PendingIndex(GlobalSecondaryIndex["PaymentItem"]):
    class Meta:
        index_name = "pending-index"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class LogIndex(GlobalSecondaryIndex["PaymentsTableModel"]):
    """Sparse: a tenant's payments and deliveries by UTC day of creation, newest first, and a
    payment's outbox events (models.payment_log_partition and friends, store/activity_log.py)."""

    class Meta:
        index_name = "log-index"
        projection = AllProjection()

    gsi5pk = UnicodeAttribute(hash_key=True)
    gsi5sk = UnicodeAttribute(range_key=True)


def log_day(moment: datetime) -> str:
    """The UTC day (YYYY-MM-DD) whose log partition holds what was created at ``moment``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def payment_log_partition(tenant_id: str, day: str) -> str:
    """The log index's partition of one tenant's payments created on one UTC day: a day
    partition bounds each partition's write rate (a new partition every day)."""
    return f"PAYLOG#{tenant_id}#{day}"


def delivery_log_partition(tenant_id: str, day: str) -> str:
    return f"DLVLOG#{tenant_id}#{day}"


def payment_events_partition(tenant_id: str, payment_id: str) -> str:
    """The log index's partition of one payment's outbox events (they expire with the outbox)."""
    return f"EVENTS#{tenant_id}#{payment_id}"


class CustomerMap(MapAttribute[str, Any]):
    email = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)


class PaymentItem(PaymentsTableModel):
    payment_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    payable_type = UnicodeAttribute()
    payable_id = UnicodeAttribute()
    amount = AmountAttribute()
    currency = UnicodeAttribute()
    provider = UnicodeAttribute()
    provider_ref = UnicodeAttribute(null=True)
    capture_ref = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    version = NumberAttribute()
    description = UnicodeAttribute(default="")
    customer = CustomerMap(null=True)
    metadata = MapAttribute[str, Any](null=True)
    amount_captured = AmountAttribute()
    amount_refunded = AmountAttribute()
    amount_refund_pending = AmountAttribute(null=True)
    checkout_url = UnicodeAttribute(null=True)
    expires_at = UTCDateTimeAttribute(null=True)
    provider_details = MapAttribute[str, Any](null=True)
    webhook_token_hash = UnicodeAttribute(null=True)
    price_amount = AmountAttribute(null=True)
    price_currency = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    # log-index: payment_log_partition() / "<created_at key time>#<payment id>"; payments stored
    # before the index have neither (payctl payments backfill-index adds them, and email_lc).
    gsi5pk = UnicodeAttribute(null=True)
    gsi5sk = UnicodeAttribute(null=True)
    # The customer's e-mail in lower case: what a search by e-mail matches (case-insensitive).
    email_lc = UnicodeAttribute(null=True)

    payable_index = PayableIndex()
    provider_ref_index = ProviderRefIndex()
    pending_index = PendingIndex()
    log_index = LogIndex()

    @staticmethod
    def key(payment_id: str) -> tuple[str, str]:
        return f"PAYMENT#{payment_id}", "PAYMENT"


class PaymentHistoryItem(PaymentsTableModel):
    """One requested transition of a payment, applied or not (late and out-of-order too)."""

    payment_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    change_id = UnicodeAttribute()
    from_status = UnicodeAttribute()
    requested_status = UnicodeAttribute()
    to_status = UnicodeAttribute()
    applied = BooleanAttribute()
    reason = UnicodeAttribute()
    source = UnicodeAttribute()
    provider_event_id = UnicodeAttribute(null=True)
    occurred_at = UTCDateTimeAttribute()

    @staticmethod
    def key(payment_id: str, occurred_at: str, change_id: str) -> tuple[str, str]:
        return f"PAYMENT#{payment_id}", f"HISTORY#{occurred_at}#{change_id}"


class PaymentRefItem(PaymentsTableModel):
    """Another provider reference of a payment (a Stripe PaymentIntent, say), found through
    the same provider-ref index as the payment's primary reference."""

    payment_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    provider = UnicodeAttribute()
    provider_ref = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()

    @staticmethod
    def key(payment_id: str, provider: str, provider_ref: str) -> tuple[str, str]:
        return f"PAYMENT#{payment_id}", f"REF#{provider}#{provider_ref}"


class UniqueRefItem(PaymentsTableModel):
    """Claims a provider reference for one payment of a tenant (a captured payment's id at the
    provider, e.g. an M-PESA receipt number): written only if absent, so no reference counts
    for two payments."""

    payment_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()

    @staticmethod
    def key(tenant_id: str, provider: str, provider_ref: str) -> tuple[str, str]:
        return f"UNIQUEREF#{tenant_id}#{provider}#{provider_ref}", "UNIQUEREF"


class ProfileItem(PaymentsTableModel):
    """A customer registered with a provider (NEO Bank: its CPRN), store/profiles.py."""

    profile_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    provider = UnicodeAttribute()
    external_customer_id = UnicodeAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    wallet_address = UnicodeAttribute()
    # registering (asked, no answer yet), pending, verified, rejected, registration_failed.
    status = UnicodeAttribute()
    provider_ref = UnicodeAttribute(null=True)  # the CPRN, once the bank answered
    failure = UnicodeAttribute(null=True)
    version = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    @staticmethod
    def key(profile_id: str) -> tuple[str, str]:
        return f"PROFILE#{profile_id}", "PROFILE"


class ProfileClaimItem(PaymentsTableModel):
    """What makes a profile unique within its tenant: its external customer id, and its
    provider reference (a CPRN belongs to exactly one profile). Written only if absent."""

    profile_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()

    @staticmethod
    def external_key(tenant_id: str, provider: str, external_id: str) -> tuple[str, str]:
        digest = hashlib.sha256(external_id.encode()).hexdigest()
        return f"PROFILEEXT#{tenant_id}#{provider}#{digest}", "PROFILECLAIM"

    @staticmethod
    def reference_key(tenant_id: str, provider: str, provider_ref: str) -> tuple[str, str]:
        return f"PROFILEREF#{tenant_id}#{provider}#{provider_ref}", "PROFILECLAIM"


class TradeListItem(PaymentsTableModel):
    """One trade in its tenant's list, newest first (GET /v1/trades without a profile): written
    with the trade's payment, in its creation transaction."""

    payment_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()

    @staticmethod
    def key(tenant_id: str, created_key_time: str, payment_id: str) -> tuple[str, str]:
        return f"TRADES#{tenant_id}", f"TRADE#{created_key_time}#{payment_id}"


class RefundItem(PaymentsTableModel):
    refund_id = UnicodeAttribute()
    payment_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    provider = UnicodeAttribute()
    amount = AmountAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()
    source = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    provider_refund_id = UnicodeAttribute(null=True)
    version = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    @staticmethod
    def key(payment_id: str, refund_id: str) -> tuple[str, str]:
        return f"PAYMENT#{payment_id}", f"REFUND#{refund_id}"


class CustomerLinkItem(PaymentsTableModel):
    """The provider's customer object for one tenant + e-mail (one per tenant and e-mail)."""

    tenant_id = UnicodeAttribute()
    provider = UnicodeAttribute()
    email = UnicodeAttribute()
    provider_customer_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()

    @staticmethod
    def key(tenant_id: str, provider: str, email: str) -> tuple[str, str]:
        return f"CUSTOMER#{tenant_id}#{provider}#{email}", "CUSTOMER"


# --- merchant callbacks ------------------------------------------------------------------


class CallbackEndpointItem(PaymentsTableModel):
    """A merchant URL for our signed callbacks. Secrets are stored KMS-encrypted only."""

    endpoint_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    url = UnicodeAttribute()
    event_types = ListAttribute(of=UnicodeAttribute)
    enabled = BooleanAttribute()
    disabled_reason = UnicodeAttribute(null=True)
    secret_ciphertext = UnicodeAttribute()
    previous_secret_ciphertext = UnicodeAttribute(null=True)
    previous_secret_expires_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    version = NumberAttribute()

    @staticmethod
    def key(tenant_id: str, endpoint_id: str) -> tuple[str, str]:
        return f"TENANT#{tenant_id}", f"ENDPOINT#{endpoint_id}"


class DeliveryItem(PaymentsTableModel):
    """One event for one endpoint; its attempts live in the same item collection."""

    delivery_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    endpoint_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    body = UnicodeAttribute()  # the exact bytes every attempt sends
    status = UnicodeAttribute()  # pending | delivered | failed | endpoint_disabled
    attempts = NumberAttribute()
    next_attempt_at = UTCDateTimeAttribute(null=True)
    # Set while an attempt is in flight; a worker that dies mid-attempt lets it lapse.
    claimed_until = UTCDateTimeAttribute(null=True)
    last_status_code = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    # log-index: delivery_log_partition() / "<created_at key time>#<delivery id>".
    gsi5pk = UnicodeAttribute(null=True)
    gsi5sk = UnicodeAttribute(null=True)

    @staticmethod
    def key(delivery_id: str) -> tuple[str, str]:
        return f"DELIVERY#{delivery_id}", "DELIVERY"


class DeliveryAttemptItem(PaymentsTableModel):
    delivery_id = UnicodeAttribute()
    attempt = NumberAttribute()
    started_at = UTCDateTimeAttribute()
    status_code = NumberAttribute(null=True)
    latency_ms = NumberAttribute()
    error = UnicodeAttribute(null=True)
    outcome = UnicodeAttribute()

    @staticmethod
    def key(delivery_id: str, attempt: int) -> tuple[str, str]:
        return f"DELIVERY#{delivery_id}", f"ATTEMPT#{attempt:03d}"


# --- ledger --------------------------------------------------------------------------------


# A tenant's ledger is spread over LEDGER_SHARDS partitions, chosen by the payment: a capture
# writes its journal entry and the balances it moves in its payment's shard only, so captures of
# different payments of one tenant (but for a 1-in-LEDGER_SHARDS chance) touch disjoint items
# and no balance item is hot. A balance is the sum of its shards (``ledger verify`` proves each
# shard against its own entries). Changing the number would move payments between shards: it is
# part of the data format.
LEDGER_SHARDS = 32
# Where a tenant's whole ledger lived before it was sharded (issue 9): still read, never written.
LEGACY_LEDGER_SHARD = -1


def ledger_shard(payment_id: str) -> int:
    """The ledger shard of a payment: stable across processes and versions (not ``hash()``)."""
    digest = hashlib.blake2b(payment_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % LEDGER_SHARDS


def ledger_partition(tenant_id: str, shard: int) -> str:
    if shard == LEGACY_LEDGER_SHARD:
        return f"LEDGER#{tenant_id}"
    if not 0 <= shard < LEDGER_SHARDS:
        raise ValueError(f"no ledger shard {shard}")
    return f"LEDGER#{tenant_id}#{shard:02d}"


def ledger_partitions(tenant_id: str) -> list[str]:
    """Every partition that may hold this tenant's ledger: the shards and the legacy one."""
    shards = [LEGACY_LEDGER_SHARD, *range(LEDGER_SHARDS)]
    return [ledger_partition(tenant_id, shard) for shard in shards]


class JournalLineMap(MapAttribute[str, Any]):
    account = UnicodeAttribute()
    currency = UnicodeAttribute()
    debit = AmountAttribute()
    credit = AmountAttribute()


class JournalEntryItem(PaymentsTableModel):
    """Append-only; written once, in the same transaction as the balances it moves."""

    entry_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    payment_id = UnicodeAttribute()
    description = UnicodeAttribute()
    lines = ListAttribute(of=JournalLineMap)
    created_at = UTCDateTimeAttribute()

    @staticmethod
    def key(tenant_id: str, shard: int, created_at: str, entry_id: str) -> tuple[str, str]:
        return ledger_partition(tenant_id, shard), f"ENTRY#{created_at}#{entry_id}"


class AccountBalanceItem(PaymentsTableModel):
    """Running debit and credit totals of one account in one currency."""

    tenant_id = UnicodeAttribute()
    account = UnicodeAttribute()
    currency = UnicodeAttribute()
    debits = AmountAttribute()
    credits = AmountAttribute()

    @staticmethod
    def key(tenant_id: str, shard: int, account: str, currency: str) -> tuple[str, str]:
        return ledger_partition(tenant_id, shard), f"BALANCE#{account}#{currency}"


# --- webhooks and events -------------------------------------------------------------------


class InboxIndex(GlobalSecondaryIndex["InboxItem"]):
    """What arrived for one tenant from one provider, newest first, without the payloads
    (GET /v1/webhooks/inbox); the payload is read from the item itself (GET .../{id})."""

    class Meta:
        index_name = "inbox-index"
        projection = IncludeProjection(
            ["provider", "event_id", "event_type", "status", "reason", "received_at"]
        )

    gsi4pk = UnicodeAttribute(hash_key=True)
    gsi4sk = UnicodeAttribute(range_key=True)


class InboxItem(PaymentsTableModel):
    """A provider notification we received: the dedupe key and the raw payload for audit."""

    provider = UnicodeAttribute()
    event_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    payload = UnicodeAttribute()
    received_at = UTCDateTimeAttribute()
    # inbox-index: inbox_partition() / "<received_at key time>#<event_id>". Items recorded
    # before the index existed have neither (payctl inbox backfill-index adds them).
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)

    inbox_index = InboxIndex()

    @staticmethod
    def key(provider: str, tenant_id: str, event_id: str) -> tuple[str, str]:
        # Scoped per tenant: dedupe never lets one tenant's deliveries shadow another's.
        return f"INBOX#{provider}#{tenant_id}#{event_id}", "INBOX"


def inbox_partition(tenant_id: str, provider: str) -> str:
    """The inbox index's partition of one tenant and provider: a provider's deliveries are
    bounded by its webhook function's reserved concurrency, well under a partition's writes."""
    return f"INBOXLOG#{tenant_id}#{provider}"


class OutboxItem(PaymentsTableModel):
    """An event waiting for the stream -> pipe -> bus path; expires after a week."""

    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    envelope = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    # log-index, for a payment's events only: payment_events_partition() /
    # "<created_at key time>#<event id>".
    payment_id = UnicodeAttribute(null=True)
    gsi5pk = UnicodeAttribute(null=True)
    gsi5sk = UnicodeAttribute(null=True)

    @staticmethod
    def key(event_id: str) -> tuple[str, str]:
        return f"OUTBOX#{event_id}", "OUTBOX"


# A tenant's webhook statistics for one provider are spread over STATS_SHARDS partitions: each
# delivery adds to one shard, chosen at random, so no counter item takes every delivery, and a
# reader sums the shards. Changing the number hides or splits stored counts: it is part of the
# data format.
STATS_SHARDS = 4


class WebhookStatsItem(PaymentsTableModel):
    """One hour of one tenant's deliveries from one provider, in one shard (store/webhook_stats.py):
    counters added by one UpdateItem per delivery, plus attributes named by the rejection reason
    (``rejected__<reason>``) and the processing-time bucket (``ms__<bound>``)."""

    tenant_id = UnicodeAttribute()
    provider = UnicodeAttribute()
    hour = UnicodeAttribute()  # "YYYY-MM-DDTHH", UTC
    received = NumberAttribute(null=True)
    applied = NumberAttribute(null=True)
    duplicate = NumberAttribute(null=True)
    ignored = NumberAttribute(null=True)
    rejected = NumberAttribute(null=True)
    last_received_at = UnicodeAttribute(null=True)
    last_accepted_at = UnicodeAttribute(null=True)
    last_rejected_at = UnicodeAttribute(null=True)
    last_rejected_reason = UnicodeAttribute(null=True)

    @staticmethod
    def partition(tenant_id: str, provider: str, shard: int) -> str:
        if not 0 <= shard < STATS_SHARDS:
            raise ValueError(f"no stats shard {shard}")
        return f"WHSTATS#{tenant_id}#{provider}#{shard}"

    @staticmethod
    def key(tenant_id: str, provider: str, shard: int, hour: str) -> tuple[str, str]:
        return WebhookStatsItem.partition(tenant_id, provider, shard), f"HOUR#{hour}"


def utc_key_time(moment: datetime) -> str:
    """Sortable timestamp used inside sort keys (microseconds, UTC, fixed width)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ProviderListItem(PaymentsTableModel):
    """A provider's answer that changes slowly (NOWPayments' currency list), kept for every
    container of a tenant until ``fresh_until`` (store/provider_cache.py); the table's TTL
    removes it a while later."""

    values = ListAttribute(of=UnicodeAttribute)
    fresh_until = NumberAttribute()  # epoch seconds

    @staticmethod
    def key(tenant_id: str, name: str) -> tuple[str, str]:
        return f"TENANT#{tenant_id}", f"PROVIDERLIST#{name}"
