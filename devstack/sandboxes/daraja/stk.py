"""STK push (``POST /mpesa/stkpush/v1/processrequest``) and STK query
(``POST /mpesa/stkpushquery/v1/query``), checked the way Daraja checks them.

A push is checked in this order: bearer token (``404.001.03``), quota and spike arrest
(``500.003.03``, ``500.003.02``), the JSON body and every required field (``400.002.02``
``Bad Request - Invalid <Field>``: Timestamp ``YYYYMMDDHHmmss`` in Nairobi time within
``settings.timestamp_window_seconds`` of now, Amount a whole number 1..250000, PartyA and
PhoneNumber ``2547XXXXXXXX``/``2541XXXXXXXX``, AccountReference 1..12 and TransactionDesc 1..13
characters, CallBackURL http(s)), then the merchant (``500.001.1001``: ``Merchant does not
exist`` for a shortcode that is not the app's, ``Wrong credentials`` for a Password that is not
base64(shortcode + passkey + Timestamp)). A push whose PartyB does not fit its TransactionType
(PayBill: the shortcode; Buy Goods: the app's till) is accepted and then fails at once with
ResultCode 2028, as Daraja reports it: in the callback, not in the answer.

STK query checks the same merchant fields; a CheckoutRequestID this app never pushed answers
``400.002.02`` ``Bad Request - Invalid CheckoutRequestID`` (so a query of a made-up id tells good
credentials from bad ones), a push still waiting for the customer answers HTTP 500
``500.001.1001`` ``The transaction is being processed``, a finished one its ResultCode.
"""

from __future__ import annotations

import base64
import hmac
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from devstack.http_server import Response
from devstack.sandboxes.daraja.callbacks import Callbacks
from devstack.sandboxes.daraja.errors import (
    BAD_REQUEST,
    BEING_PROCESSED,
    UNKNOWN_MERCHANT,
    WRONG_CREDENTIALS,
    DarajaError,
    bad_field,
    merchant_error,
)
from devstack.sandboxes.daraja.objects import (
    MAX_ACCOUNT_REFERENCE,
    MAX_AMOUNT,
    MAX_TRANSACTION_DESC,
    MIN_AMOUNT,
    NAIROBI,
    PAYBILL,
    RESULT_NOT_PERMITTED,
    TIMESTAMP_FORMAT,
    TRANSACTION_TYPES,
    AppState,
    Push,
    checkout_request_id,
    merchant_request_id,
    nairobi_now,
    nairobi_timestamp,
)
from devstack.sandboxes.kit import Json, Request

ACCEPTED = "Success. Request accepted for processing"
QUERY_ACCEPTED = "The service request has been accepted successsfully"  # sic: Daraja's spelling

_PHONE = re.compile(r"254[71]\d{8}")
_DIGITS = re.compile(r"\d{1,12}")
_TIMESTAMP = re.compile(r"\d{14}")


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    """Daraja's ``Password``: base64 of shortcode + passkey + timestamp."""
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode("ascii")


def _number_text(body: Json, name: str) -> str:
    """A field Daraja takes as a number or a string of digits, as its digits."""
    value: Any = body.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or _DIGITS.fullmatch(value) is None:
        raise bad_field(name)
    return value


