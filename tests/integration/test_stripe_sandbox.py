"""The Stripe sandbox, driven by the official SDK, its hosted page and a webhook receiver.

Everything runs on 127.0.0.1: the sandbox, and a receiver that verifies every webhook with
``stripe.Webhook.construct_event`` (Stripe's own algorithm, not ours) before recording it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast

import pytest
import requests
import stripe

from devstack.sandboxes.stripe import Account, ChaosSettings, StripeSandbox

if TYPE_CHECKING:
    from stripe.params.checkout import SessionCreateParams

SUCCESS_URL = "http://127.0.0.1:9/shop/success?session={CHECKOUT_SESSION_ID}"
CANCEL_URL = "http://127.0.0.1:9/shop/cancel"


# --------------------------------------------------------------------------- fixtures


@dataclass
class WebhookReceiver:
    """A merchant's webhook endpoint: verifies each delivery with Stripe's SDK, records it."""

    secret: str = ""
    fail_first: int = 0  # answer 500 to this many deliveries first
    always_fail: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)  # verified, in arrival order
    rejected: list[stripe.SignatureVerificationError] = field(default_factory=list)
    attempts: int = 0
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/stripe"

    def receive(self, body: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            self.attempts += 1
            self.headers.append(headers)
            if self.always_fail or self.fail_first > 0:
                self.fail_first -= 1
                return 500
            try:
                event = stripe.Webhook.construct_event(
                    body, headers.get("Stripe-Signature"), self.secret, tolerance=300
                )
            except stripe.SignatureVerificationError as exc:
                self.rejected.append(exc)
                return 400
            self.events.append(event.to_dict())
            return 200

    def types(self) -> list[str]:
        with self.lock:
            return [event["type"] for event in self.events]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        with self.lock:
            return [event for event in self.events if event["type"] == event_type]


def start_receiver(receiver: WebhookReceiver) -> WebhookReceiver:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = receiver.receive(body, dict(self.headers.items()))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    receiver.server = server
    return receiver


@dataclass
class Merchant:
    account: Account
    client: stripe.StripeClient
    receiver: WebhookReceiver


@pytest.fixture(scope="module")
def sandbox() -> Iterator[StripeSandbox]:
    sandbox = StripeSandbox().start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(autouse=True)
def _calm_chaos(sandbox: StripeSandbox) -> Iterator[None]:
    sandbox.chaos = ChaosSettings()
    yield
    sandbox.chaos = ChaosSettings()


@pytest.fixture
def receivers() -> Iterator[Callable[..., WebhookReceiver]]:
    started: list[WebhookReceiver] = []

    def make(**settings: Any) -> WebhookReceiver:
        receiver = start_receiver(WebhookReceiver(**settings))
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        assert receiver.server is not None
        receiver.server.shutdown()
        receiver.server.server_close()


def client_for(sandbox: StripeSandbox, secret_key: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        secret_key, base_addresses={"api": sandbox.base_url}, max_network_retries=0
    )


@pytest.fixture
def merchant(sandbox: StripeSandbox, receivers: Callable[..., WebhookReceiver]) -> Merchant:
    account = sandbox.create_account()
    receiver = receivers()
    endpoint = sandbox.add_webhook_endpoint(account.secret_key, receiver.url)
    receiver.secret = endpoint["secret"]
    return Merchant(account, client_for(sandbox, account.secret_key), receiver)


@pytest.fixture
def browser() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy between us and 127.0.0.1
    return session


def session_params(**overrides: Any) -> SessionCreateParams:
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1000,
                    "product_data": {"name": "Token pack"},
                },
                "quantity": 1,
            }
        ],
        "success_url": SUCCESS_URL,
        "cancel_url": CANCEL_URL,
        "customer_email": "buyer@example.com",
        "client_reference_id": "pay_123",
        "metadata": {"payment_id": "pay_123", "tenant_id": "ten_1"},
        "payment_intent_data": {"metadata": {"payment_id": "pay_123", "tenant_id": "ten_1"}},
    }
    params.update(overrides)
    return cast("SessionCreateParams", params)


def paid_session(
    merchant: Merchant, browser: requests.Session, sandbox: StripeSandbox, **overrides: Any
) -> stripe.checkout.Session:
    session = merchant.client.v1.checkout.sessions.create(params=session_params(**overrides))
    response = browser.post(f"{session.url}/pay", allow_redirects=False)
    assert response.status_code == 303
    assert sandbox.wait_for_deliveries(timeout=10)
    return merchant.client.v1.checkout.sessions.retrieve(session.id)


# --------------------------------------------------------------------------- API behaviour


def test_unknown_or_missing_api_key_is_an_authentication_error(
    sandbox: StripeSandbox, browser: requests.Session
) -> None:
    bogus_key = "sk_test_" + "x" * 30 + "9876"
    with pytest.raises(stripe.AuthenticationError) as raised:
        client_for(sandbox, bogus_key).v1.customers.list()
    assert raised.value.http_status == 401
    message = str(raised.value.user_message)
    assert message.startswith("Invalid API Key provided: sk_test_")
    assert message.endswith("9876")
    assert bogus_key not in message

    response = browser.get(f"{sandbox.base_url}/v1/customers")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"success_url": None}, "success_url"),
        ({"mode": "subscription"}, "mode"),
        ({"line_items": None}, "line_items"),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "USD",
                            "unit_amount": 1000,
                            "product_data": {"name": "x"},
                        },
                        "quantity": 1,
                    }
                ]
            },
            "line_items[0][price_data][currency]",
        ),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": 0,
                            "product_data": {"name": "x"},
                        },
                        "quantity": 1,
                    }
                ]
            },
            "line_items[0][price_data][unit_amount]",
        ),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": 1000,
                            "product_data": {"name": "x"},
                        },
                        "quantity": 0,
                    }
                ]
            },
            "line_items[0][quantity]",
        ),
        (
            {
                "line_items": [
                    {"price_data": {"currency": "usd", "unit_amount": 1000}, "quantity": 1}
                ]
            },
            "line_items[0][price_data][product_data]",
        ),
        ({"metadata": {f"k{i}": "v" for i in range(51)}}, "metadata"),
        ({"metadata": {"k" * 41: "v"}}, f"metadata[{'k' * 41}]"),
        ({"metadata": {"order": "v" * 501}}, "metadata[order]"),
        (
            {"payment_intent_data": {"metadata": {"order": "v" * 501}}},
            "payment_intent_data[metadata][order]",
        ),
        ({"expires_at": int(time.time()) + 600}, "expires_at"),
        ({"expires_at": int(time.time()) + 25 * 3600}, "expires_at"),
        ({"customer": "cus_doesnotexist", "customer_email": None}, "customer"),
        ({"customer": "cus_x", "customer_email": "a@example.com"}, "customer_email"),
        ({"client_reference_id": "r" * 201}, "client_reference_id"),
        ({"customer_email": "not-an-email"}, "customer_email"),
        ({"success_url": "javascript:alert(1)"}, "success_url"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_checkout_params_name_the_param(
    sandbox: StripeSandbox, overrides: dict[str, Any], param: str
) -> None:
    account = sandbox.create_account()
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client_for(sandbox, account.secret_key).v1.checkout.sessions.create(
            params=session_params(**overrides)
        )
    assert raised.value.http_status == 400
    assert raised.value.param == param


def test_checkout_session_is_shaped_like_stripe(sandbox: StripeSandbox, merchant: Merchant) -> None:
    expires_at = int(time.time()) + 3600
    session = merchant.client.v1.checkout.sessions.create(
        params=session_params(
            expires_at=expires_at,
            line_items=[
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 1250,
                        "product_data": {"name": "Token pack"},
                    },
                    "quantity": 2,
                }
            ],
        )
    )
    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.url == f"{sandbox.base_url}/pay/{session.id}"
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "payment")
    assert (session.amount_total, session.currency) == (2500, "usd")
    assert session.payment_intent is None
    assert session.customer_email == "buyer@example.com"
    assert session.client_reference_id == "pay_123"
    assert session.metadata is not None
    assert session.metadata.to_dict() == {"payment_id": "pay_123", "tenant_id": "ten_1"}
    assert session.expires_at == expires_at
    assert session.livemode is False
    assert abs(session.created - time.time()) < 5

    again = merchant.client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["line_items"]}
    )
    assert again.id == session.id
    assert again.line_items is not None
    item = again.line_items.data[0]
    assert item.quantity == 2
    assert item.price is not None
    assert item.price.unit_amount == 1250


def test_default_expiry_is_24_hours(merchant: Merchant) -> None:
    session = merchant.client.v1.checkout.sessions.create(params=session_params())
    assert session.expires_at - session.created == 24 * 3600


def test_customers_create_list_and_use_in_sessions(merchant: Merchant) -> None:
    customers = merchant.client.v1.customers
    alice = customers.create(params={"email": "alice@example.com", "name": "Alice"})
    customers.create(params={"email": "bob@example.com"})
    found = customers.list(params={"email": "alice@example.com", "limit": 5})
    assert found["object"] == "list"
    assert found.url == "/v1/customers"
    assert [customer.id for customer in found.data] == [alice.id]
    assert len(customers.list(params={"limit": 1}).data) == 1

    session = merchant.client.v1.checkout.sessions.create(
        params=session_params(customer=alice.id, customer_email=None)
    )
    assert session.customer == alice.id


# --------------------------------------------------------------------------- idempotency


def test_idempotent_replay_and_mismatch(sandbox: StripeSandbox, merchant: Merchant) -> None:
    sessions = merchant.client.v1.checkout.sessions
    first = sessions.create(params=session_params(), options={"idempotency_key": "order-1"})
    replay = sessions.create(params=session_params(), options={"idempotency_key": "order-1"})
    assert replay.id == first.id
    assert replay.last_response is not None
    assert replay.last_response.headers.get("Idempotent-Replayed") == "true"

    with pytest.raises(stripe.IdempotencyError):
        sessions.create(
            params=session_params(client_reference_id="other"),
            options={"idempotency_key": "order-1"},
        )
    with pytest.raises(stripe.InvalidRequestError):
        sessions.create(params=session_params(), options={"idempotency_key": "k" * 256})

    # Keys belong to one account: another account's "order-1" is a new request.
    other = client_for(sandbox, sandbox.create_account().secret_key)
    elsewhere = other.v1.checkout.sessions.create(
        params=session_params(), options={"idempotency_key": "order-1"}
    )
    assert elsewhere.id != first.id


def test_concurrent_creates_with_one_key_make_one_session(
    sandbox: StripeSandbox, merchant: Merchant
) -> None:
    def create(_: int) -> str:
        client = client_for(sandbox, merchant.account.secret_key)
        session = client.v1.checkout.sessions.create(
            params=session_params(), options={"idempotency_key": "race-1"}
        )
        return str(session.id)

    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = set(pool.map(create, range(10)))
    assert len(ids) == 1
    listed = merchant.client.v1.checkout.sessions.list(params={"limit": 100})
    assert [session.id for session in listed.data] == list(ids)


# --------------------------------------------------------------------------- hosted page + webhooks


def test_pay_sends_signed_webhooks_in_order(
    sandbox: StripeSandbox, merchant: Merchant, browser: requests.Session
) -> None:
    session = merchant.client.v1.checkout.sessions.create(
        params=session_params(), options={"idempotency_key": "pay-flow"}
    )
    page = browser.get(str(session.url))
    assert page.status_code == 200
    assert "10.00 USD" in page.text
    assert f"/pay/{session.id}/pay" in page.text

    response = browser.post(f"{session.url}/pay", allow_redirects=False)
    assert response.status_code == 303
    assert response.headers["Location"] == SUCCESS_URL.replace("{CHECKOUT_SESSION_ID}", session.id)
    assert sandbox.wait_for_deliveries(timeout=10)

    receiver = merchant.receiver
    assert not receiver.rejected
    types = receiver.types()
    assert types.index("checkout.session.completed") < types.index("payment_intent.succeeded")
    assert "charge.succeeded" in types
    headers = receiver.headers[0]
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["User-Agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"

    completed = receiver.of_type("checkout.session.completed")[0]
    assert completed["object"] == "event"
    assert completed["livemode"] is False
    assert completed["request"] == {"id": None, "idempotency_key": None}
    completed_session = completed["data"]["object"]
    assert completed_session["id"] == session.id
    assert completed_session["payment_status"] == "paid"
    assert completed_session["metadata"] == {"payment_id": "pay_123", "tenant_id": "ten_1"}
    intent = receiver.of_type("payment_intent.succeeded")[0]["data"]["object"]
    assert intent["id"] == completed_session["payment_intent"]
    assert intent["metadata"] == {"payment_id": "pay_123", "tenant_id": "ten_1"}
    charge = receiver.of_type("charge.succeeded")[0]["data"]["object"]
    assert charge["metadata"] == intent["metadata"]
    assert charge["payment_intent"] == intent["id"]

    current = merchant.client.v1.checkout.sessions.retrieve(session.id)
    assert (current.status, current.payment_status) == ("complete", "paid")
    assert current.payment_intent == intent["id"]
    stored_intent = merchant.client.v1.payment_intents.retrieve(intent["id"])
    assert stored_intent.status == "succeeded"
    assert stored_intent.latest_charge == charge["id"]
    assert merchant.client.v1.charges.retrieve(charge["id"]).amount == 1000

    listed = merchant.client.v1.events.list(params={"type": "checkout.session.completed"})
    assert [event.id for event in listed.data] == [completed["id"]]


def test_second_pay_is_refused_without_a_second_charge(
    sandbox: StripeSandbox, merchant: Merchant, browser: requests.Session
) -> None:
    session = paid_session(merchant, browser, sandbox)
    again = browser.post(f"{sandbox.base_url}/pay/{session.id}/pay", allow_redirects=False)
    assert again.status_code == 409
    assert "complete" in again.text
    assert "<form" not in again.text
    assert sandbox.wait_for_deliveries(timeout=10)
    assert merchant.receiver.types().count("charge.succeeded") == 1


def test_checkout_page_escapes_text_and_formats_amounts(
    merchant: Merchant, browser: requests.Session
) -> None:
    session = merchant.client.v1.checkout.sessions.create(
        params=session_params(
            line_items=[
                {
                    "price_data": {
                        "currency": "jpy",
                        "unit_amount": 1500,
                        "product_data": {"name": "<script>alert(1)</script>"},
                    },
                    "quantity": 1,
                }
            ],
            customer_email="x&y@example.com",
        )
    )
    page = browser.get(str(session.url)).text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "1,500 JPY" in page
    assert "x&amp;y@example.com" in page


def test_decline_fails_the_intent_and_keeps_the_session_open(
    sandbox: StripeSandbox, merchant: Merchant, browser: requests.Session
) -> None:
    session = merchant.client.v1.checkout.sessions.create(params=session_params())
    response = browser.post(f"{session.url}/decline", allow_redirects=False)
    assert response.status_code == 303
    assert response.headers["Location"] == CANCEL_URL
    assert sandbox.wait_for_deliveries(timeout=10)

    assert merchant.receiver.types() == ["payment_intent.payment_failed"]
    intent = merchant.receiver.events[0]["data"]["object"]
    assert intent["status"] == "requires_payment_method"
    assert intent["last_payment_error"]["code"] == "card_declined"
    assert intent["metadata"] == {"payment_id": "pay_123", "tenant_id": "ten_1"}
    assert merchant.client.v1.checkout.sessions.retrieve(session.id).status == "open"

    # The buyer tries again with another card: same PaymentIntent, now paid.
    browser.post(f"{sandbox.base_url}/pay/{session.id}/pay", allow_redirects=False)
    assert sandbox.wait_for_deliveries(timeout=10)
    paid = merchant.receiver.of_type("payment_intent.succeeded")[0]["data"]["object"]
    assert paid["id"] == intent["id"]


def test_delayed_payment_settles_or_fails_later(
    sandbox: StripeSandbox, merchant: Merchant, browser: requests.Session
) -> None:
    settles = merchant.client.v1.checkout.sessions.create(params=session_params())
    fails = merchant.client.v1.checkout.sessions.create(params=session_params())
    for session in (settles, fails):
        response = browser.post(f"{session.url}/pay_delayed", allow_redirects=False)
        assert response.status_code == 303
    assert sandbox.wait_for_deliveries(timeout=10)
    completed = merchant.receiver.of_type("checkout.session.completed")
    assert [event["data"]["object"]["payment_status"] for event in completed] == [
        "unpaid",
        "unpaid",
    ]
    assert "payment_intent.succeeded" not in merchant.receiver.types()

    admin = f"{sandbox.base_url}/_sandbox/checkout/sessions"
    assert browser.post(f"{admin}/{settles.id}/async_succeed").status_code == 200
    assert browser.post(f"{admin}/{fails.id}/async_fail").status_code == 200
    assert browser.post(f"{admin}/{fails.id}/async_succeed").status_code == 400
    assert sandbox.wait_for_deliveries(timeout=10)

    types = merchant.receiver.types()
    assert types.index("checkout.session.async_payment_succeeded") < types.index(
        "payment_intent.succeeded"
    )
    assert "checkout.session.async_payment_failed" in types
    assert "payment_intent.payment_failed" in types
    succeeded = merchant.receiver.of_type("checkout.session.async_payment_succeeded")[0]
    assert succeeded["data"]["object"]["id"] == settles.id
    assert succeeded["data"]["object"]["payment_status"] == "paid"
    failed = merchant.receiver.of_type("checkout.session.async_payment_failed")[0]
    assert failed["data"]["object"]["id"] == fails.id
    assert merchant.client.v1.checkout.sessions.retrieve(settles.id).payment_status == "paid"


# --------------------------------------------------------------------------- refunds and disputes


def test_partial_and_full_refunds(
    sandbox: StripeSandbox, merchant: Merchant, browser: requests.Session
) -> None:
    session = paid_session(merchant, browser, sandbox)
    intent_id = str(session.payment_intent)
    refunds = merchant.client.v1.refunds

    partial = refunds.create(
        params={"payment_intent": intent_id, "amount": 300, "reason": "requested_by_customer"},
        options={"idempotency_key": "refund-1"},
    )
    assert (partial.object, partial.amount, partial.status) == ("refund", 300, "succeeded")
    assert partial.payment_intent == intent_id
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        refunds.create(params={"payment_intent": intent_id, "amount": 800})
    assert (too_much.value.code, too_much.value.param) == ("amount_too_large", "amount")
    with pytest.raises(stripe.InvalidRequestError) as bad_reason:
        refunds.create(params={"payment_intent": intent_id, "reason": "changed_my_mind"})
    assert bad_reason.value.param == "reason"

    rest = refunds.create(params={"charge": str(partial.charge), "metadata": {"ticket": "T-1"}})
    assert rest.amount == 700
    assert rest.metadata is not None
    assert rest.metadata.to_dict() == {"ticket": "T-1"}
    with pytest.raises(stripe.InvalidRequestError) as exhausted:
        refunds.create(params={"payment_intent": intent_id, "amount": 1})
    assert exhausted.value.code == "charge_already_refunded"
    assert refunds.retrieve(partial.id).amount == 300

    assert sandbox.wait_for_deliveries(timeout=10)
    refunded = merchant.receiver.of_type("charge.refunded")
    assert [event["data"]["object"]["amount_refunded"] for event in refunded] == [300, 1000]
    assert [event["data"]["object"]["refunded"] for event in refunded] == [False, True]
    assert {item["id"] for item in refunded[1]["data"]["object"]["refunds"]["data"]} == {
        partial.id,
        rest.id,
    }
    assert refunded[0]["data"]["object"]["metadata"] == {
        "payment_id": "pay_123",
        "tenant_id": "ten_1",
    }
    assert refunded[0]["request"]["idempotency_key"] == "refund-1"


def test_pending_refund_succeeds_after_the_delay(
    sandbox: StripeSandbox, merchant: Merchant, browser: requests.Session
) -> None:
    session = paid_session(merchant, browser, sandbox)
    sandbox.chaos.refund_delay_seconds = 0.3
    refund = merchant.client.v1.refunds.create(
        params={"payment_intent": str(session.payment_intent)}
    )
    assert refund.status == "pending"
    # Pending money counts: refunding it again is refused.
    with pytest.raises(stripe.InvalidRequestError):
        merchant.client.v1.refunds.create(params={"payment_intent": str(session.payment_intent)})
    assert sandbox.wait_for_deliveries(timeout=10)
    assert merchant.client.v1.refunds.retrieve(refund.id).status == "succeeded"
    charge_refunded = merchant.receiver.of_type("charge.refunded")
    assert len(charge_refunded) == 1
    assert charge_refunded[0]["data"]["object"]["refunded"] is True
    assert charge_refunded[0]["request"]["id"] is None
    updated = merchant.receiver.of_type("refund.updated")
    assert updated[0]["data"]["object"]["status"] == "succeeded"


def test_dashboard_refund_and_dispute_arrive_only_as_webhooks(
    sandbox: StripeSandbox, merchant: Merchant, browser: requests.Session
) -> None:
    session = paid_session(merchant, browser, sandbox)
    charge_id = str(
        merchant.client.v1.payment_intents.retrieve(str(session.payment_intent)).latest_charge
    )

    response = browser.post(
        f"{sandbox.base_url}/_sandbox/charges/{charge_id}/refund", json={"amount": 400}
    )
    assert response.status_code == 200
    assert response.json()["amount"] == 400
    assert (
        browser.post(
            f"{sandbox.base_url}/_sandbox/charges/{charge_id}/refund", json={"amount": 601}
        ).json()["error"]["code"]
        == "amount_too_large"
    )
    dispute = browser.post(f"{sandbox.base_url}/_sandbox/charges/{charge_id}/dispute", json={})
    assert dispute.status_code == 200
    assert sandbox.wait_for_deliveries(timeout=10)

    refunded = merchant.receiver.of_type("charge.refunded")[0]
    assert refunded["data"]["object"]["id"] == charge_id
    assert refunded["data"]["object"]["amount_refunded"] == 400
    assert refunded["request"]["idempotency_key"] is None
    created = merchant.receiver.of_type("charge.dispute.created")[0]["data"]["object"]
    assert created["object"] == "dispute"
    assert (created["charge"], created["payment_intent"]) == (charge_id, session.payment_intent)
    with pytest.raises(stripe.InvalidRequestError) as disputed:
        merchant.client.v1.refunds.create(params={"charge": charge_id})
    assert disputed.value.code == "charge_disputed"


# --------------------------------------------------------------------------- chaos


def test_chaos_duplicates_and_shuffle(
    sandbox: StripeSandbox, merchant: Merchant, browser: requests.Session
) -> None:
    response = browser.post(
        f"{sandbox.base_url}/_sandbox/chaos", json={"duplicate_deliveries": 2, "shuffle": True}
    )
    assert response.json()["duplicate_deliveries"] == 2
    assert sandbox.chaos.shuffle is True
    paid_session(merchant, browser, sandbox)

    counts = Counter(event["id"] for event in merchant.receiver.events)
    assert len(counts) == 3
    assert set(counts.values()) == {3}
    assert Counter(merchant.receiver.types()) == {
        "checkout.session.completed": 3,
        "payment_intent.succeeded": 3,
        "charge.succeeded": 3,
    }


def test_chaos_reverse_delivers_newest_first(
    sandbox: StripeSandbox, merchant: Merchant, browser: requests.Session
) -> None:
    sandbox.chaos.reverse = True
    paid_session(merchant, browser, sandbox)
    assert merchant.receiver.types() == [
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ]


def test_stale_signature_is_rejected_then_the_retry_passes(
    sandbox: StripeSandbox, merchant: Merchant
) -> None:
    sandbox.chaos.stale_signature = True
    merchant.client.v1.customers.create(params={"email": "late@example.com"})
    deadline = time.monotonic() + 5
    while not merchant.receiver.rejected and time.monotonic() < deadline:
        time.sleep(0.02)
    sandbox.chaos.stale_signature = False
    assert merchant.receiver.rejected
    assert "Timestamp outside the tolerance zone" in str(merchant.receiver.rejected[0])
    # The signature itself is valid: only its age fails, and Stripe's retry is signed afresh.
    assert sandbox.wait_for_deliveries(timeout=10)
    assert merchant.receiver.types() == ["customer.created"]


def test_failed_deliveries_are_retried_then_reported(
    sandbox: StripeSandbox, receivers: Callable[..., WebhookReceiver]
) -> None:
    account = sandbox.create_account()
    client = client_for(sandbox, account.secret_key)
    flaky = receivers(fail_first=2)
    down = receivers(always_fail=True)
    for receiver in (flaky, down):
        receiver.secret = sandbox.add_webhook_endpoint(
            account.secret_key, receiver.url, ["customer.created"]
        )["secret"]

    customer = client.v1.customers.create(params={"email": "retry@example.com"})
    started = time.monotonic()
    assert sandbox.wait_for_deliveries(timeout=15)
    assert time.monotonic() - started >= sum((0.2, 0.5, 1.0, 2.0)) - 0.2

    assert flaky.attempts == 3
    assert [event["data"]["object"]["id"] for event in flaky.events] == [customer.id]
    assert down.attempts == 5
    failed = client.v1.events.list(params={"delivery_success": False})
    assert [event.type for event in failed.data] == ["customer.created"]
    assert failed.data[0].pending_webhooks == 1
    assert client.v1.events.list(params={"delivery_success": True}).data == []


def test_enabled_events_filter_deliveries(
    sandbox: StripeSandbox,
    browser: requests.Session,
    receivers: Callable[..., WebhookReceiver],
) -> None:
    account = sandbox.create_account()
    client = client_for(sandbox, account.secret_key)
    receiver = receivers()
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": receiver.url, "enabled_events": ["payment_intent.succeeded"]}
    )
    assert endpoint.secret is not None
    assert endpoint.secret.startswith("whsec_")
    receiver.secret = endpoint.secret
    listed = client.v1.webhook_endpoints.list()
    assert [item.id for item in listed.data] == [endpoint.id]
    assert "secret" not in listed.data[0]
    with pytest.raises(stripe.InvalidRequestError) as outside:
        client.v1.webhook_endpoints.create(
            params={"url": "https://example.com/hook", "enabled_events": ["*"]}
        )
    assert outside.value.param == "url"

    session = client.v1.checkout.sessions.create(params=session_params())
    browser.post(f"{session.url}/pay", allow_redirects=False)
    assert sandbox.wait_for_deliveries(timeout=10)
    assert receiver.types() == ["payment_intent.succeeded"]


# --------------------------------------------------------------------------- isolation and expiry


def test_accounts_cannot_see_each_others_objects(
    sandbox: StripeSandbox, merchant: Merchant, browser: requests.Session
) -> None:
    session = paid_session(merchant, browser, sandbox)
    intruder = client_for(sandbox, sandbox.create_account().secret_key)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        intruder.v1.checkout.sessions.retrieve(session.id)
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError) as foreign_refund:
        intruder.v1.refunds.create(params={"payment_intent": str(session.payment_intent)})
    assert foreign_refund.value.code == "resource_missing"
    assert intruder.v1.events.list().data == []


def test_expiry_by_api_and_by_clock() -> None:
    with StripeSandbox() as sandbox:
        account = sandbox.create_account()
        client = client_for(sandbox, account.secret_key)
        expired = client.v1.checkout.sessions.expire(
            client.v1.checkout.sessions.create(params=session_params()).id
        )
        assert (expired.status, expired.url) == ("expired", None)
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.checkout.sessions.expire(expired.id)

        lapsing = client.v1.checkout.sessions.create(
            params=session_params(expires_at=int(time.time()) + 1800)
        )
        sandbox.advance_clock(1801)
        for _ in range(2):
            assert client.v1.checkout.sessions.retrieve(lapsing.id).status == "expired"
        events = client.v1.events.list(params={"type": "checkout.session.expired"})
        assert sorted(event.data.object.id for event in events.data) == sorted(
            [expired.id, lapsing.id]
        )
        page = requests.post(
            f"{sandbox.base_url}/pay/{lapsing.id}/pay", allow_redirects=False, timeout=10
        )
        assert page.status_code == 409


# --------------------------------------------------------------------------- wire format and admin


def test_wire_format_checks(sandbox: StripeSandbox, browser: requests.Session) -> None:
    account = sandbox.create_account()
    auth = {"Authorization": f"Bearer {account.secret_key}"}
    as_json = browser.post(
        f"{sandbox.base_url}/v1/customers", json={"email": "a@example.com"}, headers=auth
    )
    assert as_json.status_code == 400
    form = browser.post(
        f"{sandbox.base_url}/v1/customers",
        data={"email": "a@example.com", "metadata[tier]": "gold", "expand[]": "invoice_prefix"},
        headers=auth,
    )
    assert form.status_code == 400
    assert form.json()["error"]["param"] == "expand"
    ok = browser.post(
        f"{sandbox.base_url}/v1/customers",
        data={"email": "a@example.com", "metadata[tier]": "gold"},
        headers=auth,
    )
    assert ok.json()["metadata"] == {"tier": "gold"}
    assert ok.headers["Request-Id"].startswith("req_")
    unknown = browser.get(f"{sandbox.base_url}/v1/nothing_here", headers=auth)
    assert unknown.status_code == 404


def test_admin_http_endpoints(sandbox: StripeSandbox, browser: requests.Session) -> None:
    created = browser.post(f"{sandbox.base_url}/_sandbox/accounts", json={}).json()
    assert created["id"].startswith("acct_")
    assert created["secret_key"].startswith("sk_test_")
    chosen = browser.post(
        f"{sandbox.base_url}/_sandbox/accounts", json={"secret_key": "sk_test_devstack_0001"}
    ).json()
    assert chosen["secret_key"] == "sk_test_devstack_0001"
    client = client_for(sandbox, "sk_test_devstack_0001")
    assert client.v1.customers.list().data == []

    bad = browser.post(f"{sandbox.base_url}/_sandbox/chaos", json={"shuffle": "yes"})
    assert bad.status_code == 400
    assert sandbox.chaos.shuffle is False
    waited = browser.post(f"{sandbox.base_url}/_sandbox/wait_for_deliveries", json={"timeout": 5})
    assert waited.json() == {"idle": True}
    missing = browser.post(f"{sandbox.base_url}/_sandbox/charges/ch_nope/refund", json={})
    assert missing.status_code == 404
    assert json.loads(missing.text)["error"]["code"] == "resource_missing"


def test_balance_is_what_paid_charges_left_and_a_revoked_key_is_refused(
    sandbox: StripeSandbox, merchant: Merchant, browser: requests.Session
) -> None:
    """GET /v1/balance, the read a credential test makes: real for a valid key, Stripe's 401
    error shape for a revoked one."""
    empty = merchant.client.v1.balance.retrieve()
    assert (empty.object, empty.livemode) == ("balance", False)
    assert [(b.amount, b.currency) for b in empty.available] == [(0, "usd")]
    session = paid_session(merchant, browser, sandbox)
    merchant.client.v1.refunds.create(
        params={"payment_intent": str(session.payment_intent), "amount": 300}
    )
    balance = merchant.client.v1.balance.retrieve()
    assert [(b.amount, b.currency) for b in balance.available] == [(700, "usd")]
    assert [b.amount for b in balance.pending] == [0]

    key = merchant.account.secret_key
    sandbox.revoke_key(key)
    response = browser.get(
        f"{sandbox.base_url}/v1/balance", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "api_key_expired")
    assert error["message"] == f"Expired API Key provided: sk_test_****{key[-4:]}"
    with pytest.raises(stripe.AuthenticationError):
        merchant.client.v1.balance.retrieve()
