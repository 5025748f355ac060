"""Omnisend notifications and the pending-payment sweeper, through the real handlers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
import stripe

from devstack.lambdas import FunctionRegistry
from devstack.sandboxes.omnisend import OmnisendSandbox
from devstack.sandboxes.stripe import StripeSandbox
from devstack.template import LocalStack
from payments.aws.secrets import write_provider_secret
from payments.batch import BatchFailedError
from payments.config import reset_settings
from payments.domain.payment import Customer
from payments.domain.states import PaymentStatus
from payments.services.checkout import CheckoutInput, start_checkout
from payments.services.credentials import set_provider_credentials
from payments.services.transitions import apply_transition, create_payment
from payments.store import repositories
from tests.conftest import load_event
from tests.integration.helpers import items_of_type, new_tenant


@pytest.fixture
def omnisend(aws: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[OmnisendSandbox]:
    with OmnisendSandbox() as sandbox:
        monkeypatch.setenv("PROVIDER_API_BASE_OMNISEND", sandbox.base_url)
        reset_settings()
        yield sandbox


def _bus_event(envelope_json: str) -> dict[str, object]:
    return {"detail-type": "x", "source": "payments", "detail": {"envelope": {"S": envelope_json}}}


def _sqs_event(*bodies: dict[str, object]) -> dict[str, object]:
    return {
        "Records": [
            {
                "messageId": f"m{index}",
                "receiptHandle": f"r{index}",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for index, body in enumerate(bodies)
        ]
    }


def _succeeded_payment_event(tenant: str, email: str | None = "ann@example.com") -> str:
    payment = create_payment(
        tenant_id=tenant,
        payable_type="booking",
        payable_id="bk_1",
        amount=4550,
        currency="KES",
        provider="stripe",
        description="Braids",
        customer=Customer(email=email),
    )
    apply_transition(
        tenant_id=tenant,
        payment_id=payment.payment_id,
        requested=PaymentStatus.SUCCEEDED,
        source="provider",
    )
    [succeeded] = [
        item["envelope"]
        for item in items_of_type("outbox")
        if item["event_type"] == "payment.succeeded" and item["tenant_id"] == tenant
    ]
    return str(succeeded)


def test_a_succeeded_payment_sends_one_payment_receipt(
    omnisend: OmnisendSandbox, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    key = omnisend.register_brand()
    write_provider_secret(tenant, "omnisend", {"api_key": key, "enabled": True})
    envelope = _succeeded_payment_event(tenant)
    event = _sqs_event(_bus_event(envelope), _bus_event(envelope))  # delivered twice
    assert functions.invoke("NotifyFunction", event) == {"batchItemFailures": []}
    [received] = omnisend.events(key)
    body = received["body"]
    assert body["eventName"] == "Payment Receipt"
    assert body["contact"] == {"email": "ann@example.com"}
    assert body["properties"]["amount"] == "45.50"
    assert body["eventID"].replace("-", "") == json.loads(envelope)["id"].removeprefix("evt_")
    assert received["times_received"] == 2  # Omnisend dedupes on our event id


def test_rate_limits_are_retried_and_tenants_without_a_key_are_skipped(
    omnisend: OmnisendSandbox, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    key = omnisend.register_brand()
    write_provider_secret(tenant, "omnisend", {"api_key": key, "enabled": True})
    omnisend.fail_next(2, status=429, retry_after=0)
    envelope = _succeeded_payment_event(tenant)
    assert functions.invoke("NotifyFunction", _sqs_event(_bus_event(envelope))) == {
        "batchItemFailures": []
    }
    assert len(omnisend.events(key)) == 1
    # Omnisend keeps failing: the message goes back to the queue (a batch where every record
    # failed is an invocation error, which makes Lambda return the whole batch).
    omnisend.fail_next(10, status=503, retry_after=0)
    with pytest.raises(BatchFailedError):
        functions.invoke("NotifyFunction", _sqs_event(_bus_event(envelope)))
    # No key: skipped, not failed.
    quiet = new_tenant("no omnisend")
    quiet_envelope = _succeeded_payment_event(quiet)
    assert functions.invoke("NotifyFunction", _sqs_event(_bus_event(quiet_envelope))) == {
        "batchItemFailures": []
    }


def test_a_poison_message_fails_alone(
    omnisend: OmnisendSandbox, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    key = omnisend.register_brand()
    write_provider_secret(tenant, "omnisend", {"api_key": key, "enabled": True})
    envelope = _succeeded_payment_event(tenant)
    poison = {"not": "an event"}
    result = functions.invoke("NotifyFunction", _sqs_event(poison, _bus_event(envelope)))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert len(omnisend.events(key)) == 1


@pytest.fixture
def stripe_tenant(
    aws: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, StripeSandbox, stripe.StripeClient]]:
    with StripeSandbox() as sandbox:
        monkeypatch.setenv("PROVIDER_API_BASE_STRIPE", sandbox.base_url)
        monkeypatch.setenv("SWEEPER_PENDING_AGE_MINUTES", "0")
        reset_settings()
        tenant = new_tenant()
        account = sandbox.create_account()  # no webhook endpoint: webhooks never arrive
        set_provider_credentials(
            tenant, "stripe", {"secret_key": account.secret_key, "webhook_secret": "whsec_x"}
        )
        client = stripe.StripeClient(account.secret_key, base_addresses={"api": sandbox.base_url})
        yield tenant, sandbox, client


def _checkout(tenant: str, key: str) -> dict[str, object]:
    return start_checkout(
        tenant,
        CheckoutInput(
            payable_type="booking",
            payable_id=key,
            amount=3000,
            currency="USD",
            description="Pedicure",
            success_url="https://salon.example.com/paid",
        ),
        key,
    )


def test_the_sweeper_settles_payments_whose_webhooks_never_came(
    stripe_tenant: tuple[str, StripeSandbox, stripe.StripeClient], functions: FunctionRegistry
) -> None:
    tenant, sandbox, client = stripe_tenant
    paid = _checkout(tenant, "paid-1")
    abandoned = _checkout(tenant, "open-1")
    lapsed = _checkout(tenant, "lapsed-1")
    response = requests.post(f"{paid['checkout_url']}/pay", allow_redirects=False, timeout=10)
    assert response.status_code == 303
    sandbox.advance_clock(0)  # nothing else happens: no webhooks are registered
    client.v1.checkout.sessions.expire(str(lapsed["checkout_url"]).rsplit("/", 1)[1])
    report = functions.invoke("SweeperFunction", {"detail-type": "Scheduled Event"})
    assert report["examined"] == 3
    assert report["settled"] == {"succeeded": 1, "expired": 1}
    assert report["still_open"] == 1
    statuses = {
        key: repositories.get_payment(tenant, str(result["payment_id"])).status  # type: ignore[union-attr]
        for key, result in {"paid": paid, "open": abandoned, "lapsed": lapsed}.items()
    }
    assert statuses == {
        "paid": PaymentStatus.SUCCEEDED,
        "open": PaymentStatus.PENDING,
        "lapsed": PaymentStatus.EXPIRED,
    }
    # Running again (or alongside a late webhook) changes nothing.
    again = functions.invoke("SweeperFunction", {})
    assert (again["examined"], again["settled"]) == (1, {})


def test_the_sweeper_expires_sessions_past_their_expiry_at_stripe(
    stripe_tenant: tuple[str, StripeSandbox, stripe.StripeClient], functions: FunctionRegistry
) -> None:
    tenant, sandbox, client = stripe_tenant
    stale = _checkout(tenant, "stale-1")
    sandbox.advance_clock(25 * 3600)  # past the session's 24 h expiry
    report = functions.invoke("SweeperFunction", {})
    assert report["settled"] == {"expired": 1}
    session = client.v1.checkout.sessions.retrieve(str(stale["checkout_url"]).rsplit("/", 1)[1])
    assert session.status == "expired"
    payment = repositories.get_payment(tenant, str(stale["payment_id"]))
    assert payment is not None
    assert payment.status is PaymentStatus.EXPIRED
    assert datetime.now(UTC) - payment.updated_at < timedelta(minutes=1)


def _status(functions: FunctionRegistry, tenant: str, **query: str) -> dict[str, object]:
    event = load_event(
        "status/list_payments.json" if "payment_id" not in query else "status/get_payment.json"
    )
    payment_id = query.pop("payment_id", None)
    if payment_id is not None:
        event["path"] = f"/v1/payments/{payment_id}"
        event["pathParameters"] = {"payment_id": payment_id}
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    event["requestContext"]["authorizer"]["tenant_id"] = tenant
    response = functions.invoke("StatusFunction", event)
    assert response["statusCode"] == 200, response["body"]
    return dict(json.loads(response["body"]))


def test_refresh_settles_an_open_payment_from_its_provider_on_demand(
    stripe_tenant: tuple[str, StripeSandbox, stripe.StripeClient], functions: FunctionRegistry
) -> None:
    tenant, _sandbox, _client = stripe_tenant
    paid = _checkout(tenant, "refresh-1")
    payment_id = str(paid["payment_id"])
    view = _status(functions, tenant, payment_id=payment_id, refresh="true")
    assert (view["status"], view["refresh"]) == ("pending", {"outcome": "still_open", "code": None})
    requests.post(f"{paid['checkout_url']}/pay", allow_redirects=False, timeout=10)
    assert _status(functions, tenant, payment_id=payment_id)["refresh"] is None
    view = _status(functions, tenant, payment_id=payment_id, refresh="true")
    assert (view["status"], view["refresh"]) == ("succeeded", {"outcome": "settled", "code": None})
    view = _status(functions, tenant, payment_id=payment_id, refresh="true")
    assert view["refresh"] == {"outcome": "not_open", "code": None}
    # The provider's own id of the payment finds it; another tenant finds nothing.
    session_id = str(paid["checkout_url"]).rsplit("/", 1)[1]
    page = _status(functions, tenant, provider_reference=session_id)
    assert [p["payment_id"] for p in page["data"]] == [payment_id]  # type: ignore[attr-defined]
    assert _status(functions, new_tenant("Other"), provider_reference=session_id)["data"] == []


def test_refreshes_are_rate_limited_per_tenant(
    stripe_tenant: tuple[str, StripeSandbox, stripe.StripeClient],
    functions: FunctionRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant, _sandbox, _client = stripe_tenant
    monkeypatch.setenv("RATE_LIMIT_PAYMENT_REFRESH", '{"capacity": 1, "window_seconds": 60}')
    reset_settings()
    payment_id = str(_checkout(tenant, "refresh-limit")["payment_id"])
    _status(functions, tenant, payment_id=payment_id, refresh="true")
    event = load_event("status/get_payment.json")
    event["path"] = f"/v1/payments/{payment_id}"
    event["pathParameters"] = {"payment_id": payment_id}
    event["queryStringParameters"] = {"refresh": "true"}
    event["multiValueQueryStringParameters"] = {"refresh": ["true"]}
    event["requestContext"]["authorizer"]["tenant_id"] = tenant
    response = functions.invoke("StatusFunction", event)
    assert response["statusCode"] == 429
    assert json.loads(response["body"])["error"]["code"] == "rate_limited"


def test_the_sweeper_holds_each_provider_to_its_own_age(
    stripe_tenant: tuple[str, StripeSandbox, stripe.StripeClient],
    functions: FunctionRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant, _sandbox, _client = stripe_tenant
    paid = _checkout(tenant, "age-1")
    requests.post(f"{paid['checkout_url']}/pay", allow_redirects=False, timeout=10)
    monkeypatch.setenv("SWEEPER_PENDING_AGE_MINUTES_STRIPE", "60")  # the general one is 0
    reset_settings()
    report = functions.invoke("SweeperFunction", {})
    assert (report["examined"], report["settled"]) == (0, {})
    monkeypatch.setenv("SWEEPER_PENDING_AGE_MINUTES_STRIPE", "0")
    reset_settings()
    assert functions.invoke("SweeperFunction", {})["settled"] == {"succeeded": 1}
