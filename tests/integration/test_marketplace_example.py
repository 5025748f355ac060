"""examples/marketplace against a fake payments API, with callbacks signed by standardwebhooks.

As for the bookings example (test_bookings_example.py, whose signing helpers these tests use):
everything runs on 127.0.0.1, the fake API (a ThreadingHTTPServer that records each request and
answers ``/v1/profiles`` and ``/v1/trades`` like the real one), the example app's own server, and
the test that plays the callback sender.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest
import requests

from examples.marketplace import CALLBACK_EVENT_TYPES, MarketplaceApp
from tests.integration.test_bookings_example import (
    _bad_signature_cases,
    new_secret,
    signed_headers,
)

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "pk_test_marketplace_example_key"
WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
ACME = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"


# --------------------------------------------------------------------------- the fake payments API


@dataclass
class FakeMarketApi:
    """``POST /dev/v1/profiles`` and ``/dev/v1/trades``: records each request; the same
    Idempotency-Key answers the same object; a trade for a profile not in ``verified`` is 409
    ``profile_not_verified``, as the real API answers."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    scripted: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # answered first
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # idempotency key -> answer
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # profile id -> request
    trades: dict[str, dict[str, Any]] = field(default_factory=dict)  # trade id -> request
    verified: set[str] = field(default_factory=set)  # profile ids the bank has verified
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/dev"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        with self.lock:
            request = json.loads(body)
            self.requests.append({"path": path, "headers": headers, "body": request})
            if self.scripted:
                return self.scripted.pop(0)
            key = headers["idempotency-key"]
            if key in self.answers:
                return 200, self.answers[key]
            if path == "/dev/v1/profiles":
                profile_id = f"prf_{uuid.uuid4().hex}"
                self.profiles[profile_id] = request
                answer = {
                    "profile_id": profile_id,
                    "external_customer_id": request["external_customer_id"],
                    "cprn": f"CPRN-{uuid.uuid4().hex[:12].upper()}",
                    "status": "pending",
                    "verified": False,
                }
            elif path == "/dev/v1/trades":
                if request["profile_id"] not in self.verified:
                    message = f"profile {request['profile_id']} is not verified"
                    return 409, {"error": {"code": "profile_not_verified", "message": message}}
                trade_id = f"pay_{uuid.uuid4().hex}"
                self.trades[trade_id] = request
                answer = {
                    "trade_id": trade_id,
                    "tx_id": f"TXN-{uuid.uuid4().hex[:16].upper()}",
                    "status": "pending",
                    "settlement": "pending",
                }
            else:
                return 404, {"error": {"code": "route_not_found", "message": "No such route"}}
            self.answers[key] = answer
            return 201, answer


