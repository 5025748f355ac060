"""What the REST API answers, as pydantic models: the one source of the OpenAPI document's
response schemas and of the check that a handler answers what the document promises.

Handlers return these (never a bare dict), so Powertools validates every answer against its
model: a view that drifts from its documented shape fails loudly in tests instead of reaching
clients. Models forbid extra fields for the same reason.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from payments.domain.refunds import RefundStatus
from payments.domain.states import PaymentStatus

Timestamp = Annotated[
    str,
    Field(
        description="RFC 3339 UTC with milliseconds, e.g. 2026-11-23T04:23:29.182Z",
        json_schema_extra={"format": "date-time"},
    ),
]
AmountValue = Annotated[
    StrictInt | str,
    Field(
        description=(
            "Fiat: integer minor units (KES 25.00 is 2500, JPY 500 is 500). Crypto: a decimal "
            'string without trailing zeros ("0.00012345").'
        )
    ),
]


class _View(BaseModel):
    # defer_build: a model's validator is built when first used, so a function builds only the
    # views its own routes answer with, not all of them at import (cold start).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# --- errors --------------------------------------------------------------------------------


class ErrorDetail(_View):
    field: str = Field(description="Dotted path of the offending field, e.g. customer.email")
    in_: Literal["body", "query", "path", "header"] = Field(alias="in")
    code: str = Field(description="Machine-readable reason, e.g. invalid_type")
    message: str | None = Field(default=None, description="What is expected, for a person")


class ErrorInfo(_View):
    code: str = Field(description="Stable, machine-readable error code")
    message: str = Field(description="What went wrong and what is expected, for a person")
    details: list[ErrorDetail] | None = Field(
        default=None, description="Validation errors: one entry per offending field"
    )
    correlation_id: str | None = Field(
        default=None, description="500 only: the request id to quote when reporting a problem"
    )


class ErrorBody(_View):
    error: ErrorInfo


# --- health --------------------------------------------------------------------------------


class HealthView(_View):
    status: Literal["ok"]
    stage: str


# --- payments ------------------------------------------------------------------------------


class RefundView(_View):
    refund_id: str
    payment_id: str
    amount: AmountValue
    currency: str
    status: RefundStatus
    reason: str | None
    source: Literal["api", "provider"]
    provider_refund_id: str | None
    created_at: Timestamp
    updated_at: Timestamp


class HistoryEntryView(_View):
    from_status: str
    requested_status: str
    to_status: str
    applied: bool
    reason: str
    source: str
    occurred_at: Timestamp


class PaymentView(_View):
    payment_id: str
    payable_type: str
    payable_id: str
    amount: AmountValue
    currency: str
    status: PaymentStatus
    version: StrictInt = Field(description="1 at creation, +1 on every change")
    provider: str
    provider_reference: str | None
    description: str
    metadata: dict[str, str]
    amount_captured: AmountValue
    amount_refunded: AmountValue
    amount_refund_pending: AmountValue
    checkout_url: str | None
    expires_at: Timestamp | None
    provider_details: dict[str, str] = Field(
        description="What the provider reported that you may show: for M-PESA "
        "`checkout_request_id`, `phone_masked`, `receipt_number`, `result_code`, `result_desc`; "
        "for NOWPayments `provider_status`, `pay_address`, `pay_amount`, `actually_paid` and, "
        "when the customer sent more or less than asked, `overpaid` / `underpaid`"
    )
    price_amount: AmountValue | None = Field(
        description="The order's price when the payment is in another currency (a crypto "
        "payment priced in fiat); null otherwise"
    )
    price_currency: str | None
    created_at: Timestamp
    updated_at: Timestamp


class RefreshView(_View):
    outcome: Literal["settled", "still_open", "not_open", "unavailable"] = Field(
        description="settled: the provider's answer was applied now; still_open: the provider "
        "says it is still open; not_open: the payment was already final (nothing asked); "
        "unavailable: the provider gave no answer (`code` says why), try again later"
    )
    code: str | None = None


class PaymentDetailView(PaymentView):
    refunds: list[RefundView]
    history: list[HistoryEntryView]
    refresh: RefreshView | None = Field(
        default=None, description="Only with `refresh=true`: what asking the provider did"
    )


class PaymentPage(_View):
    data: list[PaymentView]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )


class CustomerView(_View):
    name: str | None
    email: str | None
    phone: str | None


class ActivityAmountsView(_View):
    amount: AmountValue
    captured: AmountValue
    refunded: AmountValue
    refund_pending: AmountValue
    refundable: AmountValue = Field(description="captured - refunded - refund_pending")


class LedgerLineView(_View):
    account: str
    currency: str
    debit: AmountValue
    credit: AmountValue


class LedgerEntryView(_View):
    entry_id: str
    description: str
    created_at: Timestamp
    lines: list[LedgerLineView]


class ProviderEventView(_View):
    id: str = Field(description="ibx_...: GET /v1/webhooks/inbox/{id} has its raw payload")
    provider: str
    event_id: str
    event_type: str
    status: Literal["accepted", "ignored", "rejected"]
    reason: str | None
    received_at: Timestamp


class PaymentEventView(_View):
    event_id: str
    type: str
    occurred_at: Timestamp
    deliveries: list[DeliveryView]


class PaymentActivityView(_View):
    payment: PaymentDetailView
    customer: CustomerView | None
    amounts: ActivityAmountsView
    ledger: list[LedgerEntryView] = Field(description="The payment's journal entries, oldest first")
    provider_events: list[ProviderEventView] = Field(
        description="The provider notifications that moved it (kept 90 days), oldest first"
    )
    events: list[PaymentEventView] = Field(
        description="Its outbox events (kept a week), oldest first, each with every callback "
        "delivery to the tenant's current endpoints"
    )


class ReportDayView(_View):
    date: str = Field(description="The UTC day of the payments' creation, YYYY-MM-DD")
    provider: str
    currency: str
    count: StrictInt
    succeeded: StrictInt = Field(
        description="Captured: succeeded, partially_refunded, refunded, disputed or settled"
    )
    failed: StrictInt
    volume: AmountValue = Field(description="Sum of amount_captured")
    refunded: AmountValue = Field(description="Sum of amount_refunded")


class ReportTotalView(_View):
    provider: str
    currency: str
    count: StrictInt
    succeeded: StrictInt
    failed: StrictInt
    volume: AmountValue
    refunded: AmountValue
    success_rate: float | None = Field(description="succeeded / count; null when count is 0")
    refund_rate: float | None = Field(description="refunded / volume; null when volume is 0")


class ReportView(_View):
    from_: str = Field(alias="from", description="The first UTC day, YYYY-MM-DD")
    to: str = Field(description="The last UTC day (inclusive), YYYY-MM-DD")
    days: list[ReportDayView] = Field(description="Only days with payments")
    totals: list[ReportTotalView]
    truncated: bool = Field(
        description="true: the read budget ran out; the newest days are complete, older missing"
    )


class CheckoutView(_View):
    payment_id: str
    status: PaymentStatus
    checkout_url: str | None = Field(description="Where to send the customer; null if failed")
    expires_at: Timestamp | None


class StkPushView(_View):
    payment_id: str
    status: PaymentStatus
    checkout_request_id: str | None = Field(
        description="Daraja's CheckoutRequestID (ws_CO_...); also "
        "`GET /v1/payments?provider_reference=`"
    )
    customer_message: str = Field(
        description="Daraja's text for the customer (empty on a replayed answer)"
    )


DecimalString = Annotated[
    str, Field(description='An exact decimal string, never a JSON number: "0.00020001"')
]


class CryptoPaymentView(_View):
    payment_id: str
    status: PaymentStatus
    provider_status: str | None = Field(
        description="NOWPayments' payment_status (waiting, confirming, ... finished)"
    )
    provider_reference: str | None = Field(
        description="NOWPayments' payment_id (also found by GET /v1/payments?provider_reference=)"
    )
    pay_address: str | None = Field(description="Where the customer sends the coins")
    pay_amount: DecimalString
    pay_currency: str = Field(description="The coin, upper case (BTC, USDTTRC20)")
    payin_extra_id: str | None = Field(
        description="The memo / destination tag the customer must add (XRP, XLM...); null "
        "when the coin needs none"
    )
    expires_at: Timestamp | None = Field(description="NOWPayments' expiration estimate")
    price_amount: AmountValue
    price_currency: str


class CryptoInvoiceView(_View):
    payment_id: str
    status: PaymentStatus
    invoice_id: str | None
    invoice_url: str | None = Field(description="NOWPayments' hosted page: send the customer")
    price_amount: AmountValue
    price_currency: str
    pay_currency: str | None = Field(description="null: the customer chooses on the page")


class CryptoCurrenciesView(_View):
    currencies: list[str] = Field(
        description="The coins NOWPayments takes for your account, upper case; cached up to an hour"
    )


class CryptoEstimateView(_View):
    amount_from: DecimalString
    currency_from: str
    estimated_amount: DecimalString
    currency_to: str
    min_amount: DecimalString | None = Field(
        description="NOWPayments' least amount for the pair, in currency_from"
    )


# --- callbacks -----------------------------------------------------------------------------


class EndpointView(_View):
    endpoint_id: str
    url: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    created_at: Timestamp
    previous_secret_expires_at: Timestamp | None


class EndpointWithSecretView(EndpointView):
    secret: str = Field(description="The signing secret (whsec_...): shown in this answer only")


class EndpointList(_View):
    data: list[EndpointView]


class DeliveryAttemptView(_View):
    attempt: StrictInt
    at: Timestamp
    status_code: StrictInt | None
    latency_ms: StrictInt
    error: str | None
    outcome: str


class DeliveryView(_View):
    delivery_id: str
    event_id: str
    event_type: str
    endpoint_id: str
    status: Literal["pending", "delivered", "failed", "endpoint_disabled"]
    attempts: list[DeliveryAttemptView]
    next_attempt_at: Timestamp | None


class ListedDeliveryView(DeliveryView):
    created_at: Timestamp


class DeliveryPage(_View):
    data: list[ListedDeliveryView]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page (with the same filters); null at the end. "
        "A page may hold fewer than `limit` (even none) and still have a cursor"
    )


class EndpointTestView(_View):
    delivery_id: str
    event_id: str = Field(description="The ping event's id (the webhook-id header)")
    status: Literal["pending"]


class DeliveryRetryView(_View):
    delivery_id: str
    status: Literal["pending"]


# --- provider credentials ------------------------------------------------------------------


class CredentialTestResultView(_View):
    ok: bool
    code: str = Field(
        description=(
            "ok, or why the test failed: invalid_credentials (the provider refused them), "
            "permission_denied, provider_unreachable (no answer: test again), "
            "incomplete_credentials"
        )
    )
    message: str = Field(description="What the provider said, for a person")


class ProviderCredentialsView(_View):
    provider: str
    values: dict[str, str] = Field(
        description=(
            "The stored fields: secret ones redacted to their kind and last four characters "
            "(sk_****abcd), the others as stored"
        )
    )
    enabled: bool
    verified: bool = Field(description="true when the last test with these credentials passed")
    last_tested_at: Timestamp | None = Field(description="null: never tested since stored")
    last_test_result: CredentialTestResultView | None
    webhook_url: str | None = Field(
        description=(
            "Where this provider must send this tenant's webhooks (register it at the "
            "provider); null when the provider sends none"
        )
    )


# --- provider registry ---------------------------------------------------------------------


class WebhookSecurityView(_View):
    signed: bool = Field(description="false: the notifications carry no signature (see checks)")
    signature_header: str | None = Field(description="The header holding the signature")
    algorithm: str = Field(description='e.g. HMAC-SHA256, HMAC-SHA512; "none" when unsigned')
    signed_content: str = Field(description="What the signature covers, with which secret")
    checks: list[str] = Field(description="Further checks every notification must pass")


class CredentialFieldView(_View):
    name: str
    description: str
    secret: bool = Field(description="Write-only: answers show it redacted (sk_****abcd)")
    required: bool
    choices: list[str] = Field(description="The values it takes (empty: any of its form)")


class ProviderView(_View):
    name: str
    display_name: str
    kind: Literal["payments", "notifications"] = Field(
        description="notifications: sends messages for us (Omnisend), takes no payments"
    )
    icon: str = Field(description="An SVG image as a data: URI (nothing to fetch elsewhere)")
    capabilities: list[str]
    credential_fields: list[CredentialFieldView] = Field(
        description="What PUT /v1/providers/{provider}/credentials takes, field by field"
    )
    configured: bool = Field(description="Credentials are stored for this tenant")
    enabled: bool = Field(description="The stored credentials are switched on")
    verified: bool = Field(description="Their last test passed")
    webhook_url: str | None = Field(
        description=(
            "Where this provider sends this tenant's webhooks; for a provider with "
            "webhook_url_per_payment, each payment's own URL is this followed by /<token>. "
            "null: the provider sends none (or this deployment has no webhook function for it)"
        )
    )
    webhook_url_per_payment: bool
    webhook_security: WebhookSecurityView | None = Field(
        description="How its webhooks are authenticated; null when it sends none"
    )
    source_networks: list[str] = Field(
        description="The networks its webhooks must come from (empty: any address)"
    )
    last_webhook_accepted_at: Timestamp | None = Field(
        description="The last webhook of this tenant's accepted from it (within 35 days)"
    )


class ProviderList(_View):
    data: list[ProviderView]


# --- webhook health, statistics and inbox --------------------------------------------------


class WebhookHealthView(_View):
    provider: str
    configured: bool = Field(description="Credentials for it are stored for this tenant")
    status: Literal["healthy", "degraded", "silent", "failing"] = Field(
        description="By the rules of docs/webhooks.md"
    )
    last_received_at: Timestamp | None
    last_accepted_at: Timestamp | None
    last_rejected_at: Timestamp | None
    last_rejected_reason: str | None
    received_last_hour: int
    received_last_day: int
    acceptance_rate_last_hour: float | None = Field(
        description="Accepted / received over the last hour, 0-1; null: nothing received"
    )
    acceptance_rate_last_day: float | None = Field(
        description="Accepted / received over the last 24 hours, 0-1; null: nothing received"
    )


class WebhookHealthList(_View):
    data: list[WebhookHealthView]
    generated_at: Timestamp


class WebhookDayStatsView(_View):
    provider: str
    date: str = Field(description="The UTC day, YYYY-MM-DD")
    received: int
    applied: int
    duplicate: int
    ignored: int
    rejected: int
    rejected_by_reason: dict[str, int]
    processing_ms_p50: int | None = Field(
        description=(
            "Median processing time: the upper bound (ms) of its power-of-two bucket; null "
            "when nothing was received"
        )
    )
    processing_ms_p95: int | None


class WebhookStatsList(_View):
    data: list[WebhookDayStatsView]
    days: int
    generated_at: Timestamp


class InboxEntryView(_View):
    id: str = Field(description="ibx_...: GET /v1/webhooks/inbox/{id} has its raw payload")
    provider: str
    event_id: str = Field(
        description="The provider's id of the event (rejected_<sha256>: one we refused)"
    )
    event_type: str = Field(description='The provider\'s event type; "unverified" when refused')
    status: Literal["accepted", "ignored", "rejected"]
    reason: str | None
    received_at: Timestamp


class InboxPage(_View):
    data: list[InboxEntryView]
    next_cursor: str | None


class InboxEntryDetailView(InboxEntryView):
    payload: str = Field(description="The body as it arrived (UTF-8; undecodable bytes replaced)")


# --- NEO Bank: profiles and trades ---------------------------------------------------------


class ProfileView(_View):
    profile_id: str
    external_customer_id: str
    provider: Literal["neobank"]
    cprn: str | None = Field(description="The bank's customer reference (CPRN-...), once known")
    status: Literal["registering", "pending", "verified", "rejected", "registration_failed"]
    verified: bool = Field(description="Trades are accepted only for a verified profile")
    wallet_address: str
    failure: str | None = Field(description="Why the bank refused the registration, if it did")
    email: str
    name: str
    created_at: Timestamp
    updated_at: Timestamp


class ProfilePage(_View):
    data: list[ProfileView]


class CurrencyBalanceView(_View):
    currency: str
    cleared: AmountValue = Field(description="Cleared by the bank, not yet settled (in transit)")
    settled: AmountValue
    total: AmountValue


class ProfileBalanceView(_View):
    profile_id: str
    balances: list[CurrencyBalanceView] = Field(
        description="Per currency, read from the ledger's accounts for this customer"
    )


class TokenView(_View):
    contract_address: str | None
    symbol: str | None
    quantity: str | None = Field(description="A decimal string")


class TradeView(_View):
    trade_id: str = Field(description="Our trade id, which is also its payment id")
    payment_id: str
    profile_id: str | None
    status: PaymentStatus
    settlement: Literal["pending", "in_transit", "overdue", "settled", "failed", "reversed"]
    settlement_due_at: str | None = Field(
        description="Clearing time + 2 business days (RFC 3339), once cleared"
    )
    cleared_at: str | None
    settled_at: str | None
    amount: AmountValue
    currency: str
    description: str
    token: TokenView
    wallet_address: str | None
    tx_id: str | None = Field(description="The bank's transaction id (TXN-...)")
    created_at: Timestamp
    updated_at: Timestamp


class TradePage(_View):
    data: list[TradeView]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )


# --- operator API (/v1/admin/...) ----------------------------------------------------------


class OperatorMeView(_View):
    operator_id: str = Field(
        description="The operator (op_...): the same for every key issued under one name"
    )
    name: str
    key_id: str = Field(description="The operator key in use (okey_...)")


class TenantApiKeyView(_View):
    key_id: str
    created_at: Timestamp
    revoked: bool


class TenantView(_View):
    tenant_id: str
    name: str
    status: Literal["active", "suspended"] = Field(
        description="suspended: every API key of the tenant is refused (401) until it is activated"
    )
    created_at: Timestamp
    api_keys: list[TenantApiKeyView] = Field(
        description="Every key ever issued, oldest first; never the key"
    )


class TenantList(_View):
    data: list[TenantView]


class IssuedApiKeyView(_View):
    key_id: str
    api_key: str = Field(description="The key itself: shown this once, only its SHA-256 is stored")


class AdminSearchHit(_View):
    tenant_id: str
    tenant_name: str
    payment: PaymentView


class AdminSearchResult(_View):
    data: list[AdminSearchHit]


class TenantWebhookHealthView(_View):
    tenant_id: str
    tenant_name: str
    providers: list[WebhookHealthView]


class AdminWebhookHealthList(_View):
    data: list[TenantWebhookHealthView]
    generated_at: Timestamp


class DeadLetterQueueView(_View):
    name: Literal["callbacks", "notify", "outbox"]
    depth: StrictInt = Field(description="Messages waiting (SQS's approximate count)")
    replayable: bool = Field(description="POST /v1/admin/dlq/{name}/replay can re-drive them")


class DeadLetterQueueList(_View):
    data: list[DeadLetterQueueView]


class ReplayView(_View):
    name: Literal["callbacks", "notify", "outbox"]
    replayed: StrictInt


class TenantLedgerView(_View):
    tenant_id: str
    ok: bool
    entries: StrictInt
    problems: list[str] = Field(
        description="One line per account whose balance disagrees with its journal"
    )


class LedgerVerifyView(_View):
    ok: bool
    tenants: list[TenantLedgerView]


class AuditEntryView(_View):
    at: Timestamp
    operator_id: str | None = Field(description="null: the caller was no operator (refused)")
    operator_name: str | None
    method: str
    path: str
    action: str = Field(description="The route, e.g. suspend_tenant, list_tenants")
    target: str | None = Field(
        description="What it acted on or looked up: a tenant id, a DLQ name, a search term"
    )
    status: StrictInt | None = Field(
        description="The answer's HTTP status; null if it was never recorded"
    )


class AuditPage(_View):
    data: list[AuditEntryView]
    next_cursor: str | None
