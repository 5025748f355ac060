"""examples/bookings against a fake payments API, with callbacks signed by standardwebhooks.

Everything runs on 127.0.0.1: the fake API (a ThreadingHTTPServer that records each checkout
request), the example app's own server, and the test that plays the callback sender.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest
import requests
from standardwebhooks import Webhook

from examples.bookings import BookingsApp

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "pk_test_bookings_example_key"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


# --------------------------------------------------------------------------- the fake payments API


@dataclass
class FakePaymentsApi:
    """``POST /dev/v1/checkout``, ``/dev/v1/mpesa/stk-push`` and ``/dev/v1/crypto/invoices``:
    records the request; same Idempotency-Key -> same payment."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    scripted: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # answered first
    payments: dict[str, str] = field(default_factory=dict)  # idempotency key -> payment id
    retry_after: str | None = None  # a Retry-After header on every answer, when set
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/dev"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append({"path": path, "headers": headers, "body": json.loads(body)})
            if self.scripted:
                return self.scripted.pop(0)
            if path not in (
                "/dev/v1/checkout",
                "/dev/v1/mpesa/stk-push",
                "/dev/v1/crypto/invoices",
            ):
                return 404, {"error": {"code": "route_not_found", "message": "No such route"}}
            key = headers["idempotency-key"]
            payment_id = self.payments.setdefault(key, f"pay_{uuid.uuid4().hex}")
            if path == "/dev/v1/mpesa/stk-push":
                return 202, {
                    "payment_id": payment_id,
                    "status": "pending",
                    "checkout_request_id": f"ws_CO_{payment_id[4:20]}",
                    "customer_message": "Success. Request accepted for processing",
                }
            if path == "/dev/v1/crypto/invoices":
                request = json.loads(body)
                return 201, {
                    "payment_id": payment_id,
                    "status": "pending",
                    "invoice_id": "4522625843",
                    "invoice_url": "http://127.0.0.1:9/invoice/4522625843",
                    "price_amount": request["price_amount"],
                    "price_currency": request["price_currency"],
                    "pay_currency": None,
                }
            return 201, {
                "payment_id": payment_id,
                "status": "pending",
                "checkout_url": f"http://127.0.0.1:9/pay/cs_test_{payment_id[4:]}",
                "expires_at": "2026-11-24T04:54:42.000Z",
            }


@pytest.fixture
def api() -> Iterator[FakePaymentsApi]:
    fake = FakePaymentsApi()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, answer = fake.answer(self.path, headers, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if fake.retry_after is not None:
                self.send_header("Retry-After", fake.retry_after)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.server = server
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def secret() -> str:
    return new_secret()


@pytest.fixture
def app(api: FakePaymentsApi, secret: str) -> Iterator[BookingsApp]:
    with BookingsApp(api.base, API_KEY, [secret]) as running:
        yield running


# --------------------------------------------------------------------------- helpers


def create_booking(app: BookingsApp, **overrides: Any) -> requests.Response:
    body = {
        "service": "Massage",
        "amount": 4500,
        "currency": "usd",
        "customer_email": "ann@example.com",
        **overrides,
    }
    return requests.post(f"{app.base_url}/bookings", json=body, timeout=10)


def booked(app: BookingsApp) -> dict[str, Any]:
    response = create_booking(app)
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())


def create_mpesa_booking(app: BookingsApp, **overrides: Any) -> requests.Response:
    return create_booking(
        app,
        **{
            "service": "Haircut",
            "amount": 5000,
            "currency": "KES",
            "payment_method": "mpesa",
            "phone_number": "0712345678",
            **overrides,
        },
    )


def get_booking(app: BookingsApp, booking_id: str) -> dict[str, Any]:
    response = requests.get(f"{app.base_url}/bookings/{booking_id}", timeout=5)
    assert response.status_code == 200
    return cast(dict[str, Any], response.json())


def callback_body(event_type: str, booking: dict[str, Any], **payment: Any) -> str:
    view = {
        "payment_id": booking["payment_id"],
        "payable_type": "booking",
        "payable_id": booking["id"],
        "amount": booking["amount"],
        "currency": booking["currency"],
        "status": event_type.removeprefix("payment."),
        "version": 2,
        **payment,
    }
    body = {"type": event_type, "timestamp": "2026-11-23T04:27:11.487Z", "data": {"payment": view}}
    return json.dumps(body, separators=(",", ":"))


