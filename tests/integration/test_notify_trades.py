"""NEO Bank e-mails through the real NotifyFunction and the Omnisend sandbox (moto): a trade's
clearing and settlement, a profile's welcome, each to the stored profile's e-mail (events carry
none) and each once per event; a trade's own payment.succeeded sends no receipt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devstack.lambdas import FunctionRegistry
from devstack.sandboxes.omnisend import OmnisendSandbox
from devstack.template import LocalStack
from payments.aws.secrets import write_provider_secret
from payments.config import reset_settings
from payments.domain.events import EventType
from payments.domain.payment import Payment
from payments.domain.profiles import Profile, ProfileStatus
from payments.domain.states import PaymentStatus
from payments.services.transitions import apply_transition
from tests.integration.helpers import items_of_type, new_tenant
from tests.integration.test_webhook_neobank import WALLET, stored_profile, trade_payment


@pytest.fixture
def omnisend(aws: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[OmnisendSandbox]:
    with OmnisendSandbox() as sandbox:
        monkeypatch.setenv("PROVIDER_API_BASE_OMNISEND", sandbox.base_url)
        reset_settings()
        yield sandbox


@dataclass
class Tenant:
    tenant_id: str
    omnisend_key: str
    omnisend: OmnisendSandbox

    def sent(self) -> list[dict[str, Any]]:
        """What the sandbox recorded for this tenant's Omnisend brand (one per eventID)."""
        return self.omnisend.events(self.omnisend_key)


@pytest.fixture
def tenant(omnisend: OmnisendSandbox) -> Tenant:
    tenant_id = new_tenant("Token market")
    key = omnisend.register_brand()
    write_provider_secret(tenant_id, "omnisend", {"api_key": key, "enabled": True})
    return Tenant(tenant_id, key, omnisend)


def _sqs_event(*envelopes: str) -> dict[str, object]:
    return {
        "Records": [
            {
                "messageId": f"m{index}",
                "receiptHandle": f"r{index}",
                "body": json.dumps(
                    {
                        "detail-type": json.loads(envelope)["type"],
                        "source": "payments",
                        "detail": {"envelope": {"S": envelope}},
                    }
                ),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for index, envelope in enumerate(envelopes)
        ]
    }


def _outbox(tenant: Tenant, event_type: str) -> list[str]:
    return [
        str(item["envelope"])
        for item in items_of_type("outbox")
        if item["event_type"] == event_type and item["tenant_id"] == tenant.tenant_id
    ]


def _profile(tenant: Tenant, email: str = "buyer@example.com") -> Profile:
    """A profile as registration leaves it, with its profile.registered in the outbox."""
    return stored_profile(
        tenant.tenant_id,
        ProfileStatus.PENDING,
        email=email,
        events=(EventType.PROFILE_REGISTERED,),
    )


def _trade(tenant: Tenant, profile: Profile, *to: PaymentStatus) -> Payment:
    """A USD 250.00 trade of 10.5 ACME moved through ``to`` as the bank's webhooks move it."""
    payment = trade_payment(tenant.tenant_id, profile)
    for status in (PaymentStatus.PENDING, *to):
        payment = apply_transition(
            tenant_id=tenant.tenant_id,
            payment_id=payment.payment_id,
            requested=status,
            source="provider",
        ).payment
    return payment


def _event_id(envelope: str) -> str:
    return str(json.loads(envelope)["id"]).removeprefix("evt_")


def _notify(functions: FunctionRegistry, *envelopes: str) -> None:
    assert functions.invoke("NotifyFunction", _sqs_event(*envelopes)) == {"batchItemFailures": []}


def test_a_cleared_trade_sends_one_trade_success_to_the_profiles_email(
    tenant: Tenant, functions: FunctionRegistry
) -> None:
    profile = _profile(tenant, email="ada@example.com")
    payment = _trade(tenant, profile, PaymentStatus.SUCCEEDED)
    [envelope] = _outbox(tenant, "trade.succeeded")
    assert "ada@example.com" not in envelope  # the e-mail comes from the profile item

    _notify(functions, envelope)
    _notify(functions, envelope, envelope)  # the bus delivered it again, twice in one batch

    [received] = tenant.sent()
    body = received["body"]
    assert body["eventName"] == "Security Token Trade Success"
    assert body["contact"] == {"email": "ada@example.com"}
    assert body["properties"] == {
        "trade_id": payment.payment_id,
        "trade_amount": "250.00",
        "currency": "USD",
        "token_symbol": "ACME",
        "token_quantity": "10.5",
    }
    assert body["eventID"].replace("-", "") == _event_id(envelope)
    assert received["times_received"] == 3  # delivered three times, recorded (e-mailed) once


def test_a_settled_trade_sends_the_settlement_email(
    tenant: Tenant, functions: FunctionRegistry
) -> None:
    profile = _profile(tenant)
    payment = _trade(tenant, profile, PaymentStatus.SUCCEEDED, PaymentStatus.SETTLED)
    [settled] = _outbox(tenant, "trade.settled")
    _notify(functions, settled, settled)

    [received] = tenant.sent()
    body = received["body"]
    assert body["eventName"] == "Security Token Trade Settled"
    assert body["contact"] == {"email": "buyer@example.com"}
    assert body["properties"] == {
        "trade_id": payment.payment_id,
        "trade_amount": "250.00",
        "currency": "USD",
        "token_symbol": "ACME",
        "token_quantity": "10.5",
        "wallet_address": WALLET,
    }
    assert body["eventID"].replace("-", "") == _event_id(settled)
    assert received["times_received"] == 2


def test_a_registered_profile_is_welcomed(tenant: Tenant, functions: FunctionRegistry) -> None:
    profile = _profile(tenant, email="new@example.com")
    [registered] = _outbox(tenant, "profile.registered")
    assert "new@example.com" not in registered
    _notify(functions, registered)

    [received] = tenant.sent()
    body = received["body"]
    assert body["eventName"] == "Welcome"
    assert body["contact"] == {"email": "new@example.com"}
    assert body["properties"] == {"profile_id": profile.profile_id, "name": "Ada Buyer"}
    assert body["eventID"].replace("-", "") == _event_id(registered)


def test_a_trades_payment_succeeded_sends_no_receipt(
    tenant: Tenant, functions: FunctionRegistry
) -> None:
    profile = _profile(tenant)
    _trade(tenant, profile, PaymentStatus.SUCCEEDED)
    [payment_succeeded] = _outbox(tenant, "payment.succeeded")
    [trade_succeeded] = _outbox(tenant, "trade.succeeded")
    _notify(functions, payment_succeeded, trade_succeeded)

    # The trade e-mail only: the payment has no customer e-mail, so no Payment Receipt.
    assert [event["body"]["eventName"] for event in tenant.sent()] == [
        "Security Token Trade Success"
    ]


def test_an_event_whose_profile_is_unknown_is_skipped(tenant: Tenant) -> None:
    from payments.services.notifications import notify

    other = Tenant(new_tenant("Other market"), tenant.omnisend_key, tenant.omnisend)
    write_provider_secret(other.tenant_id, "omnisend", {"api_key": other.omnisend_key})
    _profile(tenant)
    [registered] = _outbox(tenant, "profile.registered")
    # The same event under another tenant: that tenant has no such profile.
    moved = json.dumps({**json.loads(registered), "tenant_id": other.tenant_id})
    bus_event = json.loads(_sqs_event(moved)["Records"][0]["body"])  # type: ignore[index]
    assert notify(bus_event) == "skipped_no_email"
    assert tenant.sent() == []