def _text(body: Json, name: str, max_length: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise bad_field(name)
    return value


def _phone(body: Json, name: str) -> str:
    value = _number_text(body, name)
    if _PHONE.fullmatch(value) is None:
        raise bad_field(name)
    return value


def _amount(body: Json) -> int:
    amount = int(_number_text(body, "Amount"))
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        raise bad_field("Amount")
    return amount


def _callback_url(body: Json) -> str:
    value = body.get("CallBackURL")
    if not isinstance(value, str) or len(value) > 2048:
        raise bad_field("CallBackURL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_field("CallBackURL")
    return value


class Stk(Callbacks):
    """The STK push and STK query API."""

    def _json_body(self, request: Request) -> Json:
        if request.media_type != "application/json":
            raise DarajaError(400, BAD_REQUEST, "Bad Request - Invalid Content-Type")
        try:
            return request.json_object()
        except ValueError:
            raise DarajaError(400, BAD_REQUEST, "Bad Request - Invalid JSON") from None

    def _timestamp(self, body: Json) -> str:
        value = body.get("Timestamp")
        if not isinstance(value, str) or _TIMESTAMP.fullmatch(value) is None:
            raise bad_field("Timestamp")
        try:
            moment = datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=NAIROBI)
        except ValueError:
            raise bad_field("Timestamp") from None
        age = abs((nairobi_now() - moment).total_seconds())
        if age > self.settings.timestamp_window_seconds:
            raise bad_field("Timestamp")
        return value

    def _merchant_fields(self, body: Json) -> tuple[str, str, str]:
        """BusinessShortCode, Timestamp and Password, each well-formed (else 400)."""
        shortcode = _number_text(body, "BusinessShortCode")
        password = body.get("Password")
        if not isinstance(password, str) or not password:
            raise bad_field("Password")
        return shortcode, self._timestamp(body), password

    @staticmethod
    def _check_merchant(state: AppState, shortcode: str, timestamp: str, password: str) -> None:
        """The shortcode is the app's and the Password was built with its passkey (else 500)."""
        if shortcode != state.app.shortcode:
            raise merchant_error(UNKNOWN_MERCHANT)
        expected = stk_password(shortcode, state.app.passkey, timestamp)
        if not hmac.compare_digest(password.encode(), expected.encode()):
            raise merchant_error(WRONG_CREDENTIALS)

    # ----------------------------------------------------------------- STK push

    def _api_stk_push(self, request: Request) -> Response:
        state = self._bearer(request)
        self._throttle(state, push=True)
        body = self._json_body(request)
        # Every field's form first (400s), then whether it is this merchant's (500s).
        shortcode, timestamp, password = self._merchant_fields(body)
        transaction_type = body.get("TransactionType")
        if transaction_type not in TRANSACTION_TYPES:
            raise bad_field("TransactionType")
        amount = _amount(body)
        party_a = _phone(body, "PartyA")
        party_b = _number_text(body, "PartyB")
        phone_number = _phone(body, "PhoneNumber")
        callback_url = _callback_url(body)
        account_reference = _text(body, "AccountReference", MAX_ACCOUNT_REFERENCE)
        transaction_desc = _text(body, "TransactionDesc", MAX_TRANSACTION_DESC)
        self._check_merchant(state, shortcode, timestamp, password)

        now = nairobi_now()
        push = Push(
            checkout_request_id=checkout_request_id(now),
            merchant_request_id=merchant_request_id(),
            consumer_key=state.app.consumer_key,
            shortcode=shortcode,
            transaction_type=str(transaction_type),
            party_a=party_a,
            party_b=party_b,
            phone_number=phone_number,
            amount=amount,
            account_reference=account_reference,
            transaction_desc=transaction_desc,
            callback_url=callback_url,
            created_at=nairobi_timestamp(now),
        )
        expected_party_b = state.app.shortcode if transaction_type == PAYBILL else state.app.till
        with self._lock:
            self._pushes[push.checkout_request_id] = push
            if party_b != expected_party_b:
                self._complete(push, RESULT_NOT_PERMITTED)
        return self.json(
            200,
            {
                "MerchantRequestID": push.merchant_request_id,
                "CheckoutRequestID": push.checkout_request_id,
                "ResponseCode": "0",
                "ResponseDescription": ACCEPTED,
                "CustomerMessage": ACCEPTED,
            },
        )

    # ----------------------------------------------------------------- STK query

    def _api_stk_query(self, request: Request) -> Response:
        state = self._bearer(request)
        self._throttle(state, push=False)
        body = self._json_body(request)
        self._check_merchant(state, *self._merchant_fields(body))
        checkout_id = body.get("CheckoutRequestID")
        if not isinstance(checkout_id, str) or not checkout_id:
            raise bad_field("CheckoutRequestID")
        with self._lock:
            push = self._pushes.get(checkout_id)
            if push is None or push.consumer_key != state.app.consumer_key:
                raise bad_field("CheckoutRequestID")
            if push.result_code is None:
                raise merchant_error(BEING_PROCESSED)
            return self.json(
                200,
                {
                    "ResponseCode": "0",
                    "ResponseDescription": QUERY_ACCEPTED,
                    "MerchantRequestID": push.merchant_request_id,
                    "CheckoutRequestID": push.checkout_request_id,
                    "ResultCode": str(push.result_code),
                    "ResultDesc": push.result_desc,
                },
            )
