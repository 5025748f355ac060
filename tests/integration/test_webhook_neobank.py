"""NEO Bank webhooks through the real WebhookNeobankFunction (moto): signed with the bank's RSA
key by the test with `cryptography` (an independent implementation of the algorithm our adapter
verifies with pycryptodome), over trades in the state the trades use case leaves them in.
Also: the ledger of a trade (in transit, settled, reversed), the customer's balance, shuffled
and duplicated deliveries, the overdue sweep, an operator's adjustment and both signers."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from devstack.lambdas import FunctionRegistry
from devstack.template import LocalStack
from payments.config import reset_settings
from payments.domain.events import EventType
from payments.domain.payment import Payment
from payments.domain.profiles import Profile, ProfileStatus
from payments.domain.states import PaymentStatus
from payments.providers import neobank_spec as trade
from payments.providers.base import Credentials
from payments.providers.neobank_signing import KmsSigner, PemSigner, signer_for
from payments.services import profiles
from payments.services.credentials import set_provider_credentials
from payments.services.ledger_check import verify_tenant_ledger
from payments.services.sweeper import sweep
from payments.services.transitions import apply_transition, create_payment, new_payment_id
from payments.store import profiles as profile_store
from payments.store import repositories
from tests.integration.helpers import items_of_type, new_tenant

WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TOKEN = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"


def _key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_pem(key: RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def keys() -> dict[str, RSAPrivateKey]:
    return {"ours": _key(), "bank": _key(), "forger": _key()}


def stored_profile(
    tenant_id: str,
    status: ProfileStatus,
    *,
    email: str = "buyer@example.com",
    events: tuple[EventType, ...] = (),
) -> Profile:
    """A profile as registration leaves it (its CPRN claimed), in ``status``, with ``events``
    in the outbox."""
    now = datetime.now(UTC)
    profile = Profile(
        profile_id=profiles.new_profile_id(),
        tenant_id=tenant_id,
        provider="neobank",
        external_customer_id=f"user_{time.monotonic_ns()}",
        email=email,
        name="Ada Buyer",
        wallet_address=WALLET,
        status=ProfileStatus.REGISTERING,
        version=1,
        created_at=now,
        updated_at=now,
    )
    assert profile_store.create_profile(profile)
    updated = profile.moved(status, now, provider_ref=f"CPRN-{profile.profile_id[-12:].upper()}")
    profile_store.commit_profile_change(
        profile,
        updated,
        at=now,
        claim_provider_ref=True,
        events=[profiles.profile_event(kind, updated, now) for kind in events],
    )
    return updated


def trade_payment(tenant_id: str, profile: Profile, amount: int = 25000) -> Payment:
    """A trade's payment of 10.5 ACME for ``profile``, as the trades use case creates it."""
    return create_payment(
        tenant_id=tenant_id,
        payable_type=trade.TRADE_PAYABLE_TYPE,
        payable_id=profile.profile_id,
        amount=amount,
        currency="USD",
        provider="neobank",
        payment_id=new_payment_id(),
        provider_details={
            trade.PROFILE_ID: profile.profile_id,
            trade.CPRN: str(profile.provider_ref),
            trade.TOKEN_CONTRACT: TOKEN,
            trade.TOKEN_SYMBOL: "ACME",
            trade.TOKEN_QUANTITY: "10.5",
            trade.WALLET: profile.wallet_address,
        },
    )


def pending_trade(tenant_id: str, profile: Profile, amount: int = 25000) -> Payment:
    """A trade as the trades use case leaves it once the bank took it: pending, with the
    bank's tx id."""
    created = trade_payment(tenant_id, profile, amount)
    tx_id = f"TXN-{created.payment_id[-16:].upper()}"
    return apply_transition(
        tenant_id=tenant_id,
        payment_id=created.payment_id,
        requested=PaymentStatus.PENDING,
        source="api",
        changes={
            "provider_ref": tx_id,
            "provider_details": {**created.provider_details, trade.TX_ID: tx_id},
        },
        current=created,
    ).payment


