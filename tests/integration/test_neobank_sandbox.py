"""The NEO Bank sandbox over real HTTP: signed requests (every refusal of the contract, in its
order), registrations and payments with their checks, idempotency by reference, admin moves,
automatic verification, clearing and settlement, and the signed webhooks a local receiver gets
under every chaos switch.

Requests are signed and webhooks verified here with ``cryptography`` directly (RSA keys made in
this file), not with the sandbox's own helpers, so a mistake in one does not hide in the other.
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from devstack.http_server import MAX_BODY_BYTES, Response
from devstack.sandboxes.neobank import NeoBankSandbox
from tests.integration.helpers import served_locally

TIMEOUT = 5
Json = dict[str, Any]
WALLET = "0x" + "a1" * 20
TOKEN = {"contract_address": "0x" + "Be" * 20, "symbol": "BBT1", "quantity": "12.5"}


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_of(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def compact(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def request_id() -> str:
    return "req_" + secrets.token_hex(16)


def signature_of(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def bank_signed(bank_pem: str, headers: dict[str, str], raw: bytes) -> bool:
    """The webhook's X-Neo-Signature is the bank key's over ``TIMESTAMP "." BODY``."""
    timestamp, signature = headers.get("x-neo-timestamp"), headers.get("x-neo-signature")
    if timestamp is None or signature is None:
        return False
    public = serialization.load_pem_public_key(bank_pem.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    try:
        public.verify(
            base64.b64decode(signature),
            timestamp.encode() + b"." + raw,
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature:
        return False
    return True


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[NeoBankSandbox]:
    with NeoBankSandbox() as started:
        yield started


@dataclass
class Webhook:
    headers: dict[str, str]
    raw: bytes
    accepted: bool

    @property
    def body(self) -> Json:
        parsed = json.loads(self.raw)
        assert isinstance(parsed, dict)
        return parsed


@dataclass
class Receiver:
    """A tenant's webhook URL that verifies like a correct one: the bank's signature over
    ``TIMESTAMP "." BODY`` and a 300 s window, 400 otherwise (``statuses`` first, if any)."""

    bank_pem: str = ""
    received: list[Webhook] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    max_body_bytes: int = MAX_BODY_BYTES
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> Response:
        lowered = {name.lower(): value for name, value in headers.items()}
        timestamp = lowered.get("x-neo-timestamp", "")
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= 300
        accepted = bank_signed(self.bank_pem, lowered, body) and fresh
        with self.lock:
            forced = self.statuses.pop(0) if self.statuses else None
            self.received.append(Webhook(lowered, body, accepted and forced is None))
        if forced is not None:
            return Response(forced, b"{}")
        return Response(200 if accepted else 400, b'{"received": true}' if accepted else b"{}")

    def refuse_body(self, status: int) -> Response:
        return Response(status, b"{}")

    def webhooks(self) -> list[Webhook]:
        with self.lock:
            return list(self.received)

    def accepted(self) -> list[Json]:
        return [webhook.body for webhook in self.webhooks() if webhook.accepted]


@pytest.fixture
def receiver(sandbox: NeoBankSandbox) -> Iterator[Receiver]:
    target = Receiver(bank_pem=sandbox.bank_public_key_pem)
    with served_locally(target) as url:
        target.url = f"{url}/webhooks/neobank/tenant-1"
        yield target


@dataclass
class Tenant:
    """A client of the bank: its key, and signed calls."""

    sandbox: NeoBankSandbox
    client_id: str
    key: rsa.RSAPrivateKey
    receiver: Receiver

    def headers(
        self,
        method: str,
        path: str,
        raw: bytes,
        *,
        timestamp: str | None = None,
        rid: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> dict[str, str]:
        stamp = timestamp if timestamp is not None else str(int(time.time()))
        req = rid or request_id()
        message = f"{method}\n{path}\n{stamp}\n{req}\n".encode() + raw
        return {
            "X-Neo-Client-Id": self.client_id,
            "X-Neo-Timestamp": stamp,
            "X-Neo-Request-Id": req,
            "X-Neo-Signature": signature_of(key or self.key, message),
            "Content-Type": "application/json",
        }

    def send(
        self, method: str, path: str, raw: bytes, headers: dict[str, str]
    ) -> requests.Response:
        return requests.request(
            method, f"{self.sandbox.base_url}{path}", data=raw, headers=headers, timeout=TIMEOUT
        )

    def call(self, method: str, path: str, body: Any = None, **signing: Any) -> requests.Response:
        raw = b"" if body is None else compact(body)
        return self.send(method, path, raw, self.headers(method, path, raw, **signing))

    def register(self, reference: str = "prf_1", **fields: Any) -> Json:
        body = {"reference": reference, "email": "ada@example.com", "name": "Ada", **fields}
        body.setdefault("wallet_address", WALLET)
        answer = self.call("POST", "/v1/registrations", body)
        assert answer.status_code == 201, answer.text
        created = answer.json()
        assert isinstance(created, dict)
        return created

    def payment_body(self, cprn: str, reference: str = "pay_1", **fields: Any) -> Json:
        return {
            "reference": reference,
            "cprn": cprn,
            "amount": "250.00",
            "currency": "USD",
            "description": "2 BBT1",
            "token": dict(TOKEN),
            **fields,
        }

    def pay(self, cprn: str, reference: str = "pay_1", **fields: Any) -> Json:
        answer = self.call("POST", "/v1/payments", self.payment_body(cprn, reference, **fields))
        assert answer.status_code == 201, answer.text
        created = answer.json()
        assert isinstance(created, dict)
        return created

    def settings(self, **switches: Any) -> None:
        url = f"{self.sandbox.base_url}/_sandbox/clients/{self.client_id}/settings"
        assert requests.post(url, json=switches, timeout=TIMEOUT).status_code == 200

    def chaos(self, **switches: Any) -> None:
        url = f"{self.sandbox.base_url}/_sandbox/clients/{self.client_id}/chaos"
        assert requests.post(url, json=switches, timeout=TIMEOUT).status_code == 200


def new_tenant(
    sandbox: NeoBankSandbox, key: rsa.RSAPrivateKey, receiver: Receiver, **settings: Any
) -> Tenant:
    created = requests.post(
        f"{sandbox.base_url}/_sandbox/clients",
        json={
            "public_key_pem": pem_of(key),
            "webhook_url": receiver.url,
            "name": "Salon",
            "settings": {"verify_after_seconds": 0, **settings},
        },
        timeout=TIMEOUT,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["bank_public_key_pem"] == sandbox.bank_public_key_pem
    assert body["client_id"].startswith("cli_")
    return Tenant(sandbox, body["client_id"], key, receiver)


@pytest.fixture
def tenant(sandbox: NeoBankSandbox, key: rsa.RSAPrivateKey, receiver: Receiver) -> Tenant:
    return new_tenant(sandbox, key, receiver)


def assert_error(answer: requests.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert isinstance(message, str)
    assert message
    return message


def move(sandbox: NeoBankSandbox, tx_id: str, status: str, **extra: Any) -> requests.Response:
    return requests.post(
        f"{sandbox.base_url}/_sandbox/payments/{tx_id}/status",
        json={"status": status, **extra},
        timeout=TIMEOUT,
    )


def moved(sandbox: NeoBankSandbox, tx_id: str, status: str, **extra: Any) -> Json:
    answer = move(sandbox, tx_id, status, **extra)
    assert answer.status_code == 200, answer.text
    assert sandbox.wait_for_webhooks(TIMEOUT)
    view = answer.json()
    assert isinstance(view, dict)
    return view


def last_refusal(sandbox: NeoBankSandbox, client_id: str) -> Json:
    listed = requests.get(
        f"{sandbox.base_url}/_sandbox/requests", params={"client_id": client_id}, timeout=TIMEOUT
    ).json()["data"]
    return listed[-1]


# --------------------------------------------------------------------------- signed requests


def test_a_signed_registration_and_payment_are_taken(tenant: Tenant) -> None:
    account = tenant.call("GET", "/v1/account")
    assert account.status_code == 200
    assert account.json() == {"client_id": tenant.client_id, "name": "Salon"}

    registration = tenant.register()
    assert set(registration) == {"cprn", "status", "reference"}
    assert registration["cprn"].startswith("CPRN-")
    assert len(registration["cprn"]) == 17
    assert registration["cprn"][5:].isalnum()
    assert registration["cprn"][5:].isupper()
    assert (registration["status"], registration["reference"]) == ("verified", "prf_1")
    fetched = tenant.call("GET", f"/v1/registrations/{registration['cprn']}")
    assert fetched.json() == registration

    created = tenant.pay(registration["cprn"])
    assert set(created) == {"tx_id", "status", "reference", "cprn", "amount", "currency"}
    assert created["tx_id"].startswith("TXN-")
    assert len(created["tx_id"]) == 20
    assert (created["status"], created["amount"], created["currency"]) == (
        "PENDING",
        "250.00",
        "USD",
    )
    got = tenant.call("GET", f"/v1/payments/{created['tx_id']}")
    assert got.json() == {**created, "cleared_at": None, "settled_at": None}

    record = last_refusal(tenant.sandbox, tenant.client_id)
    assert record["verified"] is True
    assert record["refusal"] is None
    assert record["status"] == 200
    assert record["path"] == f"/v1/payments/{created['tx_id']}"


def test_a_signature_by_another_key_is_refused_and_recorded(
    tenant: Tenant, other_key: rsa.RSAPrivateKey
) -> None:
    answer = tenant.call("GET", "/v1/account", key=other_key)
    assert_error(answer, 401, "invalid_signature")
    record = last_refusal(tenant.sandbox, tenant.client_id)
    assert record["method"] == "GET"
    assert record["path"] == "/v1/account"
    assert (record["verified"], record["signature_valid"], record["refusal"]) == (
        False,
        False,
        "invalid_signature",
    )
    assert record["request_id"].startswith("req_")
    assert record["status"] == 401
    refused = requests.get(
        f"{tenant.sandbox.base_url}/_sandbox/requests",
        params={"refusal": "invalid_signature", "client_id": tenant.client_id},
        timeout=TIMEOUT,
    ).json()["data"]
    assert len(refused) == 1


def test_a_body_altered_after_signing_is_refused(tenant: Tenant) -> None:
    signed = compact(
        {"reference": "prf_1", "email": "a@b.co", "name": "A", "wallet_address": WALLET}
    )
    altered = signed.replace(b'"A"', b'"B"')
    headers = tenant.headers("POST", "/v1/registrations", signed)
    assert_error(
        tenant.send("POST", "/v1/registrations", altered, headers), 401, "invalid_signature"
    )
    assert tenant.sandbox.registrations(tenant.client_id) == []


def test_a_path_or_method_altered_after_signing_is_refused(tenant: Tenant) -> None:
    cprn = tenant.register()["cprn"]
    headers = tenant.headers("GET", f"/v1/registrations/{cprn}", b"")
    assert_error(
        tenant.send("GET", "/v1/registrations/CPRN-000000000000", b"", headers),
        401,
        "invalid_signature",
    )
    headers = tenant.headers("GET", "/v1/account", b"")
    assert_error(tenant.send("GET", "/v1/account?x=1", b"", headers), 401, "invalid_signature")
    headers = tenant.headers("GET", "/v1/account", b"")
    assert_error(tenant.send("DELETE", "/v1/account", b"", headers), 401, "invalid_signature")
    # The query string is part of the signed path: signed with it, it passes.
    assert tenant.call("GET", "/v1/account?x=1").status_code == 200


def test_a_missing_or_malformed_signature_is_refused(tenant: Tenant) -> None:
    for broken in ({"X-Neo-Signature": ""}, {"X-Neo-Signature": "not base64!"}):
        headers = {**tenant.headers("GET", "/v1/account", b""), **broken}
        assert_error(tenant.send("GET", "/v1/account", b"", headers), 401, "invalid_signature")
    headers = tenant.headers("GET", "/v1/account", b"")
    del headers["X-Neo-Request-Id"]
    assert_error(tenant.send("GET", "/v1/account", b"", headers), 401, "invalid_signature")


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_timestamp_more_than_300_s_away_is_stale(tenant: Tenant, offset: int) -> None:
    stamp = str(int(time.time()) + offset)
    message = assert_error(
        tenant.call("GET", "/v1/account", timestamp=stamp), 401, "stale_timestamp"
    )
    assert "300" in message
    record = last_refusal(tenant.sandbox, tenant.client_id)
    assert (record["signature_valid"], record["refusal"]) == (True, "stale_timestamp")
    near = str(int(time.time()) + (-290 if offset < 0 else 290))
    assert tenant.call("GET", "/v1/account", timestamp=near).status_code == 200


@pytest.mark.parametrize("stamp", ["", "12.5", "soon", "0x10", "1e9"])
def test_a_timestamp_that_is_not_an_integer_is_stale(tenant: Tenant, stamp: str) -> None:
    headers = tenant.headers("GET", "/v1/account", b"", timestamp=stamp)
    if not stamp:
        del headers["X-Neo-Timestamp"]
    assert_error(tenant.send("GET", "/v1/account", b"", headers), 401, "stale_timestamp")


def test_the_timestamp_window_is_a_setting(tenant: Tenant) -> None:
    url = f"{tenant.sandbox.base_url}/_sandbox/settings"
    assert requests.get(url, timeout=TIMEOUT).json()["timestamp_window_seconds"] == 300
    try:
        assert requests.post(url, json={"timestamp_window_seconds": 10}, timeout=TIMEOUT).ok
        stamp = str(int(time.time()) - 20)
        assert_error(tenant.call("GET", "/v1/account", timestamp=stamp), 401, "stale_timestamp")
    finally:
        requests.post(f"{url}/reset", timeout=TIMEOUT)
    assert tenant.call("GET", "/v1/account", timestamp=str(int(time.time()) - 20)).ok


def test_a_request_id_seen_before_is_refused(tenant: Tenant) -> None:
    raw = b""
    headers = tenant.headers("GET", "/v1/account", raw)
    assert tenant.send("GET", "/v1/account", raw, headers).status_code == 200
    assert_error(tenant.send("GET", "/v1/account", raw, headers), 409, "duplicate_request_id")
    # Signed afresh, at another time, on another call: the id is still spent.
    again = tenant.call("GET", "/v1/registrations/CPRN-X", rid=headers["X-Neo-Request-Id"])
    assert_error(again, 409, "duplicate_request_id")
    malformed = tenant.call("GET", "/v1/account", rid="my-request-1")
    assert "X-Neo-Request-Id" in assert_error(malformed, 422, "invalid_request")


def test_an_unknown_client_is_refused(tenant: Tenant) -> None:
    for client_id in ("cli_nobody", ""):
        headers = {**tenant.headers("GET", "/v1/account", b""), "X-Neo-Client-Id": client_id}
        assert_error(tenant.send("GET", "/v1/account", b"", headers), 401, "unknown_client")
    refused = requests.get(
        f"{tenant.sandbox.base_url}/_sandbox/requests",
        params={"refusal": "unknown_client", "client_id": "cli_nobody"},
        timeout=TIMEOUT,
    ).json()["data"]
    assert refused
    assert refused[-1]["verified"] is False


def test_the_checks_go_client_timestamp_signature_window_request_id(
    tenant: Tenant, other_key: rsa.RSAPrivateKey
) -> None:
    stale = str(int(time.time()) - 1000)
    headers = {
        **tenant.headers("GET", "/v1/account", b"", key=other_key, timestamp="x"),
        "X-Neo-Client-Id": "cli_nobody",
    }
    assert_error(tenant.send("GET", "/v1/account", b"", headers), 401, "unknown_client")
    bad_format = tenant.headers("GET", "/v1/account", b"", key=other_key, timestamp="x")
    assert_error(tenant.send("GET", "/v1/account", b"", bad_format), 401, "stale_timestamp")
    forged_and_stale = tenant.headers("GET", "/v1/account", b"", key=other_key, timestamp=stale)
    assert_error(tenant.send("GET", "/v1/account", b"", forged_and_stale), 401, "invalid_signature")
    used = tenant.headers("GET", "/v1/account", b"")
    assert tenant.send("GET", "/v1/account", b"", used).ok
    stale_replay = tenant.call("GET", "/v1/account", timestamp=stale, rid=used["X-Neo-Request-Id"])
    assert_error(stale_replay, 401, "stale_timestamp")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"wallet_address": "0x123"}, "wallet_address"),
        ({"wallet_address": "a1" * 21}, "wallet_address"),
        ({"email": "ada.example.com"}, "email"),
        ({"name": ""}, "name"),
        ({"name": 7}, "name"),
        ({"reference": "p" * 65}, "reference"),
        ({"reference": None}, "reference"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_malformed_registration_is_422_naming_the_field(
    tenant: Tenant, fields: Json, named: str
) -> None:
    body = {
        "reference": "prf_1",
        "email": "ada@example.com",
        "name": "Ada",
        "wallet_address": WALLET,
    }
    body.update(fields)
    message = assert_error(tenant.call("POST", "/v1/registrations", body), 422, "invalid_request")
    assert message.startswith(named)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"amount": "250.0"}, "amount"),
        ({"amount": "250"}, "amount"),
        ({"amount": 250.0}, "amount"),
        ({"amount": "-250.00"}, "amount"),
        ({"amount": "0.00"}, "amount"),
        ({"amount": "2.5e2"}, "amount"),
        ({"amount": "1500.00", "currency": "JPY"}, "amount"),
        ({"amount": "1.25", "currency": "KWD"}, "amount"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "USDT"}, "currency"),
        ({"description": 5}, "description"),
        ({"token": None}, "token"),
        ({"token": {**TOKEN, "contract_address": "0xzz"}}, "token.contract_address"),
        ({"token": {**TOKEN, "symbol": "bbt"}}, "token.symbol"),
        ({"token": {**TOKEN, "symbol": "B" * 12}}, "token.symbol"),
        ({"token": {**TOKEN, "quantity": "0"}}, "token.quantity"),
        ({"token": {**TOKEN, "quantity": 3}}, "token.quantity"),
        ({"cprn": ""}, "cprn"),
    ],
)
def test_a_malformed_payment_is_422_naming_the_field(
    tenant: Tenant, fields: Json, named: str
) -> None:
    cprn = tenant.register()["cprn"]
    message = assert_error(
        tenant.call("POST", "/v1/payments", {**tenant.payment_body(cprn), **fields}),
        422,
        "invalid_request",
    )
    assert message.startswith(named)


def test_amounts_take_exactly_the_currencys_decimals(tenant: Tenant) -> None:
    cprn = tenant.register()["cprn"]
    assert tenant.pay(cprn, "pay_jpy", amount="1500", currency="JPY")["amount"] == "1500"
    assert tenant.pay(cprn, "pay_kwd", amount="1.250", currency="KWD")["amount"] == "1.250"
    assert tenant.pay(cprn, "pay_eur", amount="0.01", currency="EUR")["amount"] == "0.01"


def test_a_body_that_is_not_a_json_object_is_422(tenant: Tenant) -> None:
    for raw in (b"{nope", b"[1]"):
        headers = tenant.headers("POST", "/v1/registrations", raw)
        answer = tenant.send("POST", "/v1/registrations", raw, headers)
        assert_error(answer, 422, "invalid_request")


# --------------------------------------------------------------------------- idempotency


def test_the_same_reference_answers_the_same_object_or_a_conflict(tenant: Tenant) -> None:
    first = tenant.register("prf_7")
    again = tenant.call(
        "POST",
        "/v1/registrations",
        {"reference": "prf_7", "email": "ada@example.com", "name": "Ada", "wallet_address": WALLET},
    )
    assert (again.status_code, again.json()) == (200, first)
    other = tenant.call(
        "POST",
        "/v1/registrations",
        {"reference": "prf_7", "email": "bob@example.com", "name": "Ada", "wallet_address": WALLET},
    )
    assert_error(other, 409, "reference_conflict")

    created = tenant.pay(first["cprn"], "pay_7")
    repeat = tenant.call("POST", "/v1/payments", tenant.payment_body(first["cprn"], "pay_7"))
    assert (repeat.status_code, repeat.json()) == (200, created)
    changed = tenant.payment_body(first["cprn"], "pay_7", amount="251.00")
    assert_error(tenant.call("POST", "/v1/payments", changed), 409, "reference_conflict")
    assert len(tenant.sandbox.payments(tenant.client_id)) == 1


def test_unknown_and_other_clients_objects_are_404(
    sandbox: NeoBankSandbox, tenant: Tenant, receiver: Receiver, other_key: rsa.RSAPrivateKey
) -> None:
    mine = tenant.register()["cprn"]
    tx = tenant.pay(mine)["tx_id"]
    other = new_tenant(sandbox, other_key, receiver)
    assert_error(other.call("GET", f"/v1/registrations/{mine}"), 404, "unknown_cprn")
    assert_error(other.call("GET", f"/v1/payments/{tx}"), 404, "unknown_transaction")
    assert_error(other.call("GET", "/v1/payments/TXN-0000000000000000"), 404, "unknown_transaction")
    assert_error(other.call("POST", "/v1/payments", other.payment_body(mine)), 404, "unknown_cprn")
    # The same reference is another client's own.
    assert other.register("prf_1")["cprn"] != mine


def test_a_payment_for_a_registration_not_verified_is_409(
    sandbox: NeoBankSandbox, key: rsa.RSAPrivateKey, receiver: Receiver
) -> None:
    slow = new_tenant(sandbox, key, receiver, verify_after_seconds=30)
    pending = slow.register()
    assert pending["status"] == "pending"
    answer = slow.call("POST", "/v1/payments", slow.payment_body(pending["cprn"]))
    assert_error(answer, 409, "registration_not_verified")
    decided = requests.post(
        f"{sandbox.base_url}/_sandbox/registrations/{pending['cprn']}/status",
        json={"status": "VERIFIED"},
        timeout=TIMEOUT,
    )
    assert decided.json()["status"] == "verified"
    assert slow.pay(pending["cprn"])["status"] == "PENDING"


# --------------------------------------------------------------------------- webhooks


def test_a_pending_registration_is_verified_later_with_a_signed_webhook(
    sandbox: NeoBankSandbox, key: rsa.RSAPrivateKey, receiver: Receiver
) -> None:
    tenant = new_tenant(sandbox, key, receiver, verify_after_seconds=0.2)
    created = tenant.register("prf_9")
    assert created["status"] == "pending"
    assert receiver.webhooks() == []
    assert sandbox.wait_for_webhooks(TIMEOUT)
    [webhook] = receiver.webhooks()
    assert webhook.accepted
    assert bank_signed(sandbox.bank_public_key_pem, webhook.headers, webhook.raw)
    assert abs(int(webhook.headers["x-neo-timestamp"]) - time.time()) < 10
    assert webhook.headers["content-type"] == "application/json"
    assert webhook.body == {
        "type": "registration.status",
        "cprn": created["cprn"],
        "status": "VERIFIED",
        "reference": "prf_9",
    }
    assert tenant.call("GET", f"/v1/registrations/{created['cprn']}").json()["status"] == "verified"
    [sent] = sandbox.registration(created["cprn"])["webhooks"]
    assert (sent["kind"], sent["delivered"], sent["answers"]) == ("genuine", True, [200])


def test_registrations_are_rejected_when_the_client_says_so(
    sandbox: NeoBankSandbox, key: rsa.RSAPrivateKey, receiver: Receiver
) -> None:
    tenant = new_tenant(sandbox, key, receiver, verify_after_seconds=0.1, reject_registrations=True)
    cprn = tenant.register()["cprn"]
    assert sandbox.wait_for_webhooks(TIMEOUT)
    assert [body["status"] for body in receiver.accepted()] == ["REJECTED"]
    assert tenant.call("GET", f"/v1/registrations/{cprn}").json()["status"] == "rejected"
    answer = tenant.call("POST", "/v1/payments", tenant.payment_body(cprn))
    assert_error(answer, 409, "registration_not_verified")


def test_verify_after_zero_answers_verified_and_still_sends_the_webhook(
    sandbox: NeoBankSandbox, tenant: Tenant, receiver: Receiver
) -> None:
    assert tenant.register()["status"] == "verified"
    assert sandbox.wait_for_webhooks(TIMEOUT)
    assert [body["status"] for body in receiver.accepted()] == ["VERIFIED"]


def test_admin_moves_send_signed_payment_webhooks(
    sandbox: NeoBankSandbox, tenant: Tenant, receiver: Receiver
) -> None:
    cprn = tenant.register()["cprn"]
    assert sandbox.wait_for_webhooks(TIMEOUT)
    receiver.received.clear()
    created = tenant.pay(cprn, "pay_ok")
    tx = created["tx_id"]
    assert_error(move(sandbox, tx, "SETTLED"), 409, "invalid_transition")
    cleared = moved(sandbox, tx, "SUCCESS")
    assert cleared["status"] == "SUCCESS"
    assert cleared["cleared_at"].endswith("Z")
    assert_error(move(sandbox, tx, "SUCCESS"), 409, "invalid_transition")
    settled = moved(sandbox, tx, "SETTLED")
    assert settled["settled_at"] is not None
    assert_error(move(sandbox, tx, "FAILED"), 409, "invalid_transition")
    assert_error(move(sandbox, tx, "PAID"), 422, "invalid_request")

    bodies = receiver.accepted()
    assert [body["status"] for body in bodies] == ["SUCCESS", "SETTLED"]
    assert set(bodies[0]) == {
        "type",
        "tx_id",
        "cprn",
        "status",
        "amount",
        "currency",
        "reference",
        "occurred_at",
    }
    assert {
        k: bodies[0][k] for k in ("type", "tx_id", "cprn", "amount", "currency", "reference")
    } == {
        "type": "payment.status",
        "tx_id": tx,
        "cprn": cprn,
        "amount": "250.00",
        "currency": "USD",
        "reference": "pay_ok",
    }
    got = tenant.call("GET", f"/v1/payments/{tx}").json()
    assert (got["status"], got["cleared_at"], got["settled_at"]) == (
        "SETTLED",
        cleared["cleared_at"],
        settled["settled_at"],
    )

    refused = tenant.pay(cprn, "pay_refused")["tx_id"]
    assert moved(sandbox, refused, "FAILED")["status"] == "FAILED"
    reversed_ = tenant.pay(cprn, "pay_reversed")["tx_id"]
    moved(sandbox, reversed_, "SUCCESS")
    assert moved(sandbox, reversed_, "FAILED")["status"] == "FAILED"
    forced = tenant.pay(cprn, "pay_forced")["tx_id"]
    assert moved(sandbox, forced, "SETTLED", force=True)["status"] == "SETTLED"
    told = [(body["reference"], body["status"]) for body in receiver.accepted()[2:]]
    assert told == [
        ("pay_refused", "FAILED"),
        ("pay_reversed", "SUCCESS"),
        ("pay_reversed", "FAILED"),
        ("pay_forced", "SETTLED"),
    ]
    view = requests.get(f"{sandbox.base_url}/_sandbox/payments/{tx}", timeout=TIMEOUT).json()
    assert [(w["status"], w["kind"], w["answers"]) for w in view["webhooks"]] == [
        ("SUCCESS", "genuine", [200]),
        ("SETTLED", "genuine", [200]),
    ]


def test_settle_after_seconds_settles_a_cleared_payment_by_itself(
    sandbox: NeoBankSandbox, key: rsa.RSAPrivateKey, receiver: Receiver
) -> None:
    tenant = new_tenant(sandbox, key, receiver, settle_after_seconds=0.2)
    tx = tenant.pay(tenant.register()["cprn"])["tx_id"]
    cleared_at = time.monotonic()
    moved(sandbox, tx, "SUCCESS")  # waits for the settlement too
    assert time.monotonic() - cleared_at >= 0.2
    payment = [body for body in receiver.accepted() if body["type"] == "payment.status"]
    assert [body["status"] for body in payment] == ["SUCCESS", "SETTLED"]
    assert tenant.call("GET", f"/v1/payments/{tx}").json()["settled_at"] is not None


def test_auto_clear_after_seconds_clears_a_pending_payment_by_itself(
    sandbox: NeoBankSandbox, key: rsa.RSAPrivateKey, receiver: Receiver
) -> None:
    tenant = new_tenant(
        sandbox, key, receiver, auto_clear_after_seconds=0.1, settle_after_seconds=0.1
    )
    tx = tenant.pay(tenant.register()["cprn"])["tx_id"]
    waited = requests.post(
        f"{sandbox.base_url}/_sandbox/wait_for_webhooks", json={"timeout": TIMEOUT}, timeout=10
    )
    assert waited.json() == {"idle": True}
    assert tenant.call("GET", f"/v1/payments/{tx}").json()["status"] == "SETTLED"
    statuses = [b["status"] for b in receiver.accepted() if b["type"] == "payment.status"]
    assert statuses == ["SUCCESS", "SETTLED"]


def test_a_webhook_not_answered_2xx_is_retried(
    sandbox: NeoBankSandbox, tenant: Tenant, receiver: Receiver
) -> None:
    tx = tenant.pay(tenant.register()["cprn"])["tx_id"]
    assert sandbox.wait_for_webhooks(TIMEOUT)
    receiver.statuses = [500, 503]
    moved(sandbox, tx, "SUCCESS")
    [sent] = sandbox.payment(tx)["webhooks"]
    assert (sent["answers"], sent["attempts"], sent["delivered"]) == ([500, 503, 200], 3, True)
    assert [b["status"] for b in receiver.accepted() if b.get("tx_id") == tx] == ["SUCCESS"]


# --------------------------------------------------------------------------- chaos


def _cleared_under_chaos(tenant: Tenant, **chaos: bool) -> tuple[str, list[Webhook]]:
    sandbox, receiver = tenant.sandbox, tenant.receiver
    tx = tenant.pay(tenant.register()["cprn"])["tx_id"]
    assert sandbox.wait_for_webhooks(TIMEOUT)
    receiver.received.clear()
    tenant.chaos(**chaos)
    moved(sandbox, tx, "SUCCESS")
    return tx, receiver.webhooks()


def test_chaos_unsigned_webhook_adds_a_copy_without_signature(tenant: Tenant) -> None:
    tx, received = _cleared_under_chaos(tenant, unsigned_webhook=True)
    bad = [w for w in received if not w.accepted]
    assert bad
    assert all("x-neo-signature" not in w.headers for w in bad)
    assert len(bad) == 3  # the receiver's 400 is retried like any other
    assert [w.body["status"] for w in received if w.accepted] == ["SUCCESS"]
    kinds = [(w["kind"], w["answers"]) for w in tenant.sandbox.payment(tx)["webhooks"]]
    assert kinds == [("unsigned", [400, 400, 400]), ("genuine", [200])]


def test_chaos_forged_signature_adds_a_copy_signed_with_another_key(tenant: Tenant) -> None:
    tx, received = _cleared_under_chaos(tenant, forged_signature=True)
    bad = [w for w in received if not w.accepted]
    assert bad
    assert all("x-neo-signature" in w.headers for w in bad)
    assert not any(bank_signed(tenant.sandbox.bank_public_key_pem, w.headers, w.raw) for w in bad)
    assert {w.raw for w in received} == {received[-1].raw}  # the same body, another signer
    assert [w.body["status"] for w in received if w.accepted] == ["SUCCESS"]
    assert [w["kind"] for w in tenant.sandbox.payment(tx)["webhooks"]] == ["forged", "genuine"]


def test_chaos_stale_timestamp_adds_a_correctly_signed_copy_301_s_old(tenant: Tenant) -> None:
    tx, received = _cleared_under_chaos(tenant, stale_timestamp=True)
    bad = [w for w in received if not w.accepted]
    assert bad
    for webhook in bad:
        assert bank_signed(tenant.sandbox.bank_public_key_pem, webhook.headers, webhook.raw)
        age = time.time() - int(webhook.headers["x-neo-timestamp"])
        assert 300 < age < 310
    assert [w.body["status"] for w in received if w.accepted] == ["SUCCESS"]
    assert [w["kind"] for w in tenant.sandbox.payment(tx)["webhooks"]] == ["stale", "genuine"]


def test_chaos_duplicate_webhooks_sends_each_twice(tenant: Tenant) -> None:
    tx, received = _cleared_under_chaos(tenant, duplicate_webhooks=True)
    assert len(received) == 2
    assert all(w.accepted for w in received)
    assert received[0].raw == received[1].raw
    assert [w["kind"] for w in tenant.sandbox.payment(tx)["webhooks"]] == ["genuine", "duplicate"]


def test_chaos_settled_before_success_sends_settled_first(tenant: Tenant) -> None:
    tx, received = _cleared_under_chaos(tenant, settled_before_success=True)
    assert [w.body["status"] for w in received if w.accepted] == ["SETTLED", "SUCCESS"]
    got = tenant.call("GET", f"/v1/payments/{tx}").json()
    assert got["status"] == "SETTLED"
    assert got["cleared_at"]
    assert got["settled_at"]


def test_chaos_switches_are_checked_and_reset(tenant: Tenant) -> None:
    url = f"{tenant.sandbox.base_url}/_sandbox/clients/{tenant.client_id}/chaos"
    assert_error(
        requests.post(url, json={"forged_signature": 1}, timeout=TIMEOUT), 422, "invalid_request"
    )
    assert_error(requests.post(url, json={"nope": True}, timeout=TIMEOUT), 422, "invalid_request")
    tenant.chaos(forged_signature=True)
    assert requests.post(f"{url}/reset", timeout=TIMEOUT).json()["forged_signature"] is False
    settings = f"{tenant.sandbox.base_url}/_sandbox/clients/{tenant.client_id}/settings"
    shown = requests.post(settings, json={"settle_after_seconds": None}, timeout=TIMEOUT).json()
    assert shown == {
        "verify_after_seconds": 0,
        "reject_registrations": False,
        "auto_clear_after_seconds": None,
        "settle_after_seconds": None,
    }
    refused = requests.post(settings, json={"settle_after_seconds": -1}, timeout=TIMEOUT)
    assert assert_error(refused, 422, "invalid_request").startswith("settle_after_seconds")


# --------------------------------------------------------------------------- clients


def test_a_client_registers_another_key(
    tenant: Tenant, other_key: rsa.RSAPrivateKey, key: rsa.RSAPrivateKey
) -> None:
    url = f"{tenant.sandbox.base_url}/_sandbox/clients/{tenant.client_id}/public-key"
    changed = requests.put(url, json={"public_key_pem": pem_of(other_key)}, timeout=TIMEOUT)
    assert changed.status_code == 200
    assert changed.json()["public_key_pem"] == pem_of(other_key)
    assert_error(tenant.call("GET", "/v1/account", key=key), 401, "invalid_signature")
    assert tenant.call("GET", "/v1/account", key=other_key).status_code == 200
    shown = requests.get(
        f"{tenant.sandbox.base_url}/_sandbox/clients/{tenant.client_id}", timeout=TIMEOUT
    ).json()
    assert shown["bank_public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    bank = requests.get(f"{tenant.sandbox.base_url}/_sandbox/bank-key", timeout=TIMEOUT).json()
    assert bank == {"public_key_pem": shown["bank_public_key_pem"]}


def test_a_client_needs_an_rsa_key_and_a_loopback_webhook_url(sandbox: NeoBankSandbox) -> None:
    url = f"{sandbox.base_url}/_sandbox/clients"
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    for body, named in (
        ({}, "public_key_pem"),
        ({"public_key_pem": "-----BEGIN PUBLIC KEY-----\nnope\n"}, "public_key_pem"),
        ({"public_key_pem": pem_of(small)}, "public_key_pem"),
        (
            {"public_key_pem": pem_of(new_key()), "webhook_url": "https://example.com/x"},
            "webhook_url",
        ),
        ({"public_key_pem": pem_of(new_key()), "colour": "red"}, "colour"),
    ):
        answer = requests.post(url, json=body, timeout=TIMEOUT)
        assert assert_error(answer, 422, "invalid_request").startswith(named), body
    assert_error(requests.get(f"{url}/cli_nobody", timeout=TIMEOUT), 404, "not_found")


def test_the_python_api_mirrors_the_admin_one(
    sandbox: NeoBankSandbox, key: rsa.RSAPrivateKey
) -> None:
    client = sandbox.create_client(pem_of(key), name="Clinic", settings={"verify_after_seconds": 0})
    assert client.client_id.startswith("cli_")
    assert client.name == "Clinic"
    assert client.bank_public_key_pem == sandbox.bank_public_key_pem
    assert client.webhook_url == ""
    assert client.settings.verify_after_seconds == 0
    assert sandbox.client(client.client_id) is client
    with pytest.raises(ValueError, match="webhook_url"):
        sandbox.create_client(pem_of(key), "http://10.0.0.1/x")


def test_python_m_prints_one_json_line_without_private_keys(
    key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    key_file = tmp_path / "client.pem"
    key_file.write_text(pem_of(key))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack.sandboxes.neobank",
            "--port",
            "0",
            "--public-key-file",
            str(key_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        announced = json.loads(line)
        assert set(announced) == {"base_url", "bank_public_key_pem", "client_id", "webhook_url"}
        assert announced["base_url"].startswith("http://127.0.0.1:")
        assert "PRIVATE" not in line
        shown = requests.get(
            f"{announced['base_url']}/_sandbox/clients/{announced['client_id']}", timeout=TIMEOUT
        )
        assert shown.json()["public_key_pem"] == pem_of(key)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_every_answer_is_signed_by_the_bank_errors_included(
    sandbox: NeoBankSandbox, tenant: Tenant
) -> None:
    answers = {
        "created": tenant.call(
            "POST",
            "/v1/registrations",
            {"reference": "prf_sig", "email": "a@b.co", "name": "A", "wallet_address": WALLET},
        ),
        "refused": tenant.call("GET", "/v1/account", key=rsa.generate_private_key(65537, 2048)),
        "not_found": tenant.call("GET", "/v1/registrations/CPRN-NOSUCH00000"),
        "no_route": tenant.call("GET", "/v1/nowhere"),
    }
    for name, answer in answers.items():
        lowered = {k.lower(): v for k, v in answer.headers.items()}
        assert bank_signed(sandbox.bank_public_key_pem, lowered, answer.content), name
        assert abs(int(lowered["x-neo-timestamp"]) - time.time()) < 60, name
    assert answers["refused"].status_code == 401
    assert answers["not_found"].status_code == 404
    # Not signed by another key: what a client checks an answer with is the bank's key alone.
    other = serialization.load_pem_public_key(
        rsa.generate_private_key(65537, 2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert isinstance(other, rsa.RSAPublicKey)
    created = answers["created"]
    with pytest.raises(InvalidSignature):
        other.verify(
            base64.b64decode(created.headers["X-Neo-Signature"]),
            created.headers["X-Neo-Timestamp"].encode() + b"." + created.content,
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