class _FakeApiHandler(BaseHTTPRequestHandler):
    fake: FakeMarketApi

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, answer = self.fake.answer(self.path, headers, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def api() -> Iterator[FakeMarketApi]:
    fake = FakeMarketApi()
    handler = type("Handler", (_FakeApiHandler,), {"fake": fake})
    fake.server = server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    yield fake
    server.shutdown()
    server.server_close()


secret = pytest.fixture(new_secret, name="secret")  # a new endpoint secret (whsec_...) per test


@pytest.fixture
def app(api: FakeMarketApi, secret: str) -> Iterator[MarketplaceApp]:
    with MarketplaceApp(api.base, API_KEY, [secret]) as running:
        yield running


@pytest.fixture
def delivered(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The ``marketplace`` logger's lines; :func:`delivery_lines` picks the deliveries."""
    caplog.set_level(logging.INFO, logger="marketplace")
    return caplog


def delivery_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "marketplace" and record.getMessage().startswith("delivering ")
    ]


# --------------------------------------------------------------------------- helpers


def post(app: MarketplaceApp, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{app.base_url}{path}", json=body, timeout=10)


def get(app: MarketplaceApp, path: str) -> dict[str, Any]:
    response = requests.get(f"{app.base_url}{path}", timeout=5)
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


def register(app: MarketplaceApp, user_id: str = "user_1") -> requests.Response:
    return post(
        app,
        "/buyers",
        {"user_id": user_id, "email": "ada@example.com", "name": "Ada", "wallet_address": WALLET},
    )


def order(app: MarketplaceApp, user_id: str = "user_1", **overrides: Any) -> requests.Response:
    body = {
        "user_id": user_id,
        "token_contract_address": ACME,
        "token_symbol": "ACME",
        "token_quantity": "10.5",
        "amount": 25000,
        "currency": "USD",
        **overrides,
    }
    return post(app, "/orders", body)


def deliver(app: MarketplaceApp, body: str | bytes, headers: dict[str, str]) -> requests.Response:
    data = body.encode() if isinstance(body, str) else body
    return requests.post(f"{app.base_url}/webhooks/payments", data=data, headers=headers, timeout=5)


def callback(event_type: str, data: dict[str, Any]) -> str:
    body = {"type": event_type, "timestamp": "2026-12-02T10:00:00.000Z", "data": data}
    return json.dumps(body, separators=(",", ":"))


def send(
    app: MarketplaceApp,
    secret: str,
    event_type: str,
    data: dict[str, Any],
    msg_id: str | None = None,
) -> requests.Response:
    body = callback(event_type, data)
    return deliver(app, body, signed_headers([secret], body, msg_id))


def profile_data(api: FakeMarketApi, buyer: dict[str, Any]) -> dict[str, Any]:
    """``data`` of a profile.* callback for the buyer, as the API sends it (no contact details)."""
    return {
        "profile": {
            "profile_id": buyer["profile_id"],
            "external_customer_id": buyer["user_id"],
            "provider": "neobank",
            "cprn": buyer["cprn"],
            "status": "verified",
            "verified": True,
            "wallet_address": WALLET,
            "failure": None,
        }
    }


def trade_data(api: FakeMarketApi, placed: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``data`` of a trade.* callback for an order: GET /v1/trades/{id}'s view."""
    request = api.trades[placed["trade_id"]]
    trade = {
        "trade_id": placed["trade_id"],
        "payment_id": placed["trade_id"],
        "profile_id": request["profile_id"],
        "status": "succeeded",
        "settlement": "in_transit",
        "amount": request["amount"],
        "currency": request["currency"],
        "description": request.get("description"),
        "token": {
            "contract_address": request["token_contract_address"],
            "symbol": request["token_symbol"],
            "quantity": request["token_quantity"],
        },
        "wallet_address": WALLET,
        "tx_id": placed["tx_id"],
        **changes,
    }
    return {"trade": trade}


SETTLED = {"status": "settled", "settlement": "settled"}


def verified_buyer(app: MarketplaceApp, api: FakeMarketApi, secret: str) -> dict[str, Any]:
    """A buyer registered and verified by the bank's (the API's) profile.verified callback."""
    response = register(app)
    assert response.status_code == 201, response.text
    buyer = cast(dict[str, Any], response.json())
    api.verified.add(buyer["profile_id"])
    assert send(app, secret, "profile.verified", profile_data(api, buyer)).status_code == 204
    return get(app, f"/buyers/{buyer['user_id']}")


def placed_order(app: MarketplaceApp, api: FakeMarketApi, secret: str) -> dict[str, Any]:
    verified_buyer(app, api, secret)
    response = order(app)
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())


def deliveries(app: MarketplaceApp) -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], get(app, "/_test/deliveries")["data"])


def transfers(app: MarketplaceApp) -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], get(app, "/_test/transfers")["data"])


# --------------------------------------------------------------------------- the whole flow