@dataclass
class Marketplace:
    tenant_id: str
    bank_key: RSAPrivateKey
    functions: FunctionRegistry

    def profile(self, *, verified: bool = True) -> Profile:
        status = ProfileStatus.VERIFIED if verified else ProfileStatus.PENDING
        return stored_profile(self.tenant_id, status)

    def trade(self, profile: Profile, amount: int = 25000) -> Payment:
        """A trade as the trades use case leaves it once the bank took it: pending, with the
        bank's tx id."""
        return pending_trade(self.tenant_id, profile, amount)

    def body(self, payment: Payment, status: str, amount: str = "250.00") -> str:
        return json.dumps(
            {
                "type": "payment.status",
                "tx_id": payment.provider_ref,
                "cprn": payment.provider_details[trade.CPRN],
                "status": status,
                "amount": amount,
                "currency": payment.currency,
                "reference": payment.payment_id,
                "occurred_at": "2026-12-04T15:00:00Z",  # a Friday
            },
            separators=(",", ":"),
        )

    def deliver(
        self,
        raw: str,
        *,
        timestamp: int | None = None,
        offset: int = 0,
        key: RSAPrivateKey | None = None,
        headers: dict[str, str] | None = None,
        signed_body: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        stamp = str(int(time.time()) + offset if timestamp is None else timestamp)
        signature = (key or self.bank_key).sign(
            stamp.encode() + b"." + (signed_body or raw).encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        sent = (
            headers
            if headers is not None
            else {"X-Neo-Timestamp": stamp, "X-Neo-Signature": base64.b64encode(signature).decode()}
        )
        event = {
            "version": "2.0",
            "rawPath": f"/{self.tenant_id}",
            "headers": {"content-type": "application/json", **sent},
            "requestContext": {"http": {"method": "POST", "sourceIp": "127.0.0.1"}},
            "body": raw,
            "isBase64Encoded": False,
        }
        answer = self.functions.invoke("WebhookNeobankFunction", event)
        return answer["statusCode"], json.loads(answer["body"])

    def payment(self, payment_id: str) -> Payment:
        found = repositories.get_payment(self.tenant_id, payment_id)
        assert found is not None
        return found


@pytest.fixture
def market(
    aws: LocalStack, functions: FunctionRegistry, keys: dict[str, RSAPrivateKey]
) -> Marketplace:
    tenant = new_tenant("Token market")
    set_provider_credentials(
        tenant,
        "neobank",
        {
            "client_id": "cli_market",
            "signing_key_pem": _private_pem(keys["ours"]),
            "bank_public_key_pem": _public_pem(keys["bank"]),
            "environment": "sandbox",
        },
    )
    return Marketplace(tenant, keys["bank"], functions)


def journal(payment_id: str) -> list[dict[str, Any]]:
    return [e for e in items_of_type("journal_entry") if e["payment_id"] == payment_id]


def events_of(tenant_id: str, kind: str) -> list[dict[str, Any]]:
    return [
        json.loads(item["envelope"])
        for item in items_of_type("outbox")
        if item["tenant_id"] == tenant_id and item["event_type"] == kind
    ]


def rejections(tenant_id: str) -> list[str]:
    return [
        str(item["reason"])
        for item in items_of_type("inbox")
        if item["status"] == "rejected" and item["tenant_id"] == tenant_id
    ]


def balances(market: Marketplace, profile: Profile) -> dict[str, dict[str, Any]]:
    return {
        b.currency: b.view() for b in profiles.profile_balance(market.tenant_id, profile.profile_id)
    }


# --------------------------------------------------------------------------- in order


def test_success_then_settled_clears_into_transit_then_settles_with_the_customers_balance(
    market: Marketplace,
) -> None:
    buyer = market.profile()
    pending = market.trade(buyer)
    assert market.deliver(market.body(pending, "SUCCESS")) == (
        200,
        {"received": True, "outcome": "applied"},
    )
    cleared = market.payment(pending.payment_id)
    assert cleared.status is PaymentStatus.SUCCEEDED
    assert cleared.amount_captured == 25000
    # Cleared Friday 15:00 UTC: two business days later is Tuesday 15:00 UTC.
    assert cleared.provider_details[trade.SETTLEMENT_DUE_AT] == "2026-12-08T15:00:00Z"
    assert trade.trade_view(cleared)["settlement"] in ("in_transit", "overdue")
    [entry] = journal(pending.payment_id)
    lines = {(ln["account"], int(ln["debit"]), int(ln["credit"])) for ln in entry["lines"]}
    transit = f"settlement_in_transit:neobank:{buyer.profile_id}"
    assert lines == {(transit, 25000, 0), ("merchant_sales", 0, 25000)}
    assert balances(market, buyer) == {
        "USD": {"currency": "USD", "cleared": 25000, "settled": 0, "total": 25000}
    }
    [succeeded] = events_of(market.tenant_id, "trade.succeeded")
    assert succeeded["data"]["trade"]["trade_id"] == pending.payment_id

    assert market.deliver(market.body(pending, "SETTLED"))[0] == 200
    settled = market.payment(pending.payment_id)
    assert settled.status is PaymentStatus.SETTLED
    assert trade.trade_view(settled)["settlement"] == "settled"
    assert balances(market, buyer) == {
        "USD": {"currency": "USD", "cleared": 0, "settled": 25000, "total": 25000}
    }
    [event] = events_of(market.tenant_id, "trade.settled")
    delivered = event["data"]["trade"]
    # What the marketplace's token issuer needs to deliver.
    assert delivered["wallet_address"] == WALLET
    assert delivered["token"] == {"contract_address": TOKEN, "symbol": "ACME", "quantity": "10.5"}
    assert events_of(market.tenant_id, "payment.settled")
    assert verify_tenant_ledger(market.tenant_id).ok


def test_a_failure_after_clearing_reverses_it_and_a_failure_before_moves_no_money(
    market: Marketplace,
) -> None:
    buyer = market.profile()
    reversed_trade = market.trade(buyer)
    market.deliver(market.body(reversed_trade, "SUCCESS"))
    assert market.deliver(market.body(reversed_trade, "FAILED"))[0] == 200
    after = market.payment(reversed_trade.payment_id)
    assert after.status is PaymentStatus.FAILED
    assert trade.trade_view(after)["settlement"] == "reversed"
    assert sorted(e["description"] for e in journal(reversed_trade.payment_id)) == [
        "payment cleared",
        "payment reversed",
    ]
    assert balances(market, buyer)["USD"]["total"] == 0
    failed = market.trade(buyer)
    market.deliver(market.body(failed, "FAILED"))
    assert market.payment(failed.payment_id).status is PaymentStatus.FAILED
    assert journal(failed.payment_id) == []
    # Failure is the bank's last word: a SUCCESS after it moves nothing.
    market.deliver(market.body(failed, "SUCCESS"))
    assert market.payment(failed.payment_id).status is PaymentStatus.FAILED
    assert journal(failed.payment_id) == []
    assert len(events_of(market.tenant_id, "trade.failed")) == 2
    assert verify_tenant_ledger(market.tenant_id).ok


# --------------------------------------------------------------------------- any order


@pytest.mark.parametrize(
    ("in_order", "final", "settled"),
    [
        (("SUCCESS", "SETTLED"), PaymentStatus.SETTLED, 25000),
        (("SUCCESS", "FAILED"), PaymentStatus.FAILED, 0),
    ],
)
def test_shuffled_and_duplicated_webhooks_end_as_in_order_delivery(
    market: Marketplace, in_order: tuple[str, ...], final: PaymentStatus, settled: int
) -> None:
    outcomes = []
    for order in sorted(set(itertools.permutations(in_order + in_order))):
        buyer = market.profile()
        pending = market.trade(buyer)
        for status in order:
            assert market.deliver(market.body(pending, status))[0] == 200
        payment = market.payment(pending.payment_id)
        view = balances(market, buyer).get("USD", {"cleared": 0, "settled": 0})
        outcomes.append((order, payment.status, view["cleared"], view["settled"]))
    assert {(status, cleared, got) for _, status, cleared, got in outcomes} == {
        (final, 0, settled)
    }, outcomes
    assert verify_tenant_ledger(market.tenant_id).ok


# --------------------------------------------------------------------------- refusals


def test_bad_missing_stale_or_forged_signatures_move_nothing_and_are_recorded(
    market: Marketplace, keys: dict[str, RSAPrivateKey]
) -> None:
    pending = market.trade(market.profile())
    raw = market.body(pending, "SUCCESS")
    now = int(time.time())

    def variant(second: int) -> str:
        # A body of its own per case: refused deliveries are recorded once per payload.
        return raw.replace("15:00:00Z", f"15:00:{second:02d}Z")

    cases = {
        "forged": market.deliver(variant(1), key=keys["forger"]),
        "tampered": market.deliver(variant(2), signed_body=raw),
        "missing": market.deliver(variant(3), headers={}),
        "stale": market.deliver(variant(4), offset=-301),
        # Whole seconds: +302 is more than 300 s ahead whatever the fraction of this second.
        "future": market.deliver(variant(5), offset=302),
        "garbage": market.deliver(
            variant(6), headers={"X-Neo-Timestamp": str(now), "X-Neo-Signature": "!!"}
        ),
    }
    for name, (status, body) in cases.items():
        assert status == 400, name
        assert body["error"]["code"] == "signature_verification_failed", name
    assert market.payment(pending.payment_id).status is PaymentStatus.PENDING
    assert journal(pending.payment_id) == []
    reasons = rejections(market.tenant_id)
    assert sorted(reasons) == sorted(
        ["signature_mismatch"] * 3 + ["missing_signature"] + ["stale_timestamp"] * 2
    )
    # Within the window and correctly signed, it counts.
    assert market.deliver(raw, offset=-290)[0] == 200
    assert market.payment(pending.payment_id).status is PaymentStatus.SUCCEEDED


def test_an_amount_other_than_the_trades_is_rejected_and_recorded(market: Marketplace) -> None:
    pending = market.trade(market.profile())
    status, body = market.deliver(market.body(pending, "SUCCESS", amount="2500.00"))
    assert (status, body["outcome"]) == (200, "rejected")
    status, body = market.deliver(market.body(pending, "SUCCESS", amount="250.001"))
    assert status == 400  # more decimals than USD has: not an amount at all
    assert market.payment(pending.payment_id).status is PaymentStatus.PENDING
    assert "amount_mismatch" in rejections(market.tenant_id)
    assert "invalid_amount" in rejections(market.tenant_id)


def test_an_unknown_tx_id_is_recorded_and_acknowledged(market: Marketplace) -> None:
    ghost = market.trade(market.profile())
    raw = market.body(ghost, "SUCCESS").replace(str(ghost.provider_ref), "TXN-NOSUCHTHING")
    raw = raw.replace(ghost.payment_id, "pay_nosuchpayment")
    assert market.deliver(raw) == (200, {"received": True, "outcome": "ignored"})
    assert market.payment(ghost.payment_id).status is PaymentStatus.PENDING


# --------------------------------------------------------------------------- registrations


def test_a_registration_webhook_verifies_the_profile_once(market: Marketplace) -> None:
    buyer = market.profile(verified=False)
    raw = json.dumps(
        {
            "type": "registration.status",
            "cprn": buyer.provider_ref,
            "status": "VERIFIED",
            "reference": buyer.profile_id,
        }
    )
    assert market.deliver(raw) == (200, {"received": True, "outcome": "applied"})
    assert market.deliver(raw) == (200, {"received": True, "outcome": "duplicate"})
    assert profiles.get_profile(market.tenant_id, buyer.profile_id).verified
    [event] = events_of(market.tenant_id, "profile.verified")
    assert event["data"]["profile"]["profile_id"] == buyer.profile_id
    assert "email" not in event["data"]["profile"]
    unknown = raw.replace(str(buyer.provider_ref), "CPRN-UNKNOWN00000").replace(
        buyer.profile_id, "prf_unknown"
    )
    assert market.deliver(unknown) == (200, {"received": True, "outcome": "ignored"})


# --------------------------------------------------------------------------- overdue


def test_a_trade_not_settled_by_its_due_date_is_flagged_once(
    market: Marketplace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing answers here: asking the bank fails, and the trade is flagged all the same.
    monkeypatch.setenv("PROVIDER_API_BASE_NEOBANK", "http://127.0.0.1:9")
    reset_settings()
    pending = market.trade(market.profile())
    market.deliver(market.body(pending, "SUCCESS"))  # due 2026-12-08T15:00:00Z
    before = datetime(2026, 12, 8, 14, 0, tzinfo=UTC)
    assert sweep(before).overdue == 0
    assert events_of(market.tenant_id, "trade.settlement_overdue") == []
    after = datetime(2026, 12, 8, 16, 0, tzinfo=UTC)
    assert sweep(after).overdue == 1
    assert sweep(after + timedelta(minutes=5)).overdue == 1  # still overdue, not flagged again
    [event] = events_of(market.tenant_id, "trade.settlement_overdue")
    assert event["data"]["trade"]["settlement"] == "overdue"
    flagged = market.payment(pending.payment_id)
    assert trade.OVERDUE_FLAGGED_AT in flagged.provider_details
    assert flagged.status is PaymentStatus.SUCCEEDED
    # The bank's SETTLED still settles it.
    market.deliver(market.body(pending, "SETTLED"))
    assert market.payment(pending.payment_id).status is PaymentStatus.SETTLED
    assert sweep(after + timedelta(minutes=10)).overdue == 0


# --------------------------------------------------------------------------- adjustments


def test_an_adjustment_is_a_balanced_audited_entry_and_the_ledger_still_verifies(
    market: Marketplace,
) -> None:
    buyer = market.profile()
    pending = market.trade(buyer)
    market.deliver(market.body(pending, "SUCCESS"))
    market.deliver(market.body(pending, "SETTLED"))
    entry_id = profiles.adjust_profile_balance(
        tenant_id=market.tenant_id,
        profile_id=buyer.profile_id,
        amount="-12.50",
        currency="USD",
        reason="bank fee charged to the customer",
        operator="ops@example.com",
    )
    assert balances(market, buyer)["USD"]["settled"] == 25000 - 1250
    [entry] = [e for e in items_of_type("journal_entry") if e["entry_id"] == entry_id]
    assert "bank fee charged to the customer" in entry["description"]
    assert "ops@example.com" in entry["description"]
    assert sum(int(ln["debit"]) for ln in entry["lines"]) == sum(
        int(ln["credit"]) for ln in entry["lines"]
    )
    assert verify_tenant_ledger(market.tenant_id).ok
    with pytest.raises(profiles.InvalidProfileError):
        profiles.adjust_profile_balance(
            tenant_id=market.tenant_id, profile_id=buyer.profile_id, amount="1.005",
            currency="USD", reason="x", operator="ops",
        )  # fmt: skip


# --------------------------------------------------------------------------- signers


def _verifies(public_pem: bytes, message: bytes, signature: bytes) -> None:
    public = serialization.load_pem_public_key(public_pem)
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_the_pem_and_kms_signers_make_signatures_cryptography_verifies(
    aws: LocalStack, keys: dict[str, RSAPrivateKey]
) -> None:
    message = b"POST\n/v1/payments\n1764000000\nreq_1\n" + b'{"amount":"250.00"}'
    pem = PemSigner(_private_pem(keys["ours"]))
    _verifies(_public_pem(keys["ours"]).encode(), message, pem.sign(message))
    assert "PRIVATE" not in repr(pem)
    kms = boto3.client("kms")
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    public_der = kms.get_public_key(KeyId=key_id)["PublicKey"]
    public_pem = serialization.load_der_public_key(public_der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signer = signer_for(Credentials({"kms_key_id": key_id}))
    assert isinstance(signer, KmsSigner)
    _verifies(public_pem, message, signer.sign(message))
    with pytest.raises(Exception, match="KMS could not sign"):
        KmsSigner("alias/no-such-key").sign(message)


def test_credentials_need_exactly_one_signer(
    market: Marketplace, keys: dict[str, RSAPrivateKey]
) -> None:
    from payments.services.credentials import InvalidCredentialsError

    base = {
        "client_id": "cli_x",
        "bank_public_key_pem": _public_pem(keys["bank"]),
        "environment": "sandbox",
    }
    with pytest.raises(InvalidCredentialsError, match="exactly one"):
        set_provider_credentials(market.tenant_id, "neobank", base)
    with pytest.raises(InvalidCredentialsError, match="exactly one"):
        set_provider_credentials(
            market.tenant_id,
            "neobank",
            {**base, "signing_key_pem": _private_pem(keys["ours"]), "kms_key_id": "alias/k"},
        )


@pytest.fixture(autouse=True)
def _settings() -> Iterator[None]:
    reset_settings()
    yield
    reset_settings()


def test_the_sweeper_function_counts_overdue_settlements_as_a_metric(
    market: Marketplace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.test_observability import _emitted

    monkeypatch.setenv("PROVIDER_API_BASE_NEOBANK", "http://127.0.0.1:9")
    reset_settings()
    pending = market.trade(market.profile())
    # Cleared a fortnight ago: long past its T+2 due date.
    cleared = datetime.now(UTC) - timedelta(days=14)
    body = json.loads(market.body(pending, "SUCCESS"))
    body["occurred_at"] = cleared.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert market.deliver(json.dumps(body))[0] == 200
    capsys.readouterr()
    market.functions.invoke("SweeperFunction", {"detail-type": "Scheduled Event"})
    emitted = _emitted(capsys.readouterr().out)
    assert emitted[("SettlementsOverdue", (("provider", "neobank"),))] >= 1, emitted
    assert len(events_of(market.tenant_id, "trade.settlement_overdue")) == 1
