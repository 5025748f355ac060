"""NEO Bank: customer registration, security-token trades, their status and signed webhooks,
over stdlib HTTP (payments.providers.http_json), every request signed with the tenant's key
(payments.providers.neobank_signing). The contract is docs/providers/neobank.md.

Webhooks: ``X-Neo-Signature`` is RSASSA-PKCS1-v1_5 SHA-256 by the bank's key over
``X-Neo-Timestamp + "." + body``, verified with the tenant's ``bank_public_key_pem``, and the
timestamp must be within 300 s of our clock either way. A status happens once per object, so the
event id is ``<tx_id>:<status>``; the sweeper's answer for the same status has the same id, and
whichever arrives second is a duplicate.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from payments.config import get_settings
from payments.domain.payment import Payment
from payments.domain.settlement import SETTLEMENT_DUE_AT, moment_text, settlement_due
from payments.domain.states import PaymentStatus
from payments.money import Money, MoneyError
from payments.providers import neobank_spec as names
from payments.providers.base import (
    Credentials,
    CredentialTestResult,
    CustomerRegistration,
    ProviderError,
    ProviderEvent,
    ProviderRejectedError,
    ProviderUnavailableError,
    ProviderUnreachableError,
    SubjectEvent,
    TokenTradeRequest,
    TradeAccepted,
    WebhookVerificationError,
    check_signed_timestamp,
)
from payments.providers.http_json import RETRYABLE_STATUSES, JsonHttpClient, encode
from payments.providers.neobank_signing import signature_header, signer_for
from payments.providers.neobank_spec import NAME, SIGNATURE_HEADER, SPEC, TIMESTAMP_HEADER

TIMEOUT_SECONDS = 5.0
PAYMENT_EVENT = "payment.status"
REGISTRATION_EVENT = "registration.status"
PAYMENT_STATUSES: Mapping[str, PaymentStatus] = {
    "SUCCESS": PaymentStatus.SUCCEEDED,
    "SETTLED": PaymentStatus.SETTLED,
    "FAILED": PaymentStatus.FAILED,
}
REGISTRATION_STATUSES = {"VERIFIED": "verified", "REJECTED": "rejected"}
_TX_ID = re.compile(r"TXN-[A-Za-z0-9]{1,64}")
_CPRN = re.compile(r"CPRN-[A-Za-z0-9]{1,64}")
_ISO_CODE = re.compile(r"[A-Z]{3}")
# 401s that mean our key or client id is not the one the bank knows: the tenant's setup.
_CREDENTIAL_REFUSALS = frozenset({"unknown_client", "invalid_signature", "stale_timestamp"})


def signed_message(method: str, path: str, timestamp: int, request_id: str, body: bytes) -> bytes:
    """What our request signature covers (docs/providers/neobank.md)."""
    return f"{method.upper()}\n{path}\n{timestamp}\n{request_id}\n".encode() + body


def webhook_message(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode("ascii") + b"." + body


@lru_cache(maxsize=64)
def _public_key(pem: str) -> Any:
    from Crypto.PublicKey import RSA

    return RSA.import_key(pem)


def verify_bank_signature(public_key_pem: str, message: bytes, signature_b64: str) -> bool:
    from Crypto.Hash import SHA256
    from Crypto.Signature import pkcs1_15

    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
        key = _public_key(public_key_pem)
    except (binascii.Error, ValueError, IndexError, TypeError):
        return False
    try:
        pkcs1_15.new(key).verify(SHA256.new(message), signature)
    except (ValueError, TypeError):
        return False
    return True


class NeoBankProvider:
    name = NAME

    def __init__(self, timeout: float = TIMEOUT_SECONDS) -> None:
        self._http = JsonHttpClient("NEO Bank", timeout=timeout)

    # --- calls ---------------------------------------------------------------------------

    def register_customer(
        self,
        credentials: Credentials,
        *,
        reference: str,
        email: str,
        name: str,
        wallet_address: str,
    ) -> CustomerRegistration:
        body = {
            "reference": reference,
            "email": email,
            "name": name,
            "wallet_address": wallet_address,
        }
        return _registration(self._call(credentials, "POST", "/v1/registrations", body))

    def registration(self, credentials: Credentials, provider_ref: str) -> CustomerRegistration:
        path = f"/v1/registrations/{quote(provider_ref, safe='')}"
        return _registration(self._call(credentials, "GET", path, None))

    def initiate_trade(self, credentials: Credentials, request: TokenTradeRequest) -> TradeAccepted:
        payment = request.payment
        body = {
            "reference": payment.payment_id,
            "cprn": request.customer_ref,
            "amount": Money(int(payment.amount), payment.currency).to_decimal_string(),
            "currency": payment.currency,
            "description": request.description,
            "token": {
                "contract_address": request.token_contract_address,
                "symbol": request.token_symbol,
                "quantity": format(request.token_quantity, "f"),
            },
        }
        answer = self._call(credentials, "POST", "/v1/payments", body)
        tx_id = answer.get("tx_id")
        if not isinstance(tx_id, str) or not _TX_ID.fullmatch(tx_id):
            raise ProviderUnreachableError("NEO Bank answered a payment without a valid tx_id")
        return TradeAccepted(tx_id, str(answer.get("status", "PENDING")))

    def check_payment(
        self, credentials: Credentials, payment: Payment
    ) -> tuple[ProviderEvent, dict[str, object]] | None:
        tx_id = payment.provider_ref
        if not tx_id:
            return None
        answer = self._call(credentials, "GET", f"/v1/payments/{quote(tx_id, safe='')}", None)
        status = str(answer.get("status", ""))
        if status not in PAYMENT_STATUSES:
            return None  # PENDING: still open
        moment = answer.get("settled_at") if status == "SETTLED" else answer.get("cleared_at")
        event = _payment_event(
            {**answer, "occurred_at": moment or _now_text()}, source="payment_check"
        )
        return event, dict(answer)

    def test_credentials(self, credentials: Credentials) -> CredentialTestResult:
        try:
            answer = self._call(credentials, "GET", "/v1/account", None)
        except (ProviderUnavailableError, UnverifiedAnswerError) as error:
            return CredentialTestResult(False, "invalid_credentials", str(error))
        except ProviderUnreachableError as error:
            return CredentialTestResult(False, "provider_unreachable", str(error))
        except ProviderError as error:
            return CredentialTestResult(False, error.code, str(error))
        if answer.get("client_id") != credentials.values.get("client_id"):
            return CredentialTestResult(
                False, "invalid_credentials", "NEO Bank answered for another client id"
            )
        return CredentialTestResult(True, "ok", "NEO Bank accepted the signed request")

    # --- webhooks ------------------------------------------------------------------------

    def verify_webhook(
        self, credentials: Credentials, payload: bytes, headers: Mapping[str, str]
    ) -> ProviderEvent:
        signature = headers.get(SIGNATURE_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER)
        if not signature or not timestamp:
            raise WebhookVerificationError("missing_signature")
        if not re.fullmatch(r"[0-9]{1,12}", timestamp.strip()):
            raise WebhookVerificationError("malformed_timestamp")
        public_key = credentials.require("bank_public_key_pem")
        if not verify_bank_signature(
            public_key, webhook_message(timestamp.strip(), payload), signature
        ):
            raise WebhookVerificationError("signature_mismatch")
        try:
            check_signed_timestamp(int(timestamp), time.time())
        except WebhookVerificationError:
            raise WebhookVerificationError("stale_timestamp") from None
        try:
            body = json.loads(payload, parse_float=Decimal)
        except ValueError:
            raise WebhookVerificationError("malformed_payload") from None
        if not isinstance(body, dict):
            raise WebhookVerificationError("malformed_payload")
        kind = body.get("type")
        if kind == PAYMENT_EVENT:
            return _payment_event(body, source="webhook")
        if kind == REGISTRATION_EVENT:
            return _registration_event(body)
        # Signed, but nothing we know: recorded and acknowledged (ignored).
        return ProviderEvent(event_id=_fallback_id(payload), event_type=str(kind or "unknown"))

    # --- HTTP ----------------------------------------------------------------------------

    def _call(
        self, credentials: Credentials, method: str, path: str, body: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        data = encode(body) if body is not None else b""
        timestamp = int(time.time())
        request_id = f"req_{uuid.uuid4().hex}"
        message = signed_message(method, path, timestamp, request_id, data)
        headers = {
            "X-Neo-Client-Id": credentials.require("client_id"),
            "X-Neo-Timestamp": str(timestamp),
            "X-Neo-Request-Id": request_id,
            "X-Neo-Signature": signature_header(signer_for(credentials), message),
            "Accept": "application/json",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        base = SPEC.api_base(credentials.values).rstrip("/")
        response = self._http.send(method, base + path, headers, data if body is not None else None)
        _check_answer(credentials, response.raw, response.headers)
        if response.ok:
            return response.body
        error = response.body.get("error")
        code = str(error.get("code")) if isinstance(error, dict) and error.get("code") else None
        message_text = str(error.get("message", "")) if isinstance(error, dict) else ""
        described = f"{code or f'HTTP {response.status}'}" + (
            f": {message_text}" if message_text else ""
        )
        if response.status in RETRYABLE_STATUSES or response.status >= 500:
            raise ProviderUnreachableError(f"NEO Bank did not give a final answer ({described})")
        if response.status == 401 or code in _CREDENTIAL_REFUSALS:
            raise ProviderUnavailableError(f"NEO Bank refused our signed request ({described})")
        if code == "duplicate_request_id":
            # Never ours to repeat (a new id every request): the bank saw a replay.
            raise ProviderUnreachableError(f"NEO Bank refused the request id ({described})")
        raise ProviderRejectedError(
            f"NEO Bank refused the request: {described}", provider_code=code
        )


class UnverifiedAnswerError(ProviderUnreachableError):
    """An answer that does not carry the bank's signature: not the bank's word, so nothing is
    decided on it (as with no answer at all)."""

    code = "unverified_answer"


def _check_answer(credentials: Credentials, raw: bytes, headers: Mapping[str, str]) -> None:
    """The bank signs every answer as it signs its webhooks (docs/providers/neobank.md):
    ``X-Neo-Signature`` over ``X-Neo-Timestamp + "." + body`` with its key, within 300 s."""
    signature = headers.get(SIGNATURE_HEADER)
    timestamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
    if not signature or not re.fullmatch(r"[0-9]{1,12}", timestamp):
        raise UnverifiedAnswerError("NEO Bank's answer carries no signature")
    key = credentials.require("bank_public_key_pem")
    if not verify_bank_signature(key, webhook_message(timestamp, raw), signature):
        raise UnverifiedAnswerError("NEO Bank's answer does not verify with bank_public_key_pem")
    try:
        check_signed_timestamp(int(timestamp), time.time())
    except WebhookVerificationError:
        raise UnverifiedAnswerError("NEO Bank's answer is signed at a stale time") from None


def _registration(answer: Mapping[str, Any]) -> CustomerRegistration:
    cprn = answer.get("cprn")
    status = str(answer.get("status", "")).lower()
    if not isinstance(cprn, str) or not _CPRN.fullmatch(cprn):
        raise ProviderUnreachableError("NEO Bank answered a registration without a valid CPRN")
    if status not in {"pending", "verified", "rejected"}:
        raise ProviderUnreachableError("NEO Bank answered a registration of unknown status")
    return CustomerRegistration(cprn, status)


def _payment_event(body: Mapping[str, Any], *, source: str) -> ProviderEvent:
    tx_id = body.get("tx_id")
    status = body.get("status")
    if not isinstance(tx_id, str) or not _TX_ID.fullmatch(tx_id):
        raise WebhookVerificationError("malformed_payload: tx_id")
    if status not in PAYMENT_STATUSES:
        raise WebhookVerificationError("malformed_payload: status")
    currency = body.get("currency")
    amount_text = body.get("amount")
    if not isinstance(currency, str) or not _ISO_CODE.fullmatch(currency):
        raise WebhookVerificationError("malformed_payload: currency")
    if not isinstance(amount_text, str):
        raise WebhookVerificationError("malformed_payload: amount (a decimal string)")
    try:
        amount = Money.from_decimal_string(amount_text, currency).minor
    except MoneyError:
        raise WebhookVerificationError("invalid_amount") from None
    occurred = _moment(body.get("occurred_at"))
    details = {"provider_status": str(status), "bank_event_source": source}
    if status == "SUCCESS":
        details[names.CLEARED_AT] = moment_text(occurred)
        due = settlement_due(occurred, get_settings().holidays())
        details[SETTLEMENT_DUE_AT] = moment_text(due)
    elif status == "SETTLED":
        details[names.SETTLED_AT] = moment_text(occurred)
    reference = body.get("reference")
    return ProviderEvent(
        event_id=f"{tx_id}:{status}",
        event_type=PAYMENT_EVENT,
        payment_id=reference
        if isinstance(reference, str) and reference.startswith("pay_")
        else None,
        provider_refs=(tx_id,),
        requested_status=PAYMENT_STATUSES[str(status)],
        amount=amount,
        currency=currency,
        details=details,
    )


def _registration_event(body: Mapping[str, Any]) -> ProviderEvent:
    cprn = body.get("cprn")
    status = body.get("status")
    if not isinstance(cprn, str) or not _CPRN.fullmatch(cprn):
        raise WebhookVerificationError("malformed_payload: cprn")
    if status not in REGISTRATION_STATUSES:
        raise WebhookVerificationError("malformed_payload: status")
    reference = body.get("reference")
    return ProviderEvent(
        event_id=f"{cprn}:{status}",
        event_type=REGISTRATION_EVENT,
        subject=SubjectEvent(
            kind="profile",
            provider_ref=cprn,
            status=REGISTRATION_STATUSES[str(status)],
            our_id=reference if isinstance(reference, str) else None,
        ),
    )


def _moment(value: object) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(UTC)
    return datetime.now(UTC)


def _now_text() -> str:
    return moment_text(datetime.now(UTC))


def _fallback_id(payload: bytes) -> str:
    import hashlib

    return "neobank_" + hashlib.sha256(payload).hexdigest()
