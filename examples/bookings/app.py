"""A small bookings app that takes its payments through the payments API, over HTTP only.

Read it as an integration guide in code. It uses nothing of the payments backbone itself: only
the standard library, ``requests`` for the API and ``standardwebhooks`` for the callbacks.

    POST /bookings              create a booking and start its payment   -> 201 booking
                                (a Stripe checkout, an M-PESA prompt on the customer's phone,
                                or a NOWPayments crypto invoice page)
    GET  /bookings/<id>         a booking: JSON, or to a browser (Accept: text/html) the page the
                                customer returns to after paying, refreshed until it is settled
    POST /bookings/<id>/checkout  retry a payment start that failed (same Idempotency-Key: safe)
    POST /webhooks/payments     the payments API's callbacks (Standard Webhooks)

Test-only switches (``test_switches=True``; never expose them in a real app):

    POST /_test/fail_next {"count": N, "status": 500}   the next N callbacks fail with status
    POST /_test/gone      {"gone": true}                every callback answers 410
    GET  /_test/deliveries                              what the callback endpoint received
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, parse_qs

from examples.kit.api import ApiClient, PaymentsApiError
from examples.kit.callbacks import InvalidWebhookError, WebhookVerifier
from examples.kit.server import (
    BadRequestError,
    ExampleApp,
    JsonHandler,
    json_object,
    run,
)
from examples.kit.server import error as _error

# The app's plumbing (the API session and its retries, callback verification and dedupe, the
# HTTP server) is in examples/kit, shared with the other examples; these names stay importable
# from here.
__all__ = [
    "CALLBACK_EVENT_TYPES",
    "BadRequestError",
    "Booking",
    "BookingsApp",
    "InvalidWebhookError",
    "PaymentsApiError",
    "PaymentsClient",
    "WebhookVerifier",
    "booking_page",
    "format_amount",
    "main",
    "prefers_html",
]

logger = logging.getLogger("bookings")

Json = dict[str, Any]

PENDING_PAYMENT = "PENDING_PAYMENT"
CONFIRMED = "CONFIRMED"
CANCELLED = "CANCELLED"

# The callbacks to subscribe to when registering the endpoint (POST /v1/callbacks/endpoints).
CALLBACK_EVENT_TYPES = (
    "payment.succeeded",
    "payment.failed",
    "payment.expired",
    "payment.canceled",
)
CANCELLING_EVENT_TYPES = frozenset({"payment.failed", "payment.expired", "payment.canceled"})

# How the customer pays. All end the same way: our signed callback confirms the booking.
STRIPE = "stripe"  # a hosted checkout page (POST /v1/checkout); the default
MPESA = "mpesa"  # an STK push: a prompt on the customer's phone (POST /v1/mpesa/stk-push)
CRYPTO = "crypto"  # a hosted invoice page, the coin chosen there (POST /v1/crypto/invoices)
PAYMENT_METHODS = (STRIPE, MPESA, CRYPTO)
MPESA_CURRENCY = "KES"  # M-PESA takes shillings only; amounts stay in cents (5000 = KES 50)
MPESA_ACCOUNT_REFERENCE_LENGTH = 12  # Daraja's limits: what the customer's phone shows
MPESA_TRANSACTION_DESC_LENGTH = 13

PAGE_REFRESH_SECONDS = 2  # the booking page reloads itself this often until the booking settles
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_BOOKING_PATH = re.compile(r"/bookings/(bk_[0-9a-f]{20})")
_CHECKOUT_PATH = re.compile(r"/bookings/(bk_[0-9a-f]{20})/checkout")


# --------------------------------------------------------------------------- bookings


@dataclasses.dataclass
class Booking:
    id: str
    service: str
    amount: int  # minor units, as the payments API counts them (4500 = USD 45.00)
    currency: str
    customer_email: str  # kept for the checkout; not shown in responses
    status: str = PENDING_PAYMENT
    payment_id: str | None = None
    checkout_url: str | None = None  # Stripe's checkout page, or the crypto invoice page
    payment_method: str = STRIPE
    phone_number: str | None = None  # M-PESA: the phone to prompt; not shown in responses
    checkout_request_id: str | None = None  # M-PESA: Daraja's id of the prompt (ws_CO_...)

    @property
    def payment_started(self) -> bool:
        if self.payment_method == MPESA:
            return self.checkout_request_id is not None
        return self.checkout_url is not None

    def public(self) -> Json:
        shown: Json = {
            "id": self.id,
            "service": self.service,
            "amount": self.amount,
            "currency": self.currency,
            "status": self.status,
            "payment_id": self.payment_id,
        }
        if self.payment_method == MPESA:
            return {
                **shown,
                "payment_method": MPESA,
                "checkout_request_id": self.checkout_request_id,
                "customer_message": mpesa_customer_message(self),
            }
        if self.payment_method == CRYPTO:
            return {**shown, "payment_method": CRYPTO, "checkout_url": self.checkout_url}
        return {**shown, "checkout_url": self.checkout_url}  # Stripe: the answer as it always was


def mpesa_customer_message(booking: Booking) -> str:
    """What to tell the customer of an M-PESA booking (the answer and the page show it)."""
    if booking.status == CONFIRMED:
        return "Paid with M-PESA: the booking is confirmed."
    if booking.status == CANCELLED:
        return "The M-PESA payment was not completed. Nothing was charged."
    if booking.checkout_request_id is None:
        return "The M-PESA prompt has not been sent to your phone yet."
    amount = format_amount(booking.amount, booking.currency)
    return f"Check your phone: enter your M-PESA PIN in the prompt to pay {amount}."


def _booking_from_request(body: Json) -> Booking:
    service, amount = body.get("service"), body.get("amount")
    currency, email = body.get("currency"), body.get("customer_email")
    if not isinstance(service, str) or not 1 <= len(service.strip()) <= 500:
        raise BadRequestError("service must be a non-empty string")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise BadRequestError("amount must be a positive integer in minor units")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise BadRequestError("currency must be a three-letter ISO 4217 code")
    if not isinstance(email, str) or len(email) > 254 or not _EMAIL.fullmatch(email):
        raise BadRequestError("customer_email must be an e-mail address")
    method, phone = body.get("payment_method", STRIPE), None
    if method not in PAYMENT_METHODS:
        raise BadRequestError("payment_method must be " + " or ".join(PAYMENT_METHODS))
    if method == MPESA:
        if currency.upper() != MPESA_CURRENCY:
            raise BadRequestError(
                f"M-PESA takes {MPESA_CURRENCY} only: currency KES, amount in cents (5000 = KES 50)"
            )
        phone = body.get("phone_number")
        if not isinstance(phone, str) or not phone.strip():
            raise BadRequestError(
                "phone_number is required for M-PESA: the customer's Safaricom number, "
                "e.g. 0712345678"
            )
        phone = phone.strip()  # its form is the payments API's to judge (422 invalid_phone_number)
    booking_id = "bk_" + secrets.token_hex(10)
    return Booking(
        booking_id,
        service.strip(),
        amount,
        currency.upper(),
        email,
        payment_method=method,
        phone_number=phone,
    )


# --------------------------------------------------------------------------- the payments API


class PaymentsClient(ApiClient):
    """The lines of the payments API this app needs: ``Bearer`` key, JSON, Idempotency-Key."""

    def __init__(self, api_base: str, api_key: str) -> None:
        super().__init__(api_base, api_key, logger)

    def create_checkout(self, booking: Booking, return_url: str) -> Json:
        """Start a hosted checkout for the booking: ``{"payment_id", "checkout_url", ...}``.

        The Idempotency-Key comes from the booking id, so sending this again, after a timeout,
        a 5xx or a restart, answers the same payment instead of creating a second one.
        """
        body = {
            "payable_type": "booking",
            "payable_id": booking.id,
            "amount": booking.amount,
            "currency": booking.currency,
            "description": booking.service,
            "success_url": f"{return_url}?checkout=success",
            "cancel_url": f"{return_url}?checkout=cancel",
            "customer": {"email": booking.customer_email},
        }
        headers = {"Idempotency-Key": f"booking-{booking.id}-checkout"}
        return self._post("/v1/checkout", body, headers)

    def start_mpesa_push(self, booking: Booking) -> Json:
        """Prompt the customer's phone to pay (M-PESA STK push): ``{"payment_id", "status":
        "pending", "checkout_request_id", "customer_message"}``.

        The body is derived from the booking alone, so a retry with the booking's
        Idempotency-Key sends the same body and resumes the same payment: never a second prompt.
        """
        body = {
            "payable_type": "booking",
            "payable_id": booking.id,
            "amount": booking.amount,  # KES cents, whole shillings: 5000 = KES 50
            "phone_number": booking.phone_number,
            "account_reference": _daraja_text(
                "BK" + booking.id.removeprefix("bk_").upper(), MPESA_ACCOUNT_REFERENCE_LENGTH
            ),
            "transaction_desc": _daraja_text(booking.service, MPESA_TRANSACTION_DESC_LENGTH),
            "customer": {"email": booking.customer_email},  # for the receipt e-mail
        }
        headers = {"Idempotency-Key": f"booking-{booking.id}-mpesa"}
        return self._post("/v1/mpesa/stk-push", body, headers)

    def create_crypto_invoice(self, booking: Booking, return_url: str) -> Json:
        """A hosted crypto invoice for the booking's price: ``{"payment_id", "invoice_url",
        ...}``. The customer chooses the coin on that page; the payment then moves into the coin
        and its callback carries the price it was for (``price_amount``, ``price_currency``)."""
        body = {
            "payable_type": "booking",
            "payable_id": booking.id,
            "price_amount": booking.amount,  # minor units of a fiat price, as everywhere
            "price_currency": booking.currency,
            "order_description": booking.service,
            "success_url": f"{return_url}?checkout=success",
            "cancel_url": f"{return_url}?checkout=cancel",
        }
        headers = {"Idempotency-Key": f"booking-{booking.id}-crypto"}
        return self._post("/v1/crypto/invoices", body, headers)


def _daraja_text(text: str, most: int) -> str:
    """What Daraja passes to the phone: printable ASCII, at most ``most`` characters."""
    printable = re.sub(r"[^ -~]+", " ", text).strip()
    return printable[:most].strip() or "Booking"


# --------------------------------------------------------------------------- the app


class BookingsApp(ExampleApp):
    """Bookings in memory, an HTTP server on ``host:port``, payments through ``api_base``."""

    name = "bookings"

    def setup(self, api_base: str, api_key: str) -> None:
        self._payments = PaymentsClient(api_base, api_key)
        self._bookings: dict[str, Booking] = {}  # guarded by self._lock

    def handler_class(self) -> type[_Handler]:
        return _Handler

    def close(self) -> None:
        self._payments.close()

    def booking(self, booking_id: str) -> Json | None:
        with self._lock:
            booking = self._bookings.get(booking_id)
            return booking.public() if booking else None

    # ----------------------------------------------------------------- bookings

    def create_booking(self, body: Json) -> tuple[int, Json]:
        booking = _booking_from_request(body)
        with self._lock:
            self._bookings[booking.id] = booking
        return self.start_checkout(booking.id, created=True)

    def start_checkout(self, booking_id: str, *, created: bool = False) -> tuple[int, Json]:
        """Start the booking's payment: a Stripe checkout, an M-PESA prompt on the phone, or a
        crypto invoice page."""
        with self._lock:
            booking = self._bookings.get(booking_id)
            if booking is None:
                return 404, _error("booking_not_found", f"no booking {booking_id}")
            if booking.payment_started or booking.status != PENDING_PAYMENT:
                return 200, booking.public()  # nothing to do: already started, paid or cancelled
            snapshot = dataclasses.replace(booking)
        # No lock held during the API call. Two concurrent calls for one booking are harmless:
        # they send the same Idempotency-Key, so the API answers both with the same payment.
        try:
            if snapshot.payment_method == MPESA:
                started = self._payments.start_mpesa_push(snapshot)
            elif snapshot.payment_method == CRYPTO:
                started = self._payments.create_crypto_invoice(
                    snapshot, f"{self.base_url}/bookings/{booking_id}"
                )
                started["checkout_url"] = started["invoice_url"]
            else:
                started = self._payments.create_checkout(
                    snapshot, f"{self.base_url}/bookings/{booking_id}"
                )
        except PaymentsApiError as error:
            logger.warning(
                "%s payment for %s failed: %s", snapshot.payment_method, booking_id, error
            )
            return self._payment_refused(snapshot, error, created=created)
        with self._lock:
            booking.payment_id = booking.payment_id or str(started["payment_id"])
            if booking.payment_method == MPESA:
                # Pending until the customer answers the prompt; the callback says how it ended.
                request_id = started.get("checkout_request_id")
                booking.checkout_request_id = None if request_id is None else str(request_id)
            else:
                booking.checkout_url = str(started["checkout_url"])
            return (201 if created else 200), booking.public()

    def _payment_refused(
        self, booking: Booking, error: PaymentsApiError, *, created: bool
    ) -> tuple[int, Json]:
        """The API's refusal as the customer's answer.

        An M-PESA push refused for what the customer sent (422: invalid_phone_number,
        amount_not_supported, ...) or because a prompt is already on that phone (409
        duplicate_push, with Retry-After) is theirs to fix: the same status and code, and a new
        booking is not kept (book again with the right number). Everything else, and every
        Stripe refusal, is 502 with the booking still PENDING_PAYMENT: POST .../checkout later.
        """
        failure = _error(error.code, error.message)
        failure["error"]["api_status"] = error.status
        customer_can_fix = error.status == 422 or error.code == "duplicate_push"
        if booking.payment_method == MPESA and error.status is not None and customer_can_fix:
            if error.retry_after is not None:
                failure["error"]["retry_after_seconds"] = error.retry_after
            if created:
                with self._lock:
                    self._bookings.pop(booking.id, None)
            else:
                failure["booking"] = booking.public()
            return error.status, failure
        failure["booking"] = booking.public()
        return 502, failure

    # ----------------------------------------------------------------- callbacks
    # Verified and deduplicated on webhook-id by the kit's CallbackInbox (ExampleApp), which
    # calls these two.

    def parse_callback(self, payload: Json) -> tuple[str, Json | None]:
        """``{"type", "timestamp", "data": {"payment": {...}}}`` -> (type, payment or None)."""
        event_type, data = payload.get("type"), payload.get("data")
        if not isinstance(event_type, str) or not isinstance(data, dict):
            raise InvalidWebhookError("a callback has a string type and an object data")
        payment = data.get("payment")
        if event_type.startswith("payment.") and not isinstance(payment, dict):
            raise InvalidWebhookError("a payment callback carries data.payment")
        return event_type, payment if isinstance(payment, dict) else None

    def apply_callback_locked(self, event_type: str, payment: Json | None) -> str:
        """Move the booking the callback is about; returns what happened, for the log.

        One path for every payment method: the callback is the same whichever provider took
        the money (``data.payment.provider`` is ``stripe``, ``mpesa`` or ``nowpayments``), and so
        is what it does.
        """
        if payment is None or event_type not in {"payment.succeeded", *CANCELLING_EVENT_TYPES}:
            return "acknowledged"
        if payment.get("payable_type") != "booking":
            return "not a booking"
        booking = self._bookings.get(str(payment.get("payable_id")))
        if booking is None:
            return "unknown booking"
        payment_id = payment.get("payment_id")
        if booking.payment_id is not None and payment_id != booking.payment_id:
            return "another payment for this booking"
        booking.payment_id = booking.payment_id or str(payment_id)
        if event_type == "payment.succeeded":
            # Money arrived: confirm, even if a failed or expired attempt cancelled it before
            # (the API sends payment.succeeded for a late capture too). A payment in another
            # currency than its price (crypto: paid in BTC for a USD booking) carries the price.
            if payment.get("price_currency"):
                paid_for = payment.get("price_amount"), payment.get("price_currency")
            else:
                paid_for = payment.get("amount"), payment.get("currency")
            same_money = paid_for[0] == booking.amount and (
                str(paid_for[1] or "").upper() == booking.currency
            )
            if not same_money:
                logger.error("booking %s: paid amount differs from the price", booking.id)
                return "amount mismatch: not confirmed"
            booking.status = CONFIRMED
            return f"booking {booking.id} {CONFIRMED}"
        if booking.status == PENDING_PAYMENT:  # never un-confirm; callbacks may arrive late
            booking.status = CANCELLED
            return f"booking {booking.id} {CANCELLED}"
        return f"booking {booking.id} stays {booking.status}"


# --------------------------------------------------------------------------- the booking page

# ISO 4217 exponents other than 2, among the currencies Stripe takes (4500 USD is 45.00, 4500 JPY
# is 4500): the API counts minor units, people read major ones.
_CURRENCY_EXPONENTS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"), 0),
    **dict.fromkeys(("PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "JOD", "KWD", "OMR", "TND"), 3),
}


def format_amount(amount: int, currency: str) -> str:
    """``4500, "USD"`` -> ``"45.00 USD"``."""
    exponent = _CURRENCY_EXPONENTS.get(currency, 2)
    whole, fraction = divmod(amount, 10**exponent)
    return f"{whole:,}.{fraction:0{exponent}d} {currency}" if exponent else f"{whole:,} {currency}"


def prefers_html(accept: str) -> bool:
    """Whether an ``Accept`` header ranks HTML above JSON: browsers do; curl, requests and other
    programs send ``*/*`` or ask for JSON, and get JSON as before."""
    ranks = {"text/html": 0.0, "application/json": 0.0}
    for media_range in accept.split(","):
        media_type, *params = (part.strip() for part in media_range.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        for candidate in ranks:
            kind = candidate.split("/")[0]
            if media_type.lower() in (candidate, f"{kind}/*", "*/*"):
                ranks[candidate] = max(ranks[candidate], quality)
    return ranks["text/html"] > ranks["application/json"]


