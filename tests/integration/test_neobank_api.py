"""Profiles and trades through the real ProfilesFunction, TradesFunction and
WebhookNeobankFunction (moto as AWS), with the NEO Bank sandbox over HTTP as the bank: it checks
every request's RSA signature against the key registered for the tenant (made by our PEM signer,
or by our KMS signer under moto), answers CPRNs and tx ids, and signs the webhooks the test then
delivers to our function."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import requests
from cryptography.hazmat.primitives import serialization

from devstack.http_server import MAX_BODY_BYTES, Response
from devstack.lambdas import FunctionRegistry
from devstack.sandboxes.neobank import NeoBankSandbox
from payments.config import reset_settings
from payments.providers.neobank import signed_message
from payments.providers.neobank_signing import PemSigner, signature_header
from payments.services.ledger_check import verify_tenant_ledger
from tests.conftest import load_event
from tests.integration.helpers import items_of_type, new_tenant, served_locally
from tests.integration.test_webhook_neobank import _key, _private_pem, _public_pem

WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@dataclass
class Receiver:
    """Where the sandbox sends webhooks: kept for the test to deliver to our function."""

    received: list[tuple[dict[str, str], str]] = field(default_factory=list)
    max_body_bytes: int = MAX_BODY_BYTES
    lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> Response:
        with self.lock:
            self.received.append(({k.lower(): v for k, v in headers.items()}, body.decode()))
        return Response(200, b"{}")

    def refuse_body(self, status: int) -> Response:
        return Response(status, b"{}")

    def take(self) -> list[tuple[dict[str, str], str]]:
        with self.lock:
            taken, self.received = self.received, []
        return taken


@pytest.fixture(scope="module")
def bank_server() -> Iterator[NeoBankSandbox]:
    with NeoBankSandbox() as running:
        yield running


@pytest.fixture
def bank(aws: Any, bank_server: NeoBankSandbox, monkeypatch: pytest.MonkeyPatch) -> NeoBankSandbox:
    monkeypatch.setenv("PROVIDER_API_BASE_NEOBANK", bank_server.base_url)
    reset_settings()
    yield bank_server
    reset_settings()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    target = Receiver()
    with served_locally(target) as url:
        yield target, f"{url}/neobank"


def _pem_pair() -> tuple[str, str]:
    """A new RSA-2048 key pair as PEM texts: (private, public)."""
    key = _key()
    return _private_pem(key), _public_pem(key)


@dataclass
class Market:
    tenant_id: str
    client_id: str
    bank: NeoBankSandbox
    receiver: Receiver
    functions: FunctionRegistry

    def call(
        self,
        sample: str,
        *,
        body: dict[str, Any] | None = None,
        key: str | None = None,
        path: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        function = "ProfilesFunction" if sample.startswith("profiles/") else "TradesFunction"
        event = load_event(f"{sample}.json")
        if body is not None:
            event["body"] = json.dumps({**json.loads(event["body"]), **body})
        if key is not None:
            event["headers"]["Idempotency-Key"] = key
            event["multiValueHeaders"]["Idempotency-Key"] = [key]
        if path is not None:
            event["pathParameters"] = path
            resource = event["resource"]
            event["path"] = resource.format(**path)
        if query is not None:
            event["queryStringParameters"] = query
            event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
        event["requestContext"]["authorizer"]["tenant_id"] = self.tenant_id
        answer = self.functions.invoke(function, event)
        return answer["statusCode"], json.loads(answer["body"])

    def deliver_webhooks(self) -> list[tuple[int, dict[str, Any]]]:
        assert self.bank.wait_for_webhooks(10)
        answers = []
        for headers, raw in self.receiver.take():
            event = {
                "version": "2.0",
                "rawPath": f"/{self.tenant_id}",
                "headers": headers,
                "requestContext": {"http": {"method": "POST", "sourceIp": "127.0.0.1"}},
                "body": raw,
                "isBase64Encoded": False,
            }
            answer = self.functions.invoke("WebhookNeobankFunction", event)
            answers.append((answer["statusCode"], json.loads(answer["body"])))
        return answers

    def register(self, external_id: str = "user_1001") -> dict[str, Any]:
        status, profile = self.call(
            "profiles/create_profile",
            body={"external_customer_id": external_id},
            key=f"register-{external_id}",
        )
        assert status == 201, profile
        return profile


def _market(
    bank: NeoBankSandbox,
    receiver: tuple[Receiver, str],
    functions: FunctionRegistry,
    *,
    values: dict[str, str],
    public_pem: str,
) -> Market:
    tenant_id = new_tenant("Token market")
    target, url = receiver
    client = bank.create_client(
        public_pem, webhook_url=f"{url}/{tenant_id}", settings={"verify_after_seconds": 0.1}
    )
    event = load_event("providers_api/put_credentials.json")
    event["path"] = event["path"].replace("/stripe/", "/neobank/")
    event["pathParameters"] = {"provider": "neobank"}
    event["requestContext"]["authorizer"]["tenant_id"] = tenant_id
    event["body"] = json.dumps(
        {
            "values": {
                **values,
                "client_id": client.client_id,
                "bank_public_key_pem": client.bank_public_key_pem,
                "environment": "sandbox",
            }
        }
    )
    answer = functions.invoke("ProvidersApiFunction", event)
    assert answer["statusCode"] == 200, answer["body"]
    shown = json.loads(answer["body"])
    assert "PRIVATE KEY" not in answer["body"]  # the PEM is write-only
    assert shown["provider"] == "neobank"
    return Market(tenant_id, client.client_id, bank, target, functions)


@pytest.fixture
def market(
    bank: NeoBankSandbox, receiver: tuple[Receiver, str], functions: FunctionRegistry
) -> Market:
    private, public = _pem_pair()
    return _market(
        bank, receiver, functions, values={"signing_key_pem": private}, public_pem=public
    )


def test_register_verify_trade_clear_and_settle_with_every_request_signed(market: Market) -> None:
    profile = market.register()
    assert profile["status"] == "pending"
    assert profile["cprn"].startswith("CPRN-")
    assert profile["verified"] is False
    # A trade before the bank verified the buyer is refused, and nothing is asked of it.
    status, refused = market.call("trades/create_trade", body={"profile_id": profile["profile_id"]})
    assert (status, refused["error"]["code"]) == (409, "profile_not_verified")
    assert market.deliver_webhooks() == [(200, {"received": True, "outcome": "applied"})]
    status, verified = market.call(
        "profiles/get_profile", path={"profile_id": profile["profile_id"]}
    )
    assert (status, verified["status"], verified["verified"]) == (200, "verified", True)

    status, created = market.call(
        "trades/create_trade", body={"profile_id": profile["profile_id"]}, key="trade-1"
    )
    assert status == 201, created
    assert created["status"] == "pending"
    assert created["settlement"] == "pending"
    assert created["tx_id"].startswith("TXN-")
    remote = market.bank.payment(created["tx_id"])
    assert remote["reference"] == created["payment_id"]
    # A replay answers the same trade; the bank was asked once.
    assert market.call(
        "trades/create_trade", body={"profile_id": profile["profile_id"]}, key="trade-1"
    ) == (201, created)
    assert len(market.bank.payments(market.client_id)) == 1

    market.bank.move_payment(created["tx_id"], "SUCCESS")
    assert [a[0] for a in market.deliver_webhooks()] == [200]
    status, cleared = market.call("trades/get_trade", path={"trade_id": created["trade_id"]})
    assert (cleared["status"], cleared["settlement"]) == ("succeeded", "in_transit")
    assert cleared["settlement_due_at"]
    market.bank.move_payment(created["tx_id"], "SETTLED")
    assert [a[0] for a in market.deliver_webhooks()] == [200]
    status, settled = market.call(
        "trades/list_trades", query={"profile_id": profile["profile_id"], "settlement": "settled"}
    )
    assert [t["trade_id"] for t in settled["data"]] == [created["trade_id"]]
    status, balance = market.call(
        "profiles/get_balance", path={"profile_id": profile["profile_id"]}
    )
    assert balance["balances"] == [
        {"currency": "USD", "cleared": 0, "settled": 25000, "total": 25000}
    ]
    assert verify_tenant_ledger(market.tenant_id).ok
    # Every request the bank saw from us passed its signature checks.
    seen = market.bank.requests(market.client_id)
    assert [(r.method, r.path) for r in seen] == [
        ("POST", "/v1/registrations"),
        ("POST", "/v1/payments"),
    ]
    assert all(record.verified for record in seen), seen
    kinds = {
        item["event_type"]
        for item in items_of_type("outbox")
        if item["tenant_id"] == market.tenant_id
    }
    assert {"profile.registered", "profile.verified", "trade.succeeded", "trade.settled"} <= kinds


def test_bad_profile_and_trade_input_gets_clear_answers_and_asks_the_bank_nothing(
    market: Market,
) -> None:
    bad_checksum = WALLET[:-1] + ("D" if WALLET[-1] != "D" else "E")
    status, body = market.call("profiles/create_profile", body={"wallet_address": bad_checksum})
    assert (status, body["error"]["code"]) == (422, "invalid_profile")
    status, body = market.call("profiles/create_profile", body={"wallet_address": "0x1234"})
    assert status == 422
    assert market.bank.registrations(market.client_id) == []
    profile = market.register("user_2002")
    market.deliver_webhooks()
    # The same customer again under a new key is a conflict, not a second profile.
    status, body = market.call(
        "profiles/create_profile", body={"external_customer_id": "user_2002"}, key="again"
    )
    assert (status, body["error"]["code"]) == (409, "profile_exists")
    cases = {
        "token_quantity": ({"token_quantity": "-1"}, 422),
        "token_quantity_zero": ({"token_quantity": "0"}, 422),
        "token_contract_address": ({"token_contract_address": "0x12"}, 422),
        "token_symbol": ({"token_symbol": "acme"}, 422),
        "amount": ({"amount": 250.5}, 422),
        "currency": ({"currency": "BTC"}, 422),
        "foreign_profile": ({"profile_id": "prf_someoneelse"}, 404),
    }
    for name, (change, expected) in cases.items():
        status, body = market.call(
            "trades/create_trade",
            body={"profile_id": profile["profile_id"], **change},
            key=f"bad-{name}",
        )
        assert status == expected, (name, body)
    assert market.bank.payments(market.client_id) == []


def test_the_kms_signer_is_verified_by_the_bank(
    bank: NeoBankSandbox, receiver: tuple[Receiver, str], functions: FunctionRegistry
) -> None:
    kms = boto3.client("kms")
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    market = _market(
        bank, receiver, functions, values={"kms_key_id": key_id}, public_pem=public_pem
    )
    profile = market.register("user_kms")
    assert profile["cprn"].startswith("CPRN-")
    assert all(record.verified for record in bank.requests(market.client_id))


def test_a_request_signed_with_the_wrong_key_or_altered_is_refused_by_the_bank(
    bank: NeoBankSandbox, receiver: tuple[Receiver, str], functions: FunctionRegistry
) -> None:
    private, _ = _pem_pair()
    _, registered = _pem_pair()
    market = _market(
        bank, receiver, functions, values={"signing_key_pem": private}, public_pem=registered
    )
    status, body = market.call("profiles/create_profile")
    assert (status, body["error"]["code"]) == (409, "provider_unavailable")
    assert "invalid_signature" in body["error"]["message"]
    assert [r.refusal for r in bank.requests(market.client_id)] == ["invalid_signature"]
    # Our signer's signature over one body, sent with another: refused.
    mine, public = _pem_pair()
    honest = _market(bank, receiver, functions, values={"signing_key_pem": mine}, public_pem=public)
    body_sent = json.dumps(
        {"reference": "prf_x", "email": "a@b.co", "name": "A", "wallet_address": WALLET}
    ).encode()
    message = signed_message(
        "POST", "/v1/registrations", int(__import__("time").time()), "req_" + "a" * 32, body_sent
    )
    headers = {
        "X-Neo-Client-Id": honest.client_id,
        "X-Neo-Timestamp": message.split(b"\n")[2].decode(),
        "X-Neo-Request-Id": "req_" + "a" * 32,
        "X-Neo-Signature": signature_header(PemSigner(mine), message),
        "Content-Type": "application/json",
    }
    altered = body_sent.replace(b'"A"', b'"B"')
    answer = requests.post(
        f"{bank.base_url}/v1/registrations", data=altered, headers=headers, timeout=5
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "invalid_signature")
    answer = requests.post(
        f"{bank.base_url}/v1/registrations", data=body_sent, headers=headers, timeout=5
    )
    assert answer.status_code == 201, answer.text


def test_an_answer_that_is_not_signed_by_the_banks_key_decides_nothing(
    bank: NeoBankSandbox, receiver: tuple[Receiver, str], functions: FunctionRegistry
) -> None:
    private, public = _pem_pair()
    market = _market(
        bank, receiver, functions, values={"signing_key_pem": private}, public_pem=public
    )
    # The tenant's copy of the bank's key is another key: the bank's genuine answer does not
    # verify with it, as an impostor's would not.
    _, impostor = _pem_pair()
    event = load_event("providers_api/put_credentials.json")
    event["path"] = event["path"].replace("/stripe/", "/neobank/")
    event["pathParameters"] = {"provider": "neobank"}
    event["requestContext"]["authorizer"]["tenant_id"] = market.tenant_id
    event["body"] = json.dumps(
        {
            "values": {
                "signing_key_pem": private,
                "client_id": market.client_id,
                "bank_public_key_pem": impostor,
                "environment": "sandbox",
            }
        }
    )
    assert functions.invoke("ProvidersApiFunction", event)["statusCode"] == 200
    status, body = market.call("profiles/create_profile", key="unverified-1")
    assert (status, body["error"]["code"]) == (502, "unverified_answer"), body
    # Nothing was decided: the profile waits to be resumed, with no CPRN.
    [item] = [i for i in items_of_type("profile") if i["tenant_id"] == market.tenant_id]
    assert (item["status"], item.get("provider_ref")) == ("registering", None)


def test_a_trade_the_bank_refuses_fails_and_a_retry_does_not_ask_again(market: Market) -> None:
    from payments.domain.profiles import ProfileStatus
    from payments.store import profiles as profile_store

    # The bank does not take the buyer, but our copy says verified: the bank's refusal is
    # final for this trade.
    requests.post(
        f"{market.bank.base_url}/_sandbox/clients/{market.client_id}/settings",
        json={"verify_after_seconds": 3600},
        timeout=5,
    ).raise_for_status()
    profile = market.register("user_refused")
    # The bank rejects the buyer (which also ends its pending verification: nothing stays
    # scheduled in the shared sandbox).
    market.bank.decide_registration(profile["cprn"], "REJECTED")
    assert market.bank.wait_for_webhooks(10)
    market.receiver.take()
    stored = profile_store.get_profile(market.tenant_id, profile["profile_id"])
    assert stored is not None
    profile_store.commit_profile_change(
        stored, stored.moved(ProfileStatus.VERIFIED, stored.updated_at), at=stored.updated_at
    )
    body = {"profile_id": profile["profile_id"]}
    status, refused = market.call("trades/create_trade", body=body, key="refused-1")
    assert (status, refused["error"]["code"]) == (422, "provider_rejected"), refused
    status, again = market.call("trades/create_trade", body=body, key="refused-1")
    assert (status, again["status"], again["settlement"]) == (201, "failed", "failed"), again
    asked = [r for r in market.bank.requests(market.client_id) if r.path == "/v1/payments"]
    assert len(asked) == 1


def test_every_trade_of_the_tenant_is_listed_across_buyers_page_by_page(market: Market) -> None:
    first, second = market.register("user_a"), market.register("user_b")
    market.deliver_webhooks()  # both verified by the bank
    made = []
    for n, buyer in enumerate([first, second, first]):
        status, trade = market.call(
            "trades/create_trade", body={"profile_id": buyer["profile_id"]}, key=f"all-{n}"
        )
        assert status == 201, trade
        made.append(trade["trade_id"])
    market.bank.move_payment(
        market.call("trades/get_trade", path={"trade_id": made[1]})[1]["tx_id"], "SUCCESS"
    )
    market.deliver_webhooks()
    status, page = market.call("trades/list_trades", query={"limit": "2"})
    assert status == 200, page
    assert [t["trade_id"] for t in page["data"]] == [made[2], made[1]]  # newest first
    status, rest = market.call(
        "trades/list_trades", query={"limit": "2", "cursor": page["next_cursor"]}
    )
    assert [t["trade_id"] for t in rest["data"]] == [made[0]]
    assert rest["next_cursor"] is None
    status, in_transit = market.call("trades/list_trades", query={"settlement": "in_transit"})
    assert [t["trade_id"] for t in in_transit["data"]] == [made[1]]
    status, refused = market.call("trades/list_trades", query={"cursor": "bm90LWEtY3Vyc29y"})
    assert (status, refused["error"]["code"]) == (400, "invalid_cursor")
    # This tenant's trades only, of both its buyers.
    assert {t["profile_id"] for t in page["data"] + rest["data"]} == {
        first["profile_id"],
        second["profile_id"],
    }