def test_register_verify_order_clear_settle_delivers_the_tokens_once(
    app: MarketplaceApp, api: FakeMarketApi, secret: str, delivered: pytest.LogCaptureFixture
) -> None:
    # Register: POST /v1/profiles with our key and an Idempotency-Key from the user id.
    registered = register(app)
    assert registered.status_code == 201, registered.text
    buyer = registered.json()
    assert buyer["verified"] is False
    assert buyer["profile_id"].startswith("prf_")
    sent = api.requests[0]
    assert sent["path"] == "/dev/v1/profiles"
    assert sent["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert sent["headers"]["idempotency-key"] == "buyer-user_1"
    assert sent["body"] == {
        "external_customer_id": "user_1",
        "email": "ada@example.com",
        "name": "Ada",
        "wallet_address": WALLET,
    }

    # The bank verifies; profile.verified reaches us.
    api.verified.add(buyer["profile_id"])
    assert send(app, secret, "profile.verified", profile_data(api, buyer)).status_code == 204
    assert get(app, "/buyers/user_1")["verified"] is True

    # Order: POST /v1/trades for the buyer's profile, one Idempotency-Key per order.
    ordered = order(app)
    assert ordered.status_code == 201, ordered.text
    placed = ordered.json()
    assert placed["status"] == "AWAITING_PAYMENT"
    assert placed["trade_id"].startswith("pay_")
    assert placed["tx_id"].startswith("TXN-")
    trade_request = api.requests[-1]
    assert trade_request["path"] == "/dev/v1/trades"
    assert trade_request["headers"]["idempotency-key"] == f"order-{placed['id']}-trade"
    assert trade_request["body"] == {
        "profile_id": buyer["profile_id"],
        "token_contract_address": ACME,
        "token_symbol": "ACME",
        "token_quantity": "10.5",
        "amount": 25000,
        "currency": "USD",
        "description": f"10.5 ACME (order {placed['id']})",
    }

    # The funds clear: PAID, nothing delivered yet.
    assert send(app, secret, "trade.succeeded", trade_data(api, placed)).status_code == 204
    paid = get(app, f"/orders/{placed['id']}")
    assert (paid["status"], paid["delivery"], paid["delivered_at"]) == ("PAID", None, None)
    assert delivery_lines(delivered) == []

    # The trade settles: SETTLED and the tokens go out, once, however often it is delivered.
    body = callback("trade.settled", trade_data(api, placed, **SETTLED))
    headers = signed_headers([secret], body)
    assert deliver(app, body, headers).status_code == 204
    assert deliver(app, body, headers).status_code == 204  # a redelivery: same webhook-id
    again = signed_headers([secret], body)  # a new event id for the same trade's settlement
    assert again["webhook-id"] != headers["webhook-id"]
    assert deliver(app, body, again).status_code == 204

    settled = get(app, f"/orders/{placed['id']}")
    assert settled["status"] == "SETTLED"
    assert settled["settlement"] == "settled"
    assert settled["delivered_at"]
    assert settled["delivery"] == {
        "order_id": placed["id"],
        "trade_id": placed["trade_id"],
        "tx_id": placed["tx_id"],
        "to": WALLET,
        "token": {"contract_address": ACME, "symbol": "ACME", "quantity": "10.5"},
    }
    assert delivery_lines(delivered) == [
        f"delivering 10.5 ACME ({ACME}) to {WALLET} for order {placed['id']}"
    ]
    assert [t["trade_id"] for t in transfers(app)] == [placed["trade_id"]]
    outcomes = [(d["type"], d["outcome"], d["detail"]) for d in deliveries(app)][-3:]
    assert outcomes == [
        ("trade.settled", "verified", f"order {placed['id']} SETTLED, tokens delivered"),
        ("trade.settled", "duplicate", None),
        ("trade.settled", "verified", f"order {placed['id']} SETTLED, tokens already delivered"),
    ]


def test_concurrent_settlements_under_new_ids_deliver_once(
    app: MarketplaceApp, api: FakeMarketApi, secret: str, delivered: pytest.LogCaptureFixture
) -> None:
    placed = placed_order(app, api, secret)
    body = callback("trade.settled", trade_data(api, placed, **SETTLED))
    threads = [
        threading.Thread(target=deliver, args=(app, body, signed_headers([secret], body)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(delivery_lines(delivered)) == 1
    assert len(transfers(app)) == 1
    assert sorted(d["outcome"] for d in deliveries(app))[-8:] == ["verified"] * 8


def test_a_settlement_before_its_clearing_settles_and_the_late_clearing_changes_nothing(
    app: MarketplaceApp, api: FakeMarketApi, secret: str, delivered: pytest.LogCaptureFixture
) -> None:
    placed = placed_order(app, api, secret)
    assert send(app, secret, "trade.settled", trade_data(api, placed, **SETTLED)).status_code == 204
    assert send(app, secret, "trade.succeeded", trade_data(api, placed)).status_code == 204
    assert get(app, f"/orders/{placed['id']}")["status"] == "SETTLED"
    assert len(delivery_lines(delivered)) == 1


def test_a_failed_trade_fails_the_order_and_nothing_after_it_delivers(
    app: MarketplaceApp, api: FakeMarketApi, secret: str, delivered: pytest.LogCaptureFixture
) -> None:
    placed = placed_order(app, api, secret)
    failed = trade_data(api, placed, status="failed", settlement="failed")
    assert send(app, secret, "trade.failed", failed).status_code == 204
    assert get(app, f"/orders/{placed['id']}")["status"] == "FAILED"
    assert send(app, secret, "trade.succeeded", trade_data(api, placed)).status_code == 204
    assert send(app, secret, "trade.settled", trade_data(api, placed, **SETTLED)).status_code == 204
    current = get(app, f"/orders/{placed['id']}")
    assert (current["status"], current["delivery"]) == ("FAILED", None)
    assert delivery_lines(delivered) == []


def test_a_reversal_after_clearing_fails_a_paid_order(
    app: MarketplaceApp, api: FakeMarketApi, secret: str
) -> None:
    placed = placed_order(app, api, secret)
    assert send(app, secret, "trade.succeeded", trade_data(api, placed)).status_code == 204
    reversed_ = trade_data(api, placed, status="failed", settlement="reversed")
    assert send(app, secret, "trade.failed", reversed_).status_code == 204
    current = get(app, f"/orders/{placed['id']}")
    assert (current["status"], current["settlement"]) == ("FAILED", "reversed")


def test_a_settlement_for_other_tokens_or_money_delivers_nothing(
    app: MarketplaceApp, api: FakeMarketApi, secret: str, delivered: pytest.LogCaptureFixture
) -> None:
    placed = placed_order(app, api, secret)
    other_token = trade_data(api, placed, **SETTLED)
    other_token["trade"]["token"]["symbol"] = "EVIL"
    other_amount = trade_data(api, placed, amount=1, **SETTLED)
    for data in (other_token, other_amount):
        assert send(app, secret, "trade.settled", data).status_code == 204
    current = get(app, f"/orders/{placed['id']}")
    assert (current["status"], current["delivery"]) == ("AWAITING_PAYMENT", None)
    assert delivery_lines(delivered) == []
    assert [d["detail"] for d in deliveries(app)][-2:] == [
        "token mismatch: not moved",
        "amount mismatch: not moved",
    ]


def test_callbacks_for_unknown_objects_and_other_types_are_acknowledged(
    app: MarketplaceApp, api: FakeMarketApi, secret: str
) -> None:
    placed = placed_order(app, api, secret)
    unknown = trade_data(api, placed, trade_id="pay_someone_else", **SETTLED)
    assert send(app, secret, "trade.settled", unknown).status_code == 204
    stranger = {"profile": {"profile_id": "prf_x", "external_customer_id": "user_x"}}
    assert send(app, secret, "profile.verified", stranger).status_code == 204
    assert (
        send(app, secret, "payment.succeeded", {"payment": {"payment_id": "p"}}).status_code == 204
    )
    assert [d["detail"] for d in deliveries(app)][-3:] == [
        "unknown trade",
        "unknown buyer",
        "acknowledged",
    ]
    assert get(app, f"/orders/{placed['id']}")["status"] == "AWAITING_PAYMENT"


# --------------------------------------------------------------------------- refusals


def test_ordering_before_the_bank_has_verified_the_buyer_is_409_with_the_apis_code(
    app: MarketplaceApp, api: FakeMarketApi
) -> None:
    assert register(app).status_code == 201
    refused = order(app)
    assert refused.status_code == 409
    failure = refused.json()["error"]
    assert failure["code"] == "profile_not_verified"
    assert failure["api_status"] == 409
    assert "user_1 is not verified by the bank yet" in failure["message"]
    assert "GET /buyers/user_1" in failure["message"]
    assert get(app, "/buyers/user_1")["verified"] is False
    assert [r["path"] for r in api.requests] == ["/dev/v1/profiles", "/dev/v1/trades"]


def test_an_order_the_api_accepts_shows_the_buyer_verified_before_its_callback(
    app: MarketplaceApp, api: FakeMarketApi
) -> None:
    buyer = register(app).json()
    api.verified.add(buyer["profile_id"])  # the bank verified; the callback is still on its way
    assert order(app).status_code == 201
    assert get(app, "/buyers/user_1")["verified"] is True


def test_ordering_for_an_unregistered_buyer_is_404_and_asks_nothing(
    app: MarketplaceApp, api: FakeMarketApi
) -> None:
    refused = order(app, user_id="nobody")
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "buyer_not_found")
    assert api.requests == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/buyers", {"user_id": "u 1", "email": "a@b.co", "name": "A", "wallet_address": WALLET}),
        ("/buyers", {"user_id": "u1", "email": "nope", "name": "A", "wallet_address": WALLET}),
        ("/buyers", {"user_id": "u1", "email": "a@b.co", "name": "", "wallet_address": WALLET}),
        ("/orders", {"user_id": "user_1", "amount": 25000, "currency": "USD"}),
        ("/orders", {"user_id": "user_1", "token_quantity": 10.5, "amount": 1, "currency": "USD"}),
    ],
)
def test_invalid_requests_are_400_and_ask_nothing(
    app: MarketplaceApp, api: FakeMarketApi, path: str, body: dict[str, Any]
) -> None:
    response = post(app, path, body)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_request")
    assert api.requests == []


def test_the_apis_422_for_a_wallet_reaches_the_client_and_keeps_no_buyer(
    app: MarketplaceApp, api: FakeMarketApi
) -> None:
    message = "wallet_address: not an EIP-55 checksum address"
    api.scripted.append((422, {"error": {"code": "invalid_profile", "message": message}}))
    refused = register(app)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "invalid_profile")
    assert requests.get(f"{app.base_url}/buyers/user_1", timeout=5).status_code == 404
    assert register(app).status_code == 201  # corrected: registered, with the same key
    assert {r["headers"]["idempotency-key"] for r in api.requests} == {"buyer-user_1"}


