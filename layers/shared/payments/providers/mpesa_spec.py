"""M-PESA (Safaricom Daraja STK push), as the rest of the system sees it: a push payment to a
tenant's own PayBill or Till, on the tenant's own Daraja app.

The adapter (payments.providers.mpesa, stdlib HTTP only) is loaded by the factory on first use.
Phone numbers are normalised here, beside the rest of M-PESA's rules, so a use case can refuse a
bad number before anything is sent.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import TYPE_CHECKING

from payments.providers.spec import (
    AmountNotSupportedError,
    CredentialField,
    Limits,
    ProviderSpec,
    WebhookAnswer,
    WebhookReply,
    WebhookSecurity,
    monogram_icon,
)

if TYPE_CHECKING:
    from payments.providers.mpesa import MpesaProvider

NAME = "mpesa"
CURRENCY = "KES"
MAX_AMOUNT_KES = 250_000  # Daraja's ceiling for one STK push, in whole shillings
MAX_ACCOUNT_REFERENCE = 12
MAX_TRANSACTION_DESC = 13

_SAFARICOM_NUMBER = re.compile(r"254[71]\d{8}")


class InvalidPhoneNumberError(ValueError):
    """Not a number M-PESA can prompt (a Safaricom 2547XXXXXXXX or 2541XXXXXXXX)."""


def normalise_phone(raw: str) -> str:
    """A customer's phone number as Daraja wants it, ``2547XXXXXXXX`` or ``2541XXXXXXXX``.

    Separators and a leading ``+`` go; a national ``07...``/``01...`` or a bare ``7...``/``1...``
    gets the 254 country code. Anything else is InvalidPhoneNumberError.
    """
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 10 and digits[:2] in ("07", "01"):
        digits = "254" + digits[1:]
    elif len(digits) == 9 and digits[0] in "71":
        digits = "254" + digits
    if _SAFARICOM_NUMBER.fullmatch(digits) is None:
        raise InvalidPhoneNumberError(
            "not a Safaricom M-PESA number (2547XXXXXXXX or 2541XXXXXXXX)"
        )
    return digits


def mask_phone(phone: str) -> str:
    """What a receipt may show of a phone number: ``2547******49``."""
    return f"{phone[:4]}{'*' * (len(phone) - 6)}{phone[-2:]}" if len(phone) > 6 else "******"


class MpesaUnits:
    """Our KES cents <-> Daraja's whole shillings; M-PESA takes no other currency."""

    def to_provider(self, amount: int, currency: str) -> int:
        _check_currency(currency)
        if amount % 100:
            raise AmountNotSupportedError("M-PESA takes whole shillings (multiples of 100 cents)")
        return amount // 100

    def from_provider(self, amount: int, currency: str) -> int:
        _check_currency(currency)
        return amount * 100


def _check_currency(currency: str) -> None:
    if currency.upper() != CURRENCY:
        raise AmountNotSupportedError(f"M-PESA takes KES only, not {currency.upper()}")


def daraja_webhook_reply(answer: WebhookAnswer) -> WebhookReply:
    """Daraja's acknowledgement, always 200: a refused callback is recorded on our side, and
    any other answer only makes Daraja try again."""
    return WebhookReply(200, json.dumps({"ResultCode": 0, "ResultDesc": "Accepted"}))


@cache
def _adapter() -> MpesaProvider:
    from payments.providers.mpesa import MpesaProvider

    return MpesaProvider()


SPEC = ProviderSpec(
    name=NAME,
    display_name="M-PESA",
    icon=monogram_icon("M", "#43b02a"),
    webhook_security=WebhookSecurity(
        algorithm=WebhookSecurity.UNSIGNED,
        checks=(
            "per-payment callback URL token (256 random bits, stored hashed on the payment)",
            "source-IP allow-list (Safaricom's published callback addresses)",
            "STK push query to Daraja confirms the outcome before it counts",
        ),
    ),
    credential_fields=(
        CredentialField(
            "consumer_key",
            "the Consumer Key of the tenant's Daraja app",
            pattern=r"[A-Za-z0-9]{8,128}",
        ),
        CredentialField(
            "consumer_secret",
            "the Consumer Secret of the tenant's Daraja app",
            pattern=r"[A-Za-z0-9]{8,128}",
        ),
        CredentialField(
            "shortcode",
            "the BusinessShortCode the pushes are for (PayBill number, or the Till's store "
            "number), digits",
            secret=False,
            pattern=r"\d{5,7}",
        ),
        CredentialField(
            "passkey",
            "the Lipa na M-PESA Online passkey of that shortcode",
            pattern=r"[ -~]{8,128}",
        ),
        CredentialField(
            "transaction_type",
            "paybill (CustomerPayBillOnline) or till (CustomerBuyGoodsOnline)",
            secret=False,
            choices=("paybill", "till"),
        ),
        CredentialField(
            "party_b",
            "who receives the money: the till number for till, else the shortcode, digits",
            secret=False,
            pattern=r"\d{5,7}",
        ),
        CredentialField(
            "environment",
            "sandbox or production: the Daraja the app belongs to",
            secret=False,
            choices=("sandbox", "production"),
        ),
    ),
    push_payment=_adapter,
    sweep=_adapter,
    webhooks=_adapter,
    webhook_confirmation=_adapter,
    credential_test=_adapter,
    units=MpesaUnits(),
    limits=Limits(max_amount=MAX_AMOUNT_KES),
    webhook_reply=daraja_webhook_reply,
    webhook_path_token=True,
    # A prompt lives about a minute and a callback that has not come in a few is not coming.
    sweep_after_minutes=3,
    base_urls={
        "sandbox": "https://sandbox.safaricom.co.ke",
        "production": "https://api.safaricom.co.ke",
    },
    environment_field="environment",
)