def signed_headers(
    secrets_in_use: list[str],
    body: str,
    msg_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, str]:
    """Standard Webhooks headers, one ``v1`` entry per secret (two during a rotation).

    ``sign`` takes an aware UTC datetime: it *replaces* the tzinfo with UTC (it does not convert),
    so a naive local time or another zone's time would sign the wrong instant.
    """
    msg_id = msg_id or f"evt_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    signatures = [Webhook(secret).sign(msg_id, at, body) for secret in secrets_in_use]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }


def deliver(app: BookingsApp, body: str | bytes, headers: dict[str, str]) -> requests.Response:
    data = body.encode() if isinstance(body, str) else body
    return requests.post(f"{app.base_url}/webhooks/payments", data=data, headers=headers, timeout=5)


def send(
    app: BookingsApp, secret: str, event_type: str, booking: dict[str, Any], **payment: Any
) -> requests.Response:
    body = callback_body(event_type, booking, **payment)
    return deliver(app, body, signed_headers([secret], body))


def deliveries(app: BookingsApp) -> list[dict[str, Any]]:
    response = requests.get(f"{app.base_url}/_test/deliveries", timeout=5)
    assert response.status_code == 200
    return cast(list[dict[str, Any]], response.json()["data"])


# --------------------------------------------------------------------------- bookings and checkout


