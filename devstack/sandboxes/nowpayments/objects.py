"""The NOWPayments sandbox's state: accounts (a tenant's API key and IPN secret), payments,
invoices, the IPNs sent, the switches, and NOWPayments' ids, addresses and times."""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from devstack.sandboxes.kit import Json, SwitchError, Switches
from devstack.sandboxes.kit.switches import check_loopback_address
from devstack.sandboxes.nowpayments.market import Currency, currency

# waiting -> confirming -> confirmed -> sending -> finished is the way of a payment paid in full;
# partially_paid (underpaid), failed, expired and refunded leave it.
WAITING = "waiting"
CONFIRMING = "confirming"
CONFIRMED = "confirmed"
SENDING = "sending"
FINISHED = "finished"
PARTIALLY_PAID = "partially_paid"
FAILED = "failed"
EXPIRED = "expired"
REFUNDED = "refunded"
PAID_IN_FULL = (WAITING, CONFIRMING, CONFIRMED, SENDING, FINISHED)
STATUSES = (*PAID_IN_FULL, PARTIALLY_PAID, FAILED, EXPIRED, REFUNDED)
FINAL = (FINISHED, FAILED, EXPIRED, REFUNDED)

_UPPER_ALNUM = string.ascii_uppercase + string.digits
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BASE32 = string.ascii_uppercase + "234567"
_SECRET = string.ascii_letters + string.digits + "+/"


