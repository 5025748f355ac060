"""The Daraja sandbox's state: apps (a tenant's Daraja app and its shortcode), tokens, STK pushes,
the settings and chaos switches, and Daraja's ids, times and ResultCodes."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from devstack.sandboxes.kit import Json, Switches
from devstack.sandboxes.kit.switches import check_loopback_address

# Daraja's timestamps are Nairobi wall-clock time. East Africa Time has been UTC+3 without
# daylight saving since 1942, so a fixed offset says it without needing a tz database.
NAIROBI = timezone(timedelta(hours=3), "EAT")
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"

PAYBILL = "CustomerPayBillOnline"
TILL = "CustomerBuyGoodsOnline"
TRANSACTION_TYPES = (PAYBILL, TILL)

MIN_AMOUNT = 1
MAX_AMOUNT = 250_000  # whole shillings
MAX_ACCOUNT_REFERENCE = 12
MAX_TRANSACTION_DESC = 13
TOKEN_LIFETIME_SECONDS = 3599

# ResultCodes the virtual phone (and the PartyB check) ends a push with, and Daraja's texts.
RESULT_SUCCESS = 0
RESULT_INSUFFICIENT_FUNDS = 1
RESULT_CANCELLED = 1032
RESULT_UNREACHABLE = 1037
RESULT_WRONG_PIN = 2001
RESULT_NOT_PERMITTED = 2028
RESULT_DESCRIPTIONS = {
    RESULT_SUCCESS: "The service request is processed successfully.",
    RESULT_INSUFFICIENT_FUNDS: "The balance is insufficient for the transaction.",
    RESULT_CANCELLED: "Request cancelled by user",
    RESULT_UNREACHABLE: "DS timeout user cannot be reached",
    RESULT_WRONG_PIN: "The initiator information is invalid.",
    RESULT_NOT_PERMITTED: "The request is not permitted according to product assignment",
}

_ALPHANUMERIC = string.ascii_letters + string.digits
_RECEIPT_ALPHABET = string.ascii_uppercase + string.digits


def nairobi_now() -> datetime:
    return datetime.now(NAIROBI)


def nairobi_timestamp(moment: datetime | None = None) -> str:
    return (moment or nairobi_now()).astimezone(NAIROBI).strftime(TIMESTAMP_FORMAT)


def random_text(length: int, alphabet: str = _ALPHANUMERIC) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def random_digits(length: int) -> str:
    return random_text(length, string.digits)


def request_id() -> str:
    """Daraja's ``requestId`` on an error (e.g. ``16813-15-2``-like, kept unique here)."""
    return f"{random_digits(5)}-{random_digits(8)}-1"


def merchant_request_id() -> str:
    return f"{random_digits(5)}-{random_digits(8)}-1"


def checkout_request_id(moment: datetime) -> str:
    """``ws_CO_`` + the Nairobi time as ``DDMMYYYYHHmmss`` + digits, like Daraja's."""
    return f"ws_CO_{moment.astimezone(NAIROBI).strftime('%d%m%Y%H%M%S')}{random_digits(9)}"


def receipt_number() -> str:
    """An M-PESA receipt: ten upper-case letters and digits, starting with a letter."""
    return random_text(1, string.ascii_uppercase) + random_text(9, _RECEIPT_ALPHABET)


def access_token() -> str:
    return random_text(28)


@dataclass
class App:
    """A Daraja app with the shortcode it may push for (and a till for Buy Goods)."""

    consumer_key: str
    consumer_secret: str
    shortcode: str
    passkey: str
    till: str | None = None

    def public(self) -> Json:
        """What listing shows: never the secret or the passkey."""
        return {"consumer_key": self.consumer_key, "shortcode": self.shortcode, "till": self.till}


@dataclass
class Token:
    value: str
    expires_at: float  # monotonic


@dataclass
class AppState:
    app: App
    token: Token | None = None  # only the newest token is valid
    token_requests: int = 0
    last_push_at: float | None = None  # monotonic, for spike arrest


@dataclass
class Push:
    """One STK push: what was asked, and how it ended (``result_code`` None while pending)."""

    checkout_request_id: str
    merchant_request_id: str
    consumer_key: str
    shortcode: str
    transaction_type: str
    party_a: str
    party_b: str
    phone_number: str
    amount: int
    account_reference: str
    transaction_desc: str
    callback_url: str
    created_at: str  # Nairobi timestamp
    status: str = "pending"  # pending -> (no_answer: awaiting the timeout) -> completed
    result_code: int | None = None
    result_desc: str | None = None
    receipt: str | None = None
    transaction_date: str | None = None
    callbacks: list[Json] = field(default_factory=list)  # one per copy sent: body, delivered

    @property
    def final(self) -> bool:
        return self.result_code is not None

    def view(self) -> Json:
        return {
            "CheckoutRequestID": self.checkout_request_id,
            "MerchantRequestID": self.merchant_request_id,
            "consumer_key": self.consumer_key,
            "BusinessShortCode": self.shortcode,
            "TransactionType": self.transaction_type,
            "PartyA": self.party_a,
            "PartyB": self.party_b,
            "PhoneNumber": self.phone_number,
            "Amount": self.amount,
            "AccountReference": self.account_reference,
            "TransactionDesc": self.transaction_desc,
            "CallBackURL": self.callback_url,
            "created_at": self.created_at,
            "status": self.status,
            "ResultCode": self.result_code,
            "ResultDesc": self.result_desc,
            "MpesaReceiptNumber": self.receipt,
            "TransactionDate": self.transaction_date,
            "callbacks": [dict(callback) for callback in self.callbacks],
        }


@dataclass
class Settings(Switches):
    """How the sandbox behaves (``/_sandbox/settings``): the rules Daraja enforces."""

    token_lifetime_seconds: int = TOKEN_LIFETIME_SECONDS
    # Daraja refuses a Timestamp far from its own clock; how far counts as stale.
    timestamp_window_seconds: int = 300
    # Spike arrest: the least time between two pushes of one app (0: no limit).
    spike_arrest_seconds: float = 0.0
    # "No answer" on the phone ends the push with 1037 after this long.
    no_answer_delay_seconds: float = 3.0
    # Where callbacks come from (any 127.0.0.0/8 address; empty: the system's choice).
    callback_source_address: str = ""

    def update(self, changes: Mapping[str, Any]) -> None:
        check_loopback_address("callback_source_address", changes.get("callback_source_address"))
        super().update(changes)


@dataclass
class ChaosSettings(Switches):
    """What may go wrong (``/_sandbox/chaos``): callbacks duplicated, late, lost or tampered with,
    and forced spike-arrest or quota refusals."""

    duplicate_callbacks: int = 0  # extra copies of each callback
    callback_delay_seconds: float = 0.0  # each callback this late
    drop_callbacks: bool = False  # no callback at all (STK query still knows the result)
    callback_amount_offset: int = 0  # shillings added to the callback's Amount (not the push's)
    spike_arrest_next: int = 0  # the next N pushes answer 500.003.02
    quota_exceeded_next: int = 0  # the next N pushes or queries answer 500.003.03
