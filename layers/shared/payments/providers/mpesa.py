"""M-PESA through Safaricom Daraja: STK push, STK query and the credential test, over stdlib
HTTP (no SDK), with each tenant's own Daraja app.

Every call carries a bearer token from :class:`payments.providers.tokens.TokenBroker`: one token
request per credential set per token lifetime, across containers when the caller passes the
shared store (``MpesaProvider(shared_tokens=...)``), since a newer Daraja token invalidates the
previous one. A ``404.001.03`` (invalid token) answer replaces that token once and retries.
Spike-arrest and quota refusals are retried with backoff within the call's budget. Nothing else
is retried: an STK push that may have reached Daraja is never sent twice.

Errors: the tenant's credentials refused is :class:`ProviderUnavailableError`; a final refusal is
:class:`ProviderRejectedError` with Daraja's ``errorCode``; no final answer is
:class:`ProviderUnreachableError`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from payments.domain.payment import Payment
from payments.domain.states import PaymentStatus
from payments.providers.base import (
    Credentials,
    CredentialTestResult,
    ProviderEvent,
    ProviderRejectedError,
    ProviderUnavailableError,
    ProviderUnreachableError,
    PushAccepted,
    PushRequest,
    WebhookVerificationError,
)
from payments.providers.http_json import JsonHttpClient
from payments.providers.mpesa_spec import (
    CURRENCY,
    NAME,
    SPEC,
    mask_phone,
    normalise_phone,
)
from payments.providers.tokens import AccessToken, SharedTokenStore, TokenBroker

# Daraja's timestamps are Nairobi time; East Africa Time is UTC+3 with no daylight saving.
NAIROBI = timezone(timedelta(hours=3), "EAT")

TRANSACTION_TYPES = {"paybill": "CustomerPayBillOnline", "till": "CustomerBuyGoodsOnline"}

INVALID_TOKEN = "404.001.03"  # noqa: S105 (an error code, not a secret)
BAD_REQUEST = "400.002.02"
MERCHANT_ERROR = "500.001.1001"
SPIKE_ARREST = "500.003.02"
QUOTA_VIOLATION = "500.003.03"
THROTTLED = frozenset({SPIKE_ARREST, QUOTA_VIOLATION})
BEING_PROCESSED = "being processed"
# 500.001.1001 also means "Unable to lock subscriber" and other refusals; these texts are the
# merchant's own credentials (shortcode, passkey) being refused.
_CREDENTIAL_MESSAGES = ("credential", "merchant does not exist", "invalid shortcode")

# A CheckoutRequestID no push has: querying it tells good credentials from bad ones.
MADE_UP_CHECKOUT_REQUEST_ID = "ws_CO_01011970000000000000000"

# What a final ResultCode makes of the payment; any other code is a failure, kept with its text.
RESULT_STATUSES = {
    0: PaymentStatus.SUCCEEDED,
    1032: PaymentStatus.CANCELED,  # the customer cancelled the prompt
    1037: PaymentStatus.EXPIRED,  # the phone could not be reached / no answer in time
    1019: PaymentStatus.EXPIRED,  # the transaction expired
}
CALLBACK_EVENT = "stk_callback"
# How long an STK prompt can wait on the customer's phone (Daraja's duplicate window covers it).
PROMPT_LIFETIME = timedelta(minutes=2)
QUERY_EVENT = "stk_query"
MAX_CALLBACK_BYTES = 64 * 1024

TIMEOUT_SECONDS = 8.0
BUDGET_SECONDS = 12.0  # for one call, retries included; below the API's 29 s
THROTTLE_BACKOFF = (0.5, 1.0, 2.0)


@dataclass(frozen=True, slots=True)
class StkPushAccepted:
    checkout_request_id: str
    merchant_request_id: str
    customer_message: str


@dataclass(frozen=True, slots=True)
class StkQueryResult:
    """What STK query says of a push: still pending, or its ResultCode and text."""

    checkout_request_id: str
    pending: bool
    result_code: int | None = None
    result_desc: str | None = None
    merchant_request_id: str | None = None


@dataclass(frozen=True, slots=True)
class _App:
    consumer_key: str
    consumer_secret: str
    shortcode: str
    passkey: str
    transaction_type: str
    party_b: str
    base_url: str

    @property
    def token_key(self) -> str:
        """The credential set's cache key: a digest, so the secret is not a table key."""
        material = "\n".join((NAME, self.base_url, self.consumer_key, self.consumer_secret))
        return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StkCallback:
    """A Daraja STK callback, as read (nothing in it is proven: Daraja does not sign it)."""

    checkout_request_id: str
    merchant_request_id: str
    result_code: int
    result_desc: str
    amount: int | None = None  # whole shillings, success only
    receipt_number: str | None = None
    phone_number: str | None = None