def random_text(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def numeric_id() -> int:
    """A NOWPayments id: ten digits (payment, invoice, purchase and account ids)."""
    return 4_000_000_000 + secrets.randbelow(5_000_000_000)


def api_key() -> str:
    """Like NOWPayments' keys: four groups of seven upper-case letters and digits."""
    return "-".join(random_text(7, _UPPER_ALNUM) for _ in range(4))


def ipn_secret() -> str:
    return random_text(32, _SECRET)


def pay_address(pay: Currency) -> str:
    """A plausible deposit address on ``pay``'s network (not a valid one: nothing is checked)."""
    network = pay.network
    if network == "btc":
        return "bc1q" + random_text(38, _BECH32)
    if network == "ltc":
        return "ltc1q" + random_text(38, _BECH32)
    if network in ("eth", "bsc"):
        return "0x" + secrets.token_hex(20)
    if network == "trx":
        return "T" + random_text(33, _BASE58)
    if network == "xrp":
        return "r" + random_text(33, _BASE58)
    if network == "xlm":
        return "G" + random_text(55, _BASE32)
    if network == "doge":
        return "D" + random_text(33, _BASE58)
    return random_text(44, _BASE58)


def payin_extra_id(pay: Currency) -> str | None:
    """The memo / destination tag the customer must send with a payment in ``pay``."""
    return str(100_000_000 + secrets.randbelow(4_000_000_000)) if pay.extra_id else None


class Clock:
    """NOWPayments' times; every reading is later than the one before (updated_at, which an IPN
    receiver dedupes on, changes with every status change even within a millisecond)."""

    def __init__(self) -> None:
        self._last_ms = 0

    def now_ms(self) -> int:
        self._last_ms = max(self._last_ms + 1, int(time.time() * 1000))
        return self._last_ms


def iso_time(epoch_ms: int) -> str:
    """``2020-12-22T15:00:22.742Z``."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def iso_after(epoch_ms: int, seconds: int) -> str:
    later = datetime.fromtimestamp(epoch_ms / 1000, UTC) + timedelta(seconds=seconds)
    return iso_time(int(later.timestamp() * 1000))


def plain(amount: Decimal) -> str:
    """A decimal string without exponent or trailing zeros (``0.00001``, ``10``)."""
    return format(amount.normalize(), "f")


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@dataclass
class Settings(Switches):
    """The sandbox's own settings (``/_sandbox/settings``)."""

    # Where IPNs come from (any 127.0.0.0/8 address; empty: the system's choice).
    ipn_source_address: str = ""
    # expiration_estimate_date of a payment: this long after it was created.
    payment_lifetime_seconds: int = 24 * 3600

    def update(self, changes: Mapping[str, Any]) -> None:
        check_loopback_address("ipn_source_address", changes.get("ipn_source_address"))
        super().update(changes)


@dataclass
class AccountSettings(Switches):
    """An account's settings, as on NOWPayments' dashboard (``/_sandbox/accounts/{id}/settings``).

    ``outcome_currency`` is the currency payments are paid out in (empty: the pay currency);
    ``service_fee_percent`` (a decimal string) is NOWPayments' fee on each payment, in the
    outcome currency; ``ipn_callback_url`` is where IPNs go for a payment that names none.
    """

    outcome_currency: str = ""
    service_fee_percent: str = "0.5"
    ipn_callback_url: str = ""

    def update(self, changes: Mapping[str, Any]) -> None:
        outcome = changes.get("outcome_currency")
        if isinstance(outcome, str) and outcome:
            found = currency(outcome)
            if found is None or not found.crypto:
                raise SwitchError("outcome_currency", f"unknown crypto currency: {outcome}")
        fee = changes.get("service_fee_percent")
        if isinstance(fee, str):
            try:
                percent = Decimal(fee)
            except InvalidOperation:
                percent = Decimal(-1)
            if not percent.is_finite() or not 0 <= percent < 100:
                raise SwitchError(
                    "service_fee_percent", "service_fee_percent must be a decimal 0 <= x < 100"
                )
        url = changes.get("ipn_callback_url")
        if isinstance(url, str) and url and not is_http_url(url):
            raise SwitchError("ipn_callback_url", "ipn_callback_url must be an http(s) URL")
        super().update(changes)
        self.outcome_currency = self.outcome_currency.lower()

    @property
    def fee_percent(self) -> Decimal:
        return Decimal(self.service_fee_percent)


SIGNATURE_FORM_NAMES = ("python", "javascript")


@dataclass
class ChaosSettings(Switches):
    """What may go wrong with an account's IPNs (``/_sandbox/accounts/{id}/chaos``)."""

    duplicate_ipns: int = 0  # extra copies of each IPN
    shuffle_ipns: bool = False  # the IPNs of one status change (and their copies) in any order
    reverse_ipns: bool = False  # ... or newest first
    ipn_delay_seconds: float = 0.0  # each IPN this late
    drop_ipns: bool = False  # no IPN at all (GET /v1/payment still knows)
    unsigned_ipns: bool = False  # no x-nowpayments-sig header
    wrong_signature: bool = False  # x-nowpayments-sig made with another secret
    # Advancing a payment moves nothing: one signed IPN says "finished" (paid in full) while
    # GET /v1/payment still answers the payment's real status.
    forge_finished: bool = False
    signature_form: str = "python"  # or "javascript": see devstack.sandboxes.nowpayments.wire

    def update(self, changes: Mapping[str, Any]) -> None:
        form = changes.get("signature_form")
        if isinstance(form, str) and form not in SIGNATURE_FORM_NAMES:
            raise SwitchError("signature_form", "signature_form must be python or javascript")
        super().update(changes)


@dataclass
class Account:
    """A NOWPayments account (a tenant's): its API key, IPN secret, settings and chaos."""

    account_id: str
    api_key: str
    ipn_secret: str
    settings: AccountSettings = field(default_factory=AccountSettings)
    chaos: ChaosSettings = field(default_factory=ChaosSettings)

    def credentials(self) -> Json:
        """What creating the account answers, the one time its secrets are shown."""
        return {
            "account_id": self.account_id,
            "api_key": self.api_key,
            "ipn_secret": self.ipn_secret,
            "settings": self.settings.as_dict(),
        }

    def public(self) -> Json:
        """What listing shows: never the API key or the IPN secret."""
        return {
            "account_id": self.account_id,
            "settings": self.settings.as_dict(),
            "chaos": self.chaos.as_dict(),
        }


@dataclass
class Ipn:
    """One IPN copy sent: the status it told, the text sent and how it was signed."""

    payment_status: str
    body: str
    signature: str | None
    signature_form: str
    forged: bool
    delivered: bool
    attempts: int

    def view(self) -> Json:
        return {
            "payment_status": self.payment_status,
            "body": self.body,
            "x-nowpayments-sig": self.signature,
            "signature_form": self.signature_form,
            "forged": self.forged,
            "delivered": self.delivered,
            "attempts": self.attempts,
        }


@dataclass
class Payment:
    """A NOWPayments payment; amounts are exact decimals of their currencies."""

    payment_id: int
    account_id: str
    status: str
    price_amount: Decimal
    price_currency: Currency
    pay_amount: Decimal
    pay_currency: Currency
    outcome_currency: Currency
    fee_percent: Decimal
    pay_address: str
    payin_extra_id: str | None
    purchase_id: str
    order_id: str | None
    order_description: str | None
    ipn_callback_url: str | None
    created_at_ms: int
    updated_at_ms: int
    expiration_estimate_date: str
    invoice_id: int | None = None
    actually_paid: Decimal = Decimal(0)
    ipns: list[Ipn] = field(default_factory=list)


@dataclass
class Invoice:
    """A hosted invoice; ``payment_id`` is the payment made for it once a currency is chosen."""

    invoice_id: int
    account_id: str
    price_amount: Decimal
    price_currency: Currency
    pay_currency: Currency | None
    order_id: str | None
    order_description: str | None
    ipn_callback_url: str | None
    success_url: str | None
    cancel_url: str | None
    created_at_ms: int
    payment_id: int | None = None