def test_booking_starts_a_checkout_with_auth_idempotency_and_payable(
    app: BookingsApp, api: FakePaymentsApi
) -> None:
    booking = booked(app)

    assert booking["status"] == "PENDING_PAYMENT"
    assert booking["service"] == "Massage"
    assert (booking["amount"], booking["currency"]) == (4500, "USD")
    assert booking["payment_id"].startswith("pay_")
    assert booking["checkout_url"].startswith("http://127.0.0.1:9/pay/")
    assert "customer_email" not in booking
    assert set(booking) == {
        "id",
        "service",
        "amount",
        "currency",
        "status",
        "payment_id",
        "checkout_url",
    }
    [sent] = api.requests
    assert sent["path"] == "/dev/v1/checkout"
    assert sent["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert sent["headers"]["content-type"] == "application/json"
    assert booking["id"] in sent["headers"]["idempotency-key"]
    body = sent["body"]
    assert body["payable_type"] == "booking"
    assert body["payable_id"] == booking["id"]
    assert (body["amount"], body["currency"], body["description"]) == (4500, "USD", "Massage")
    assert body["customer"] == {"email": "ann@example.com"}
    return_url = f"{app.base_url}/bookings/{booking['id']}"
    assert app.base_url.startswith("http://127.0.0.1:")
    assert body["success_url"].startswith(return_url + "?")
    assert body["cancel_url"].startswith(return_url + "?")
    assert get_booking(app, booking["id"]) == booking


def test_each_booking_gets_its_own_idempotency_key(app: BookingsApp, api: FakePaymentsApi) -> None:
    first, second = booked(app), booked(app)
    keys = {sent["headers"]["idempotency-key"] for sent in api.requests}
    assert len(keys) == 2
    assert first["payment_id"] != second["payment_id"]


def test_unknown_booking_is_404(app: BookingsApp) -> None:
    response = requests.get(f"{app.base_url}/bookings/bk_00000000000000000000", timeout=5)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "booking_not_found"


@pytest.mark.parametrize(
    "overrides",
    [
        {"service": ""},
        {"amount": 0},
        {"amount": "45.00"},
        {"amount": True},
        {"currency": "dollars"},
        {"customer_email": "nobody"},
    ],
)
def test_invalid_booking_is_400_and_calls_nothing(
    app: BookingsApp, api: FakePaymentsApi, overrides: dict[str, Any]
) -> None:
    response = create_booking(app, **overrides)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert api.requests == []


def test_api_error_is_502_with_the_api_code(app: BookingsApp, api: FakePaymentsApi) -> None:
    api.scripted.append(
        (422, {"error": {"code": "amount_too_large", "message": "amount must be at most 1"}})
    )
    response = create_booking(app)

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "amount_too_large"
    assert error["api_status"] == 422
    assert len(api.requests) == 1  # a 4xx is final: not retried
    booking = response.json()["booking"]
    assert booking["status"] == "PENDING_PAYMENT"
    assert booking["payment_id"] is None

    # Trying again later is safe: the same Idempotency-Key, so never a second payment.
    retried = requests.post(f"{app.base_url}/bookings/{booking['id']}/checkout", timeout=10)
    assert retried.status_code == 200
    assert retried.json()["payment_id"].startswith("pay_")
    first, second = api.requests
    assert first["headers"]["idempotency-key"] == second["headers"]["idempotency-key"]
    assert first["body"] == second["body"]


def test_transient_api_failures_are_retried_with_the_same_key(
    app: BookingsApp, api: FakePaymentsApi
) -> None:
    api.scripted.append((503, {"error": {"code": "concurrent_update", "message": "retry"}}))
    api.scripted.append((500, {"error": {"code": "internal_error", "message": "oops"}}))
    booking = booked(app)

    assert len(api.requests) == 3
    assert len({sent["headers"]["idempotency-key"] for sent in api.requests}) == 1
    assert booking["payment_id"].startswith("pay_")


def test_unreachable_api_is_502(secret: str) -> None:
    with BookingsApp("http://127.0.0.1:9/dev", API_KEY, [secret]) as app:
        response = create_booking(app)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "payments_api_unreachable"


# --------------------------------------------------------------------------- M-PESA


def test_an_mpesa_booking_prompts_the_phone_and_answers_without_a_checkout_url(
    app: BookingsApp, api: FakePaymentsApi
) -> None:
    response = create_mpesa_booking(app, service="Deep tissue massage, 60 min")
    assert response.status_code == 201, response.text
    booking = response.json()

    assert (booking["status"], booking["payment_method"]) == ("PENDING_PAYMENT", "mpesa")
    assert (booking["amount"], booking["currency"]) == (5000, "KES")
    assert booking["payment_id"].startswith("pay_")
    assert booking["checkout_request_id"].startswith("ws_CO_")
    assert "Check your phone" in booking["customer_message"]
    assert "50.00 KES" in booking["customer_message"]
    assert set(booking) == {  # no checkout_url; the phone and e-mail are not shown
        "id",
        "service",
        "amount",
        "currency",
        "status",
        "payment_id",
        "payment_method",
        "checkout_request_id",
        "customer_message",
    }
    [sent] = api.requests
    assert sent["path"] == "/dev/v1/mpesa/stk-push"
    assert sent["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert sent["headers"]["idempotency-key"] == f"booking-{booking['id']}-mpesa"
    body = sent["body"]
    assert set(body) == {
        "payable_type",
        "payable_id",
        "amount",
        "phone_number",
        "account_reference",
        "transaction_desc",
        "customer",
    }
    assert body["customer"] == {"email": "ann@example.com"}  # for the receipt e-mail
    assert (body["payable_type"], body["payable_id"]) == ("booking", booking["id"])
    assert (body["amount"], body["phone_number"]) == (5000, "0712345678")
    # Daraja's limits: 12 and 13 characters, what the customer's phone shows.
    assert body["account_reference"] == "BK" + booking["id"][3:13].upper()
    assert body["transaction_desc"] == "Deep tissue m"
    assert get_booking(app, booking["id"]) == booking
    # Starting it again is a no-op: the prompt is out, a second one is never sent.
    again = requests.post(f"{app.base_url}/bookings/{booking['id']}/checkout", timeout=10)
    assert (again.status_code, again.json()) == (200, booking)
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"currency": "USD"}, "M-PESA takes KES only"),
        ({"phone_number": None}, "phone_number is required"),
        ({"phone_number": "  "}, "phone_number is required"),
        ({"phone_number": 712345678}, "phone_number is required"),
        ({"payment_method": "cash"}, "payment_method must be stripe or mpesa"),
    ],
)
def test_invalid_mpesa_booking_is_400_and_calls_nothing(
    app: BookingsApp, api: FakePaymentsApi, overrides: dict[str, Any], words: str
) -> None:
    response = create_mpesa_booking(app, **overrides)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert words in error["message"]
    assert api.requests == []