def test_registering_again_answers_the_buyer_without_asking_the_api(
    app: MarketplaceApp, api: FakeMarketApi
) -> None:
    first = register(app)
    second = register(app)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert len(api.requests) == 1


def test_an_unreachable_trade_keeps_the_order_to_retry_with_the_same_key(
    app: MarketplaceApp, api: FakeMarketApi, secret: str
) -> None:
    verified_buyer(app, api, secret)
    outage = (503, {"error": {"code": "service_unavailable", "message": "try later"}})
    api.scripted.extend([outage] * 3)  # the first attempt and its two retries
    failed = order(app)
    assert failed.status_code == 502
    kept = failed.json()["order"]
    assert (kept["status"], kept["trade_id"]) == ("AWAITING_PAYMENT", None)
    retried = requests.post(f"{app.base_url}/orders/{kept['id']}/trade", timeout=10)
    assert retried.status_code == 200, retried.text
    assert retried.json()["trade_id"].startswith("pay_")
    keys = {r["headers"]["idempotency-key"] for r in api.requests if r["path"].endswith("trades")}
    assert keys == {f"order-{kept['id']}-trade"}


def test_each_order_gets_its_own_idempotency_key(
    app: MarketplaceApp, api: FakeMarketApi, secret: str
) -> None:
    verified_buyer(app, api, secret)
    first, second = order(app).json(), order(app).json()
    assert first["trade_id"] != second["trade_id"]
    keys = [r["headers"]["idempotency-key"] for r in api.requests if r["path"].endswith("trades")]
    assert keys == [f"order-{first['id']}-trade", f"order-{second['id']}-trade"]