def booking_page(booking: Json, returned: str | None) -> str:
    """The customer's page for one booking. ``returned`` is the ``checkout`` hint of the return
    URL (``success`` or ``cancel``): it only picks the words, the status is the callback's."""
    status = str(booking["status"])
    pending = status == PENDING_PAYMENT
    mpesa = booking.get("payment_method") == MPESA
    pay_link = ""
    if booking.get("checkout_url"):
        pay_link = f' <a href="{html.escape(str(booking["checkout_url"]))}">Go to payment</a>'
    if status == CONFIRMED:
        lead = "Thank you: your payment arrived and the booking is confirmed."
    elif status == CANCELLED:
        lead = "This booking was cancelled: its payment failed or expired. Nothing was charged."
    elif mpesa:
        # No page to return from: the customer pays on the phone, the callback tells us.
        lead = html.escape(str(booking["customer_message"]))
        if booking.get("checkout_request_id"):
            lead = f"Waiting for M-PESA confirmation on your phone. {lead}"
        lead += " This page updates by itself."
    elif returned == "success":
        lead = "Thanks! We are confirming your payment; this page updates by itself."
    elif returned == "cancel":
        lead = "The payment was not completed." + pay_link
    else:
        lead = "Waiting for your payment." + pay_link
    rows = [
        ("Service", html.escape(str(booking["service"]))),
        ("Amount", html.escape(format_amount(int(booking["amount"]), str(booking["currency"])))),
        ("Booking", html.escape(str(booking["id"]))),
        ("Payment", html.escape(str(booking["payment_id"] or "not started"))),
    ]
    if mpesa:
        rows.append(("Payment method", "M-PESA"))
    elif booking.get("payment_method") == CRYPTO:
        rows.append(("Payment method", "Crypto (the coin is chosen on the payment page)"))
    details = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    # A meta refresh needs no script: the page asks again until the callback has settled it.
    refresh = f'<meta http-equiv="refresh" content="{PAGE_REFRESH_SECONDS}">' if pending else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">{refresh}