def test_the_apis_422_for_a_push_is_the_customers_422_and_nothing_is_booked(
    app: BookingsApp, api: FakePaymentsApi
) -> None:
    refusal = {"code": "invalid_phone_number", "message": "not a Safaricom M-PESA number"}
    api.scripted.append((422, {"error": refusal}))
    response = create_mpesa_booking(app, phone_number="0812345678")

    assert response.status_code == 422
    assert response.json() == {"error": {**refusal, "api_status": 422}}
    assert len(api.requests) == 1  # final: not retried
    # The customer books again with the right number: a new booking, its own key.
    assert create_mpesa_booking(app).status_code == 201
    first, second = api.requests
    assert first["headers"]["idempotency-key"] != second["headers"]["idempotency-key"]


def test_a_push_to_a_phone_with_an_open_prompt_is_409_with_retry_after(
    app: BookingsApp, api: FakePaymentsApi
) -> None:
    api.scripted.append(
        (409, {"error": {"code": "duplicate_push", "message": "a push is already waiting"}})
    )
    api.retry_after = "97"
    response = create_mpesa_booking(app)

    assert response.status_code == 409
    assert response.headers["Retry-After"] == "97"
    assert response.json()["error"]["code"] == "duplicate_push"
    assert response.json()["error"]["retry_after_seconds"] == 97
    assert len(api.requests) == 1  # a prompt is open for minutes: retrying now is pointless


def test_an_unreachable_api_leaves_the_mpesa_booking_to_retry_with_the_same_key(
    app: BookingsApp, api: FakePaymentsApi
) -> None:
    for _ in range(3):
        api.scripted.append((503, {"error": {"code": "provider_unavailable", "message": "down"}}))
    response = create_mpesa_booking(app)
    assert response.status_code == 502
    booking = response.json()["booking"]
    assert (booking["status"], booking["checkout_request_id"]) == ("PENDING_PAYMENT", None)
    assert "not been sent" in booking["customer_message"]

    retried = requests.post(f"{app.base_url}/bookings/{booking['id']}/checkout", timeout=10)
    assert retried.status_code == 200
    assert retried.json()["checkout_request_id"].startswith("ws_CO_")
    assert len({sent["headers"]["idempotency-key"] for sent in api.requests}) == 1
    assert len({json.dumps(sent["body"], sort_keys=True) for sent in api.requests}) == 1


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        ("payment.succeeded", "CONFIRMED"),
        ("payment.failed", "CANCELLED"),
        ("payment.canceled", "CANCELLED"),
        ("payment.expired", "CANCELLED"),
    ],
)
def test_mpesa_callbacks_take_the_same_path_as_stripes(
    app: BookingsApp, secret: str, event_type: str, status: str
) -> None:
    booking = create_mpesa_booking(app).json()
    details = {"result_code": "0" if status == "CONFIRMED" else "1032"}
    response = send(app, secret, event_type, booking, provider="mpesa", provider_details=details)

    assert response.status_code == 204
    settled = get_booking(app, booking["id"])
    assert settled["status"] == status
    assert "Check your phone" not in settled["customer_message"]
    [delivery] = deliveries(app)
    assert (delivery["outcome"], delivery["type"], delivery["provider"]) == (
        "verified",
        event_type,
        "mpesa",
    )
    assert delivery["detail"] == f"booking {booking['id']} {status}"