def test_bad_signatures_are_refused_and_change_nothing(
    app: MarketplaceApp, api: FakeMarketApi, secret: str, delivered: pytest.LogCaptureFixture
) -> None:
    placed = placed_order(app, api, secret)
    before = len(deliveries(app))
    body = callback("trade.settled", trade_data(api, placed, **SETTLED))
    cases = _bad_signature_cases(secret, body)
    for headers in cases:
        assert deliver(app, body, headers).status_code == 400, headers
    tampered = body.replace('"quantity":"10.5"', '"quantity":"1000"')
    assert deliver(app, tampered, signed_headers([secret], body)).status_code == 400

    current = get(app, f"/orders/{placed['id']}")
    assert (current["status"], current["delivery"]) == ("AWAITING_PAYMENT", None)
    assert delivery_lines(delivered) == []
    assert transfers(app) == []
    refused = deliveries(app)[before:]
    assert len(refused) == len(cases) + 1
    assert {d["outcome"] for d in refused} == {"rejected"}
    # A buyer is not verified by a forged profile.verified either.
    other = register(app, "user_2").json()
    forged = callback("profile.verified", profile_data(api, other))
    assert deliver(app, forged, signed_headers([new_secret()], forged)).status_code == 400
    assert get(app, "/buyers/user_2")["verified"] is False