<title>Booking {html.escape(status)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;color:#1a1f36}}
#status{{display:inline-block;padding:.2rem .6rem;border-radius:4px;font-weight:600}}
.PENDING_PAYMENT{{background:#ffde92}}.CONFIRMED{{background:#cbf4c9}}
.CANCELLED{{background:#fde2dd}}dl{{display:grid;grid-template-columns:max-content auto;
gap:.3rem 1rem}}dt{{color:#697386}}dd{{margin:0}}</style></head>
<body><h1>Your booking</h1>
<p id="status" class="{html.escape(status)}">{html.escape(status)}</p>
<p id="lead">{lead}</p>
<dl>{details}</dl></body></html>
"""


# --------------------------------------------------------------------------- HTTP


class _Handler(JsonHandler["BookingsApp"]):
    server_version = "BookingsExample/1.0"

    def route_get(self, target: SplitResult) -> None:
        app, path = self.app, target.path
        if match := _BOOKING_PATH.fullmatch(path):
            booking = app.booking(match.group(1))
            if not prefers_html(self.headers.get("Accept", "")):
                self._found(booking, "booking_not_found", f"no booking {match.group(1)}")
            elif booking is None:
                self._html(404, "<!doctype html><title>Not found</title><p>No such booking.</p>")
            else:
                returned = (parse_qs(target.query).get("checkout") or [None])[0]
                self._html(200, booking_page(booking, returned))
        else:
            self._json(404, _error("not_found", "no such route"))

    def route_post(self, path: str, body: bytes) -> None:
        app = self.app
        if path == "/bookings":
            self._json(*app.create_booking(json_object(body)))
        elif match := _CHECKOUT_PATH.fullmatch(path):
            self._json(*app.start_checkout(match.group(1)))
        else:
            self._json(404, _error("not_found", "no such route"))

    def _json(self, status: int, body: Json, headers: Mapping[str, str] | None = None) -> None:
        extra: dict[str, str] = {}
        failure = body.get("error")
        if isinstance(failure, dict) and failure.get("retry_after_seconds") is not None:
            extra["Retry-After"] = str(failure["retry_after_seconds"])  # duplicate_push
        extra["Vary"] = "Accept"  # /bookings/<id> is also an HTML page
        super()._json(status, body, {**extra, **(headers or {})})

    def _html(self, status: int, document: str) -> None:
        data = document.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Vary", "Accept")
        self.end_headers()
        self.wfile.write(data)


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> None:
    """``python -m examples.bookings --api-base URL --api-key KEY --webhook-secret whsec_...``"""
    run(
        BookingsApp,
        argv,
        prog="python -m examples.bookings",
        description=__doc__,
        default_port=8080,
        title="Bookings",
    )