def test_a_crypto_booking_links_the_invoice_page_for_its_price(
    app: BookingsApp, api: FakePaymentsApi
) -> None:
    response = create_booking(app, payment_method="crypto")
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["payment_method"] == "crypto"
    assert booking["checkout_url"] == "http://127.0.0.1:9/invoice/4522625843"
    [sent] = api.requests
    assert sent["path"] == "/dev/v1/crypto/invoices"
    assert sent["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert sent["headers"]["idempotency-key"] == f"booking-{booking['id']}-crypto"
    return_url = f"{app.base_url}/bookings/{booking['id']}"
    assert sent["body"] == {
        "payable_type": "booking",
        "payable_id": booking["id"],
        "price_amount": 4500,
        "price_currency": "USD",
        "order_description": "Massage",
        "success_url": f"{return_url}?checkout=success",
        "cancel_url": f"{return_url}?checkout=cancel",
    }
    page = requests.get(return_url, headers={"Accept": "text/html"}, timeout=5).text
    assert "Go to payment" in page
    assert "Crypto" in page


def test_a_crypto_payment_confirms_the_booking_by_its_price_not_its_coin(
    app: BookingsApp, secret: str
) -> None:
    booking = create_booking(app, payment_method="crypto").json()
    paid_in_btc = {
        "provider": "nowpayments",
        "amount": "0.0009",
        "currency": "BTC",
        "price_amount": 4500,
        "price_currency": "USD",
    }
    assert send(app, secret, "payment.succeeded", booking, **paid_in_btc).status_code == 204
    assert get_booking(app, booking["id"])["status"] == "CONFIRMED"


def test_a_crypto_payment_for_another_price_does_not_confirm(app: BookingsApp, secret: str) -> None:
    booking = create_booking(app, payment_method="crypto").json()
    cheaper = {
        "provider": "nowpayments",
        "amount": "0.0009",
        "currency": "BTC",
        "price_amount": 450,
        "price_currency": "USD",
    }
    assert send(app, secret, "payment.succeeded", booking, **cheaper).status_code == 204
    assert get_booking(app, booking["id"])["status"] == "PENDING_PAYMENT"
    [delivery] = deliveries(app)
    assert delivery["detail"] == "amount mismatch: not confirmed"


# --------------------------------------------------------------------------- callbacks


def test_payment_succeeded_confirms_the_booking(app: BookingsApp, secret: str) -> None:
    booking = booked(app)
    response = send(app, secret, "payment.succeeded", booking)

    assert response.status_code == 204
    assert response.content == b""
    assert get_booking(app, booking["id"])["status"] == "CONFIRMED"
    [delivery] = deliveries(app)
    assert delivery["outcome"] == "verified"
    assert delivery["type"] == "payment.succeeded"
    assert delivery["webhook_id"].startswith("evt_")
    assert delivery["received_at"].endswith("Z")


@pytest.mark.parametrize("event_type", ["payment.failed", "payment.expired", "payment.canceled"])
def test_failure_callbacks_cancel_a_pending_booking(
    app: BookingsApp, secret: str, event_type: str
) -> None:
    booking = booked(app)
    assert send(app, secret, event_type, booking).status_code == 204
    assert get_booking(app, booking["id"])["status"] == "CANCELLED"


def test_a_confirmed_booking_is_never_cancelled(app: BookingsApp, secret: str) -> None:
    booking = booked(app)
    assert send(app, secret, "payment.succeeded", booking).status_code == 204
    for event_type in ("payment.failed", "payment.expired", "payment.canceled"):
        assert send(app, secret, event_type, booking).status_code == 204
    assert get_booking(app, booking["id"])["status"] == "CONFIRMED"


def test_a_late_capture_confirms_a_cancelled_booking(app: BookingsApp, secret: str) -> None:
    booking = booked(app)
    assert send(app, secret, "payment.expired", booking).status_code == 204
    assert send(app, secret, "payment.succeeded", booking).status_code == 204
    assert get_booking(app, booking["id"])["status"] == "CONFIRMED"


def test_other_types_and_other_payables_are_acknowledged(app: BookingsApp, secret: str) -> None:
    booking = booked(app)
    assert send(app, secret, "payment.pending", booking).status_code == 204
    assert send(app, secret, "payment.succeeded", booking, payable_type="order").status_code == 204
    other = {**booking, "id": "bk_ffffffffffffffffffff"}
    assert send(app, secret, "payment.succeeded", other).status_code == 204
    stranger = {**booking, "payment_id": "pay_someone_else"}
    assert send(app, secret, "payment.succeeded", stranger).status_code == 204
    assert send(app, secret, "payment.succeeded", booking, amount=1).status_code == 204

    assert get_booking(app, booking["id"])["status"] == "PENDING_PAYMENT"
    details = [delivery["detail"] for delivery in deliveries(app)]
    assert details == [
        "acknowledged",
        "not a booking",
        "unknown booking",
        "another payment for this booking",
        "amount mismatch: not confirmed",
    ]


def test_redelivered_webhook_id_is_204_and_changes_nothing(app: BookingsApp, secret: str) -> None:
    booking = booked(app)
    failed = callback_body("payment.failed", booking)
    headers = signed_headers([secret], failed)
    assert deliver(app, failed, headers).status_code == 204
    assert get_booking(app, booking["id"])["status"] == "CANCELLED"

    # The same webhook-id again (a redelivery), even with a (validly signed) different body.
    assert (
        deliver(app, failed, signed_headers([secret], failed, headers["webhook-id"])).status_code
        == 204
    )
    succeeded = callback_body("payment.succeeded", booking)
    again = signed_headers([secret], succeeded, headers["webhook-id"])
    assert deliver(app, succeeded, again).status_code == 204

    assert get_booking(app, booking["id"])["status"] == "CANCELLED"
    outcomes = [(d["webhook_id"], d["outcome"]) for d in deliveries(app)]
    assert (
        outcomes
        == [(headers["webhook-id"], "verified")] + [(headers["webhook-id"], "duplicate")] * 2
    )


def test_concurrent_redeliveries_apply_once(app: BookingsApp, secret: str) -> None:
    booking = booked(app)
    body = callback_body("payment.succeeded", booking)
    headers = signed_headers([secret], body)
    threads = [threading.Thread(target=deliver, args=(app, body, headers)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = sorted(d["outcome"] for d in deliveries(app))
    assert outcomes == ["duplicate"] * 7 + ["verified"]


def _bad_signature_cases(secret: str, body: str) -> list[dict[str, str]]:
    good = signed_headers([secret], body)
    stale = signed_headers([secret], body, at=datetime.now(UTC) - timedelta(minutes=6))
    future = signed_headers([secret], body, at=datetime.now(UTC) + timedelta(minutes=6))
    return [
        signed_headers([new_secret()], body),  # someone else's secret
        {**good, "webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()},  # wrong HMAC
        {**good, "webhook-signature": "garbage"},  # malformed: ValueError in the library
        {**good, "webhook-signature": "v2," + good["webhook-signature"][3:]},  # unknown version
        {**good, "webhook-id": "evt_other"},  # the id is signed too
        {name: value for name, value in good.items() if name != "webhook-signature"},
        {name: value for name, value in good.items() if name != "webhook-timestamp"},
        {name: value for name, value in good.items() if name != "webhook-id"},
        {**good, "webhook-timestamp": "yesterday"},
        stale,  # outside the library's fixed 5 minute tolerance
        future,
    ]


def test_bad_signatures_are_400_and_change_nothing(app: BookingsApp, secret: str) -> None:
    booking = booked(app)
    body = callback_body("payment.succeeded", booking)
    cases = _bad_signature_cases(secret, body)
    for headers in cases:
        response = deliver(app, body, headers)
        assert response.status_code == 400, headers
    tampered = body.replace('"amount":4500', '"amount":4501')
    assert deliver(app, tampered, signed_headers([secret], body)).status_code == 400
    assert deliver(app, b"\xff\xfe", signed_headers([secret], body)).status_code == 400

    assert get_booking(app, booking["id"])["status"] == "PENDING_PAYMENT"
    assert {d["outcome"] for d in deliveries(app)} == {"rejected"}
    assert len(deliveries(app)) == len(cases) + 2


def test_a_rejected_id_can_still_be_delivered_properly(app: BookingsApp, secret: str) -> None:
    booking = booked(app)
    body = callback_body("payment.succeeded", booking)
    headers = signed_headers([secret], body)
    assert deliver(app, body, {**headers, "webhook-signature": "v1,AAAA"}).status_code == 400
    assert deliver(app, body, headers).status_code == 204
    assert get_booking(app, booking["id"])["status"] == "CONFIRMED"


def test_rotation_either_secret_verifies(api: FakePaymentsApi) -> None:
    old, new = new_secret(), new_secret()
    # The app already has only the new secret; the sender still signs with both.
    with BookingsApp(api.base, API_KEY, [new]) as app:
        booking = booked(app)
        body = callback_body("payment.succeeded", booking)
        headers = signed_headers([old, new], body)
        assert headers["webhook-signature"].count("v1,") == 2
        assert deliver(app, body, headers).status_code == 204
        assert get_booking(app, booking["id"])["status"] == "CONFIRMED"
    # The app was configured with both while the sender still signs with the old one only.
    with BookingsApp(api.base, API_KEY, [new, old]) as app:
        booking = booked(app)
        body = callback_body("payment.failed", booking)
        assert deliver(app, body, signed_headers([old], body)).status_code == 204
        assert get_booking(app, booking["id"])["status"] == "CANCELLED"


def test_signature_covers_the_exact_bytes(app: BookingsApp, secret: str) -> None:
    booking = booked(app)
    pretty = json.dumps(json.loads(callback_body("payment.succeeded", booking)), indent=2)
    assert deliver(app, pretty, signed_headers([secret], pretty)).status_code == 204
    assert get_booking(app, booking["id"])["status"] == "CONFIRMED"


def test_verified_but_malformed_payload_is_400(app: BookingsApp, secret: str) -> None:
    for body in ('{"type":"payment.succeeded","data":{}}', "[1,2]", "not json"):
        assert deliver(app, body, signed_headers([secret], body)).status_code == 400
    assert {d["outcome"] for d in deliveries(app)} == {"rejected"}


# --------------------------------------------------------------------------- test switches


def test_fail_next_fails_deliveries_then_recovers(app: BookingsApp, secret: str) -> None:
    booking = booked(app)
    switched = requests.post(
        f"{app.base_url}/_test/fail_next", json={"count": 2, "status": 500}, timeout=5
    )
    assert switched.status_code == 200
    body = callback_body("payment.succeeded", booking)
    headers = signed_headers([secret], body)
    assert deliver(app, body, headers).status_code == 500
    assert deliver(app, body, headers).status_code == 500
    assert get_booking(app, booking["id"])["status"] == "PENDING_PAYMENT"
    assert deliver(app, body, headers).status_code == 204  # the sender's retry
    assert get_booking(app, booking["id"])["status"] == "CONFIRMED"

    outcomes = [(d["outcome"], d["status"]) for d in deliveries(app)]
    assert outcomes == [("forced_failure", 500), ("forced_failure", 500), ("verified", 204)]
    assert {d["webhook_id"] for d in deliveries(app)} == {headers["webhook-id"]}


def test_gone_answers_410_to_every_delivery(app: BookingsApp, secret: str) -> None:
    booking = booked(app)
    assert requests.post(f"{app.base_url}/_test/gone", timeout=5).status_code == 200
    for event_type in ("payment.succeeded", "payment.failed"):
        assert send(app, secret, event_type, booking).status_code == 410
    bad = callback_body("payment.succeeded", booking)
    assert deliver(app, bad, {"webhook-id": "evt_x"}).status_code == 410  # before verification
    assert get_booking(app, booking["id"])["status"] == "PENDING_PAYMENT"
    assert [d["status"] for d in deliveries(app)] == [410, 410, 410]

    requests.post(f"{app.base_url}/_test/gone", json={"gone": False}, timeout=5)
    assert send(app, secret, "payment.succeeded", booking).status_code == 204


def test_switches_can_be_turned_off(api: FakePaymentsApi, secret: str) -> None:
    with BookingsApp(api.base, API_KEY, [secret], test_switches=False) as app:
        assert requests.post(f"{app.base_url}/_test/gone", timeout=5).status_code == 404
        assert requests.get(f"{app.base_url}/_test/deliveries", timeout=5).status_code == 404


# --------------------------------------------------------------------------- packaging


def test_the_example_uses_only_stdlib_requests_and_standardwebhooks() -> None:
    allowed = set(sys.stdlib_module_names) | {"requests", "standardwebhooks", "examples"}
    for path in (ROOT / "examples").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path}: imports {name}"


def test_runs_as_a_module(api: FakePaymentsApi, secret: str) -> None:
    command = [
        sys.executable,
        "-m",
        "examples.bookings",
        "--api-base",
        api.base,
        "--api-key",
        API_KEY,
        "--webhook-secret",
        new_secret(),
        "--webhook-secret",
        secret,
        "--port",
        "0",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        base_url = banner.split()[3].rstrip(";")
        assert base_url.startswith("http://127.0.0.1:")
        created = requests.post(
            f"{base_url}/bookings",
            json={"service": "Cut", "amount": 2500, "currency": "KES", "customer_email": "a@b.co"},
            timeout=10,
        )
        assert created.status_code == 201
        assert api.requests[0]["headers"]["authorization"] == f"Bearer {API_KEY}"
    finally:
        process.terminate()
        process.wait(timeout=10)
