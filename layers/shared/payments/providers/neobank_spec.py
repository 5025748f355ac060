"""Bill Bitts / NEO Bank (customer registration with a CPRN, security-token trades, T+2
settlement), as the rest of the system sees it. The contract is ours (docs/providers/neobank.md):
requests signed with the tenant's RSA key (a PEM secret or a KMS key), webhooks signed with the
bank's. The adapter (payments.providers.neobank) is loaded by the factory on first use.

A trade is a payment of this provider: ``payable_type`` ``security_token_trade``, its payable id
the buyer's profile id, and the trade's own fields in ``provider_details`` (names below). Its
``succeeded`` means cleared, ``settled`` means settled (``settlement``), and each move also emits
a ``trade.*`` event with the trade's view (``companion_events``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from payments.domain.events import EventType, rfc3339
from payments.domain.payment import Payment, render_amount
from payments.domain.settlement import SETTLEMENT_DUE_AT
from payments.domain.states import PaymentStatus
from payments.providers.spec import (
    CredentialField,
    ProviderSpec,
    Settlement,
    WebhookSecurity,
    monogram_icon,
)

if TYPE_CHECKING:
    from payments.providers.neobank import NeoBankProvider

NAME = "neobank"
TRADE_PAYABLE_TYPE = "security_token_trade"
SIGNATURE_HEADER = "x-neo-signature"
TIMESTAMP_HEADER = "x-neo-timestamp"

# The trade's fields in its payment's provider_details.
PROFILE_ID = "profile_id"
CPRN = "cprn"
TX_ID = "tx_id"
TOKEN_CONTRACT = "token_contract_address"  # noqa: S105 - a field name
TOKEN_SYMBOL = "token_symbol"  # noqa: S105 - a field name
TOKEN_QUANTITY = "token_quantity"  # noqa: S105 - a field name
WALLET = "wallet_address"
CLEARED_AT = "cleared_at"
SETTLED_AT = "settled_at"
OVERDUE_FLAGGED_AT = "settlement_overdue_flagged_at"

_PEM_PRIVATE = (
    r"-----BEGIN (?:RSA )?PRIVATE KEY-----[A-Za-z0-9+/=\s]+-----END (?:RSA )?PRIVATE KEY-----\s*"
)
_PEM_PUBLIC = r"\s*-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----\s*"
_KMS_KEY = (
    r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(?:key/[A-Za-z0-9-]{1,64}|alias/[A-Za-z0-9/_-]{1,250})"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}"
    r"|alias/[A-Za-z0-9/_-]{1,250}"
)


def settlement_state(payment: Payment, now: datetime | None = None) -> str:
    """``pending`` (not cleared), ``in_transit`` (cleared, due later), ``overdue`` (cleared,
    past its due date), ``settled``, ``failed`` (never cleared) or ``reversed`` (cleared, then
    taken back)."""
    status = payment.status
    if status is PaymentStatus.SETTLED:
        return "settled"
    if status is PaymentStatus.FAILED:
        return "reversed" if payment.provider_details.get(CLEARED_AT) else "failed"
    if status is PaymentStatus.SUCCEEDED:
        due = payment.provider_details.get(SETTLEMENT_DUE_AT)
        moment = now or datetime.now(UTC)
        if due and datetime.fromisoformat(due.replace("Z", "+00:00")) < moment:
            return "overdue"
        return "in_transit"
    if status in (PaymentStatus.CANCELED, PaymentStatus.EXPIRED):
        return "failed"
    return "pending"


def trade_view(payment: Payment, now: datetime | None = None) -> dict[str, Any]:
    """A trade as the marketplace sees it (API answers and trade.* events)."""
    details = payment.provider_details
    return {
        "trade_id": payment.payment_id,
        "payment_id": payment.payment_id,
        "profile_id": details.get(PROFILE_ID),
        "status": payment.status.value,
        "settlement": settlement_state(payment, now),
        "settlement_due_at": details.get(SETTLEMENT_DUE_AT),
        "cleared_at": details.get(CLEARED_AT),
        "settled_at": details.get(SETTLED_AT),
        "amount": render_amount(payment.amount),
        "currency": payment.currency,
        "description": payment.description,
        "token": {
            "contract_address": details.get(TOKEN_CONTRACT),
            "symbol": details.get(TOKEN_SYMBOL),
            "quantity": details.get(TOKEN_QUANTITY),
        },
        "wallet_address": details.get(WALLET),
        "tx_id": details.get(TX_ID),
        "created_at": rfc3339(payment.created_at),
        "updated_at": rfc3339(payment.updated_at),
    }


_TRADE_EVENTS = {
    PaymentStatus.SUCCEEDED: EventType.TRADE_SUCCEEDED,
    PaymentStatus.SETTLED: EventType.TRADE_SETTLED,
    PaymentStatus.FAILED: EventType.TRADE_FAILED,
}


def trade_events(
    payment: Payment, status: PaymentStatus
) -> Sequence[tuple[EventType, dict[str, Any]]]:
    kind = _TRADE_EVENTS.get(status)
    if kind is None or payment.payable_type != TRADE_PAYABLE_TYPE:
        return ()
    return ((kind, {"trade": trade_view(payment)}),)


def _party(payment: Payment) -> str | None:
    return payment.provider_details.get(PROFILE_ID)


def _one_signer(values: Mapping[str, str]) -> str | None:
    if bool(values.get("signing_key_pem")) == bool(values.get("kms_key_id")):
        return "needs exactly one of signing_key_pem (a PEM key) and kms_key_id (a KMS key)"
    return None


@cache
def _adapter() -> NeoBankProvider:
    from payments.providers.neobank import NeoBankProvider

    return NeoBankProvider()


SPEC = ProviderSpec(
    name=NAME,
    display_name="NEO Bank",
    icon=monogram_icon("NEO", "#0f766e"),
    webhook_security=WebhookSecurity(
        algorithm="RSASSA-PKCS1-v1_5-SHA256",
        signature_header="X-Neo-Signature",
        signed_content=(
            "X-Neo-Timestamp + '.' + the raw body, signed with the bank's RSA key; verified "
            "with the tenant's bank_public_key_pem"
        ),
        checks=("X-Neo-Timestamp within 300 s of our clock, either way",),
    ),
    credential_fields=(
        CredentialField(
            "client_id",
            "the client id the bank gave this account, sent as X-Neo-Client-Id",
            secret=False,
            pattern=r"[A-Za-z0-9_-]{3,64}",
        ),
        CredentialField(
            "signing_key_pem",
            "a PEM RSA private key (2048 bits or more) whose public key is registered with the "
            "bank (or kms_key_id instead)",
            required=False,
            pattern=_PEM_PRIVATE,
            max_length=8192,
        ),
        CredentialField(
            "kms_key_id",
            "a KMS RSA_2048 SIGN_VERIFY key (id, ARN or alias) that signs instead of a PEM key "
            "(payctl credentials set TENANT neobank --create-kms-key makes one)",
            secret=False,
            required=False,
            pattern=_KMS_KEY,
        ),
        CredentialField(
            "bank_public_key_pem",
            "the bank's RSA public key (PEM), which signs its webhooks",
            secret=False,
            pattern=_PEM_PUBLIC,
            max_length=4096,
        ),
        CredentialField(
            "environment",
            "sandbox or production: the bank the client id belongs to",
            secret=False,
            choices=("sandbox", "production"),
        ),
    ),
    credentials_problem=_one_signer,
    token_trades=_adapter,
    sweep=_adapter,
    webhooks=_adapter,
    credential_test=_adapter,
    settlement=Settlement(party=_party),
    companion_events=trade_events,
    # A trade clears when the bank has the money: ask after a while, not at once.
    sweep_after_minutes=30,
    # Placeholders that can never resolve (.invalid): set NeobankApiBase to the bank's API.
    base_urls={
        "sandbox": "https://sandbox.neobank.invalid",
        "production": "https://api.neobank.invalid",
    },
    environment_field="environment",
)


def is_trade_payment(payment: Payment) -> bool:
    return payment.provider == NAME and payment.payable_type == TRADE_PAYABLE_TYPE