def status_for(result_code: int) -> PaymentStatus:
    return RESULT_STATUSES.get(result_code, PaymentStatus.FAILED)


def parse_callback(payload: bytes) -> StkCallback:
    """Daraja's callback body, checked for shape; WebhookVerificationError when it is not one.
    Numbers are read as decimals (``"Amount": 1.0``), never floats; metadata items by name."""
    try:
        document = json.loads(payload, parse_float=Decimal)
        callback = document["Body"]["stkCallback"]
        checkout_request_id = callback["CheckoutRequestID"]
        result_code = callback["ResultCode"]
    except (ValueError, KeyError, TypeError):
        raise WebhookVerificationError("malformed_callback: not a Daraja STK callback") from None
    if (
        not isinstance(checkout_request_id, str)
        or not _CHECKOUT_REQUEST_ID.fullmatch(checkout_request_id)
        or isinstance(result_code, bool)
        or not isinstance(result_code, int | str)
        or not str(result_code).isdigit()
    ):
        raise WebhookVerificationError("malformed_callback: bad CheckoutRequestID or ResultCode")
    code = int(result_code)
    items: dict[str, Any] = {}
    metadata = callback.get("CallbackMetadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("Item"), list):
        for entry in metadata["Item"]:
            if isinstance(entry, dict) and isinstance(entry.get("Name"), str):
                items[entry["Name"]] = entry.get("Value")
    amount = _whole_number(items.get("Amount"))
    receipt = items.get("MpesaReceiptNumber")
    phone = _whole_number(items.get("PhoneNumber"))
    if code == 0 and (
        amount is None or not isinstance(receipt, str) or not _RECEIPT.fullmatch(receipt)
    ):
        raise WebhookVerificationError("malformed_callback: success without amount or receipt")
    return StkCallback(
        checkout_request_id=checkout_request_id,
        merchant_request_id=str(callback.get("MerchantRequestID") or "")[:64],
        result_code=code,
        result_desc=str(callback.get("ResultDesc") or "")[:200],
        amount=amount if code == 0 else None,
        receipt_number=receipt if code == 0 else None,
        phone_number=str(phone) if phone is not None else None,
    )


_CHECKOUT_REQUEST_ID = re.compile(r"ws_CO_[A-Za-z0-9_]{1,64}")
_RECEIPT = re.compile(r"[A-Z0-9]{6,20}")


def _whole_number(value: object) -> int | None:
    """A JSON number (or digits) that is whole: Daraja writes 1.0 for one shilling."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int | Decimal):
        number = Decimal(value)
        if number == number.to_integral_value() and number >= 0:
            return int(number)
    return None


def result_details(result_code: int, result_desc: str) -> dict[str, str]:
    return {"result_code": str(result_code), "result_desc": result_desc}


def nairobi_timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    """Daraja's ``Password``: base64 of shortcode + passkey + timestamp."""
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode("ascii")


def error_for(status: int, payload: Mapping[str, Any]) -> Exception:
    """Our exception for a Daraja error answer (pure: unit-tested on Daraja's shapes)."""
    code = payload.get("errorCode")
    code = str(code) if code is not None else None
    message = str(payload.get("errorMessage") or "")
    if code in THROTTLED:
        return ProviderUnreachableError(f"Daraja is throttling requests ({code}); retry later")
    if code == INVALID_TOKEN:
        return ProviderUnavailableError(
            "Daraja refused a new access token for this app: check the environment"
        )
    if code == MERCHANT_ERROR and any(text in message.lower() for text in _CREDENTIAL_MESSAGES):
        return ProviderUnavailableError(f"Daraja refused the shortcode or passkey ({message})")
    if code is not None and (400 <= status < 500 or code == MERCHANT_ERROR):
        return ProviderRejectedError(
            f"Daraja refused the request: {message or code}", provider_code=code
        )
    return ProviderUnreachableError(f"Daraja did not give a final answer (HTTP {status})")


class MpesaProvider:
    name = NAME

    def __init__(
        self,
        *,
        shared_tokens: SharedTokenStore | None = None,
        timeout: float = TIMEOUT_SECONDS,
        budget_seconds: float = BUDGET_SECONDS,
        throttle_backoff: Sequence[float] = THROTTLE_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.tokens = TokenBroker(shared_tokens)
        self._http = JsonHttpClient("Daraja", timeout=timeout)
        self._budget = budget_seconds
        self._backoff = tuple(throttle_backoff)
        self._sleep = sleep

    # --- the capabilities, in the system's own terms ----------------------------------------

    def push_payment(self, credentials: Credentials, request: PushRequest) -> PushAccepted:
        payment = request.payment
        accepted = self.stk_push(
            credentials,
            amount=int(payment.amount),
            phone_number=request.phone_number,
            account_reference=request.account_reference,
            transaction_desc=request.description,
            callback_url=request.callback_url,
        )
        return PushAccepted(
            provider_ref=accepted.checkout_request_id,
            customer_message=accepted.customer_message,
            details={
                "checkout_request_id": accepted.checkout_request_id,
                "merchant_request_id": accepted.merchant_request_id,
                "phone_masked": mask_phone(request.phone_number),
            },
        )

    def verify_webhook(
        self, credentials: Credentials, payload: bytes, headers: Mapping[str, str]
    ) -> ProviderEvent:
        """Read a callback (unsigned: the pipeline's token check and :meth:`confirm_webhook`
        decide whether it counts). One event per CheckoutRequestID and ResultCode, so a
        repeated callback is a duplicate."""
        if len(payload) > MAX_CALLBACK_BYTES:
            raise WebhookVerificationError("malformed_callback: too large")
        callback = parse_callback(payload)
        details = result_details(callback.result_code, callback.result_desc)
        if callback.receipt_number:
            details["receipt_number"] = callback.receipt_number
        return ProviderEvent(
            event_id=f"{callback.checkout_request_id}:{callback.result_code}",
            event_type=CALLBACK_EVENT,
            provider_refs=(callback.checkout_request_id,),
            requested_status=status_for(callback.result_code),
            capture_ref=callback.receipt_number,
            amount=SPEC.units.from_provider(callback.amount, CURRENCY)
            if callback.amount is not None
            else None,
            currency=CURRENCY if callback.amount is not None else None,
            details=details,
            payer=callback.phone_number,
        )

    def confirm_webhook(
        self, credentials: Credentials, payment: Payment, event: ProviderEvent
    ) -> ProviderEvent:
        """A callback counts only if it is about this payment as we sent it (CheckoutRequestID,
        amount, phone) and an STK query with the tenant's credentials gives the same result."""
        checkout_request_id = payment.provider_ref
        if checkout_request_id is None or checkout_request_id not in event.provider_refs:
            raise WebhookVerificationError("checkout_request_mismatch")
        if event.amount is not None and (event.amount, event.currency) != (
            payment.amount,
            payment.currency,
        ):
            raise WebhookVerificationError("amount_mismatch")
        if event.payer is not None and event.payer != payment.customer.phone:
            raise WebhookVerificationError("phone_mismatch")
        result = self.stk_query(credentials, checkout_request_id)
        if result.pending:
            raise WebhookVerificationError("not_confirmed: Daraja says the push is still open")
        claimed = event.details.get("result_code")
        if str(result.result_code) != claimed:
            raise WebhookVerificationError(
                f"not_confirmed: the callback says {claimed}, Daraja says {result.result_code}"
            )
        return event

    def check_payment(
        self, credentials: Credentials, payment: Payment
    ) -> tuple[ProviderEvent, dict[str, object]] | None:
        """Daraja's word (STK query) on an open push; None while it is still being processed.
        A payment whose push never got a CheckoutRequestID (Daraja's answer was lost) cannot
        be asked about and has long outlived any prompt: it expires."""
        checkout_request_id = payment.provider_ref
        if checkout_request_id is None:
            if datetime.now(UTC) - payment.updated_at < PROMPT_LIFETIME:
                return None  # a lost answer's prompt may still be on the customer's phone
            details = result_details(1019, "the push was never acknowledged by Daraja")
            event = ProviderEvent(
                event_id=f"unacknowledged:{payment.payment_id}",
                event_type=QUERY_EVENT,
                payment_id=payment.payment_id,
                requested_status=PaymentStatus.EXPIRED,
                details=details,
            )
            return event, {"payment_id": payment.payment_id, **details}
        result = self.stk_query(credentials, checkout_request_id)
        if result.pending or result.result_code is None:
            return None
        details = result_details(result.result_code, result.result_desc or "")
        event = ProviderEvent(
            event_id=f"query:{checkout_request_id}:{result.result_code}",
            event_type=QUERY_EVENT,
            provider_refs=(checkout_request_id,),
            requested_status=status_for(result.result_code),
            details=details,
        )
        return event, {"CheckoutRequestID": checkout_request_id, **details}

    # --- STK push and query ----------------------------------------------------------------

    def stk_push(
        self,
        credentials: Credentials,
        *,
        amount: int,
        phone_number: str,
        account_reference: str,
        transaction_desc: str,
        callback_url: str,
    ) -> StkPushAccepted:
        """Prompt ``phone_number`` to pay ``amount`` (KES cents, whole shillings) to the
        tenant's PayBill or Till. InvalidPhoneNumberError / AmountNotSupportedError before
        anything is sent."""
        app = self._app(credentials)
        phone = normalise_phone(phone_number)
        shillings = SPEC.units.to_provider(amount, CURRENCY)
        timestamp = nairobi_timestamp()
        body = {
            "BusinessShortCode": app.shortcode,
            "Password": stk_password(app.shortcode, app.passkey, timestamp),
            "Timestamp": timestamp,
            "TransactionType": TRANSACTION_TYPES[app.transaction_type],
            "Amount": shillings,
            "PartyA": phone,
            "PartyB": app.party_b,
            "PhoneNumber": phone,
            "CallBackURL": callback_url,
            "AccountReference": account_reference,
            "TransactionDesc": transaction_desc,
        }
        status, payload = self._api(app, "/mpesa/stkpush/v1/processrequest", body)
        if status != 200 or str(payload.get("ResponseCode")) != "0":
            raise self._refusal(status, payload)
        return StkPushAccepted(
            checkout_request_id=str(payload["CheckoutRequestID"]),
            merchant_request_id=str(payload.get("MerchantRequestID", "")),
            customer_message=str(payload.get("CustomerMessage", "")),
        )

    def stk_query(self, credentials: Credentials, checkout_request_id: str) -> StkQueryResult:
        """Daraja's word on a push; "the transaction is being processed" is ``pending``."""
        app = self._app(credentials)
        timestamp = nairobi_timestamp()
        body = {
            "BusinessShortCode": app.shortcode,
            "Password": stk_password(app.shortcode, app.passkey, timestamp),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
        }
        status, payload = self._api(app, "/mpesa/stkpushquery/v1/query", body)
        message = str(payload.get("errorMessage") or "").lower()
        if payload.get("errorCode") == MERCHANT_ERROR and BEING_PROCESSED in message:
            return StkQueryResult(checkout_request_id, pending=True)
        result_code = payload.get("ResultCode")
        if status != 200 or str(payload.get("ResponseCode")) != "0" or result_code is None:
            raise self._refusal(status, payload)
        try:
            code = int(str(result_code))
        except ValueError:
            raise ProviderUnreachableError("Daraja answered an unreadable ResultCode") from None
        return StkQueryResult(
            checkout_request_id,
            pending=False,
            result_code=code,
            result_desc=str(payload.get("ResultDesc") or ""),
            merchant_request_id=_optional_str(payload.get("MerchantRequestID")),
        )

    # --- credential test -------------------------------------------------------------------

    def test_credentials(self, credentials: Credentials) -> CredentialTestResult:
        """An OAuth token for the consumer key and secret, then an STK query of a made-up
        CheckoutRequestID: Daraja checks the shortcode and passkey (the Password) before it
        looks the id up, so "no such id" means all four were accepted."""
        try:
            app = self._app(credentials)
        except ProviderUnavailableError as error:
            return CredentialTestResult(False, "invalid_credentials", str(error))
        if app.transaction_type == "paybill" and app.party_b != app.shortcode:
            return CredentialTestResult(
                False, "invalid_credentials", "for a paybill, party_b must be the shortcode"
            )
        try:
            self._token(app)
        except ProviderUnavailableError:
            return CredentialTestResult(
                False, "invalid_credentials", "Daraja refused the consumer key and secret"
            )
        except ProviderUnreachableError:
            return _unreachable()
        try:
            self.stk_query(credentials, MADE_UP_CHECKOUT_REQUEST_ID)
        except ProviderRejectedError as error:
            if error.provider_code != BAD_REQUEST:
                return CredentialTestResult(False, "invalid_credentials", str(error))
        except ProviderUnavailableError:
            return CredentialTestResult(
                False,
                "invalid_credentials",
                "Daraja accepted the consumer key and secret but refused the shortcode or passkey",
            )
        except ProviderUnreachableError:
            return _unreachable()
        return CredentialTestResult(
            True, "ok", "Daraja accepted the consumer key and secret, shortcode and passkey"
        )

    # --- HTTP ------------------------------------------------------------------------------

    def _app(self, credentials: Credentials) -> _App:
        credentials.require(str(SPEC.environment_field))
        base = SPEC.api_base(credentials.values)
        transaction_type = credentials.require("transaction_type")
        if transaction_type not in TRANSACTION_TYPES:
            raise ProviderUnavailableError(f"unknown transaction_type {transaction_type!r}")
        return _App(
            consumer_key=credentials.require("consumer_key"),
            consumer_secret=credentials.require("consumer_secret"),
            shortcode=credentials.require("shortcode"),
            passkey=credentials.require("passkey"),
            transaction_type=transaction_type,
            party_b=credentials.require("party_b"),
            base_url=base.rstrip("/"),
        )

    def _token(self, app: _App, rejected: AccessToken | None = None) -> AccessToken:
        return self.tokens.token(app.token_key, lambda: self._fetch_token(app), rejected=rejected)

    def _fetch_token(self, app: _App) -> tuple[str, float]:
        basic = base64.b64encode(f"{app.consumer_key}:{app.consumer_secret}".encode()).decode()
        url = f"{app.base_url}/oauth/v1/generate?grant_type=client_credentials"
        status, payload = self._throttled(
            lambda: self._send("GET", url, {"Authorization": f"Basic {basic}"}, None),
            time.monotonic() + self._budget,
        )
        if status == 200 and isinstance(payload.get("access_token"), str):
            try:
                lifetime = float(str(payload.get("expires_in", "3599")))
            except ValueError:
                lifetime = 3599.0
            return payload["access_token"], lifetime
        if status in (400, 401, 403):
            raise ProviderUnavailableError("Daraja refused this tenant's consumer key and secret")
        raise error_for(status, payload)

    def _api(self, app: _App, path: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST ``body`` with a bearer token; a refused token is replaced once."""
        deadline = time.monotonic() + self._budget
        data = json.dumps(body).encode()
        token = self._token(app)
        for attempt in range(2):

            def send(value: str = token.value) -> tuple[int, dict[str, Any]]:
                headers = {"Authorization": f"Bearer {value}", "Content-Type": "application/json"}
                return self._send("POST", f"{app.base_url}{path}", headers, data)

            status, payload = self._throttled(send, deadline)
            if payload.get("errorCode") != INVALID_TOKEN or attempt:
                return status, payload
            token = self._token(app, rejected=token)
        raise AssertionError("unreachable")  # pragma: no cover

    def _throttled(
        self, send: Callable[[], tuple[int, dict[str, Any]]], deadline: float
    ) -> tuple[int, dict[str, Any]]:
        """``send``, again after each backoff pause while Daraja answers spike arrest or quota
        and the budget allows; those answers mean the request was not processed."""
        for pause in (*self._backoff, None):
            status, payload = send()
            if payload.get("errorCode") not in THROTTLED:
                return status, payload
            if pause is None or time.monotonic() + pause >= deadline:
                break
            self._sleep(pause)
        raise error_for(status, payload)

    def _send(
        self, method: str, url: str, headers: Mapping[str, str], data: bytes | None
    ) -> tuple[int, dict[str, Any]]:
        response = self._http.send(method, url, headers, data)
        return response.status, response.body

    @staticmethod
    def _refusal(status: int, payload: Mapping[str, Any]) -> Exception:
        if "errorCode" in payload:
            return error_for(status, payload)
        code = payload.get("ResponseCode")
        if status == 200 and code is not None:
            return ProviderRejectedError(
                f"Daraja refused the request: {payload.get('ResponseDescription') or code}",
                provider_code=str(code),
            )
        return ProviderUnreachableError(f"Daraja answered HTTP {status} without a result")


def _optional_str(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _unreachable() -> CredentialTestResult:
    return CredentialTestResult(False, "provider_unreachable", "Daraja did not answer; test again")