def test_verified_but_malformed_payloads_are_400(app: MarketplaceApp, secret: str) -> None:
    for body in ('{"type":"trade.settled","data":{}}', '{"type":"profile.verified"}', "[1]"):
        assert deliver(app, body, signed_headers([secret], body)).status_code == 400
    assert {d["outcome"] for d in deliveries(app)} == {"rejected"}


# --------------------------------------------------------------------------- switches, packaging


def test_fail_next_and_gone_play_an_unhealthy_endpoint(
    app: MarketplaceApp, api: FakeMarketApi, secret: str
) -> None:
    placed = placed_order(app, api, secret)
    assert post(app, "/_test/fail_next", {"count": 1, "status": 503}).status_code == 200
    body = callback("trade.succeeded", trade_data(api, placed))
    headers = signed_headers([secret], body)
    assert deliver(app, body, headers).status_code == 503
    assert get(app, f"/orders/{placed['id']}")["status"] == "AWAITING_PAYMENT"
    assert deliver(app, body, headers).status_code == 204  # the sender's retry
    assert get(app, f"/orders/{placed['id']}")["status"] == "PAID"
    assert post(app, "/_test/gone", {"gone": True}).status_code == 200
    assert deliver(app, body, headers).status_code == 410


def test_switches_can_be_turned_off(api: FakeMarketApi, secret: str) -> None:
    with MarketplaceApp(api.base, API_KEY, [secret], test_switches=False) as app:
        for path in ("/_test/deliveries", "/_test/transfers"):
            assert requests.get(f"{app.base_url}{path}", timeout=5).status_code == 404
        assert requests.post(f"{app.base_url}/_test/gone", timeout=5).status_code == 404


def test_it_subscribes_to_the_events_it_acts_on() -> None:
    assert CALLBACK_EVENT_TYPES == (
        "profile.verified",
        "trade.succeeded",
        "trade.settled",
        "trade.failed",
    )


def test_runs_as_a_module(api: FakeMarketApi, secret: str) -> None:
    command = [
        sys.executable,
        "-m",
        "examples.marketplace",
        "--api-base",
        api.base,
        "--api-key",
        API_KEY,
        "--secret",
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
        assert banner.startswith("Marketplace app on http://127.0.0.1:"), banner
        base_url = banner.split()[3].rstrip(";")
        body = {"user_id": "u1", "email": "a@b.co", "name": "A", "wallet_address": WALLET}
        created = requests.post(f"{base_url}/buyers", json=body, timeout=10)
        assert created.status_code == 201, created.text
        assert api.requests[0]["headers"]["authorization"] == f"Bearer {API_KEY}"
    finally:
        process.terminate()
        process.wait(timeout=10)
