"""The AWS calls each operation makes, held to the table in bench/aws-calls.md.

Every route of the REST API, the authorizer, every webhook kind and the background functions
are driven through their real handlers (moto as AWS, the provider sandboxes as providers), and
the botocore calls of one invocation are counted by ``service:Operation``. What is counted is a
warm container's: each operation runs once untimed (clients made, secrets and provider tokens
cached), and the calls of the second invocation of the same shape are the ones compared.

The comparison is exact: a call added fails the operation's test, and so does a call removed
(update the table then). With ``UPDATE_AWS_CALLS=1`` the tests rewrite the table from what they
measured instead of comparing (only the rows that ran).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import stripe
from aws_lambda_powertools.utilities import parameters

from devstack.lambdas import FunctionRegistry
from devstack.sandboxes.daraja import DarajaSandbox
from devstack.sandboxes.neobank import NeoBankSandbox
from devstack.sandboxes.omnisend import OmnisendSandbox
from devstack.sandboxes.stripe import StripeSandbox
from devstack.template import LocalStack
from payments.aws.secrets import write_provider_secret
from payments.config import get_settings, reset_settings
from payments.domain.payment import Customer
from payments.domain.profiles import Profile, ProfileStatus
from payments.domain.states import PaymentStatus
from payments.providers import mpesa_spec, neobank_spec, stripe_spec
from payments.services.checkout import CheckoutInput, start_checkout
from payments.services.credentials import set_provider_credentials
from payments.services.profiles import new_profile_id
from payments.services.transitions import apply_transition, create_payment
from payments.store import profiles as profile_store
from payments.store import repositories
from tests.conftest import ROOT, load_event
from tests.integration.conftest import AwsCallCounter
from tests.integration.helpers import items_of_type, new_payment, new_tenant
from tests.integration.stripe_fixtures import (
    OpenCheckout,
    charge_refunded,
    configure_stripe,
    dispute_created,
    intent_succeeded,
    open_checkout,
    refund,
    session_completed,
    signed_delivery,
)
from tests.integration.test_callbacks import Merchant
from tests.integration.test_mpesa_stk import (
    deliver,
    get_payment,
    mpesa_tenant,
    sent_callback,
    stk_push,
)

TABLE = ROOT / "bench" / "aws-calls.md"
BEGIN, END = "<!-- aws-calls:begin -->", "<!-- aws-calls:end -->"
UPDATE = os.environ.get("UPDATE_AWS_CALLS") == "1"

# Every call an operation may make is one of these; a call in neither set fails the test until
# it is classified. Writes change stored state; reads are every other call (KMS Encrypt and
# Decrypt change nothing either).
WRITES = frozenset(
    {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:TransactWriteItems",
        "dynamodb:BatchWriteItem",
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
        "sqs:SendMessage",
        "sqs:SendMessageBatch",
        "sqs:DeleteMessage",
        "events:PutEvents",
    }
)
READS = frozenset(
    {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:BatchGetItem",
        "dynamodb:TransactGetItems",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:Sign",
        "sqs:ReceiveMessage",
        "sqs:GetQueueAttributes",
    }
)
SERVICE_ORDER = ("dynamodb", "secretsmanager", "kms", "sqs", "events")

_unique = itertools.count(1)


def unique() -> int:
    return next(_unique)


# --- the world every operation runs in -------------------------------------------------------


@pytest.fixture(scope="module")
def stripe_sandbox() -> Iterator[StripeSandbox]:
    with StripeSandbox() as running:
        yield running


@pytest.fixture(scope="module")
def neobank_sandbox() -> Iterator[NeoBankSandbox]:
    with NeoBankSandbox() as running:
        yield running


@pytest.fixture(scope="module")
def omnisend_sandbox() -> Iterator[OmnisendSandbox]:
    with OmnisendSandbox() as running:
        yield running


@dataclass
class World:
    """The handlers, the sandboxes standing in for the providers, and builders that make
    tenants and payments the way the other integration tests do."""

    functions: FunctionRegistry
    daraja: DarajaSandbox
    stripe: StripeSandbox
    omnisend: OmnisendSandbox
    merchants: list[Merchant]
    neobank: NeoBankSandbox | None = None

    # -- tenants

    def stripe_tenant(self) -> tuple[str, stripe.StripeClient]:
        """A tenant with its own Stripe (sandbox) account, and that account's client."""
        tenant = new_tenant("Salon")
        account = self.stripe.create_account()
        set_provider_credentials(
            tenant, "stripe", {"secret_key": account.secret_key, "webhook_secret": "whsec_x"}
        )
        client = stripe.StripeClient(
            account.secret_key, base_addresses={"api": self.stripe.base_url}
        )
        return tenant, client

    def webhook_tenant(self) -> str:
        """A tenant whose Stripe webhooks are signed with stripe_fixtures' secret."""
        tenant = new_tenant("Webhooks")
        configure_stripe(tenant)
        return tenant

    def mpesa_tenant(self) -> str:
        return mpesa_tenant(self.functions, self.daraja)

    def neobank_tenant(self, bank_public_key_pem: str | None = None) -> str:
        """A tenant with a NEO Bank (sandbox) client that verifies registrations at once, its
        PEM key registered there (``bank_public_key_pem``: another bank key, for webhooks the
        test signs itself)."""
        from tests.integration.test_neobank_api import _pem_pair

        assert self.neobank is not None
        tenant = new_tenant("Token market")
        private, public = _pem_pair()
        client = self.neobank.create_client(public, settings={"verify_after_seconds": 0})
        set_provider_credentials(
            tenant,
            "neobank",
            {
                "client_id": client.client_id,
                "signing_key_pem": private,
                "bank_public_key_pem": bank_public_key_pem or client.bank_public_key_pem,
                "environment": "sandbox",
            },
        )
        return tenant

    def merchant(self) -> Merchant:
        """A merchant's callback receiver on localhost (answering 204 unless told otherwise)."""
        started = Merchant().start()
        self.merchants.append(started)
        return started

    # -- the REST API, as API Gateway calls it once the authorizer let the request in

    def api(
        self,
        function: str,
        sample: str,
        tenant: str,
        *,
        method: str | None = None,
        path: str | None = None,
        path_parameters: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
    ) -> tuple[int, Any]:
        event = load_event(sample)
        if method is not None:
            event["httpMethod"] = method
        if path is not None:
            event["path"] = event["resource"] = path
            event["pathParameters"] = path_parameters
        if query is not None:
            event["queryStringParameters"] = query
            event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
        if body is not None:
            event["body"] = json.dumps(body)
            event["headers"]["Content-Type"] = "application/json"
        if idempotency_key is not None:
            event["headers"]["Idempotency-Key"] = idempotency_key
            event["multiValueHeaders"]["Idempotency-Key"] = [idempotency_key]
        event["requestContext"]["authorizer"]["tenant_id"] = tenant
        response = self.functions.invoke(function, event)
        return response["statusCode"], json.loads(response["body"] or "null")

    def checkout(self, tenant: str, key: str, **changes: Any) -> tuple[int, Any]:
        body = {**json.loads(load_event("checkout/create.json")["body"]), **changes}
        return self.api(
            "CheckoutFunction", "checkout/create.json", tenant, body=body, idempotency_key=key
        )

    def refund(self, tenant: str, payment_id: str, key: str, **body: Any) -> tuple[int, Any]:
        return self.api(
            "RefundsFunction",
            "refunds/create.json",
            tenant,
            path=f"/v1/payments/{payment_id}/refunds",
            path_parameters={"payment_id": payment_id},
            body=body,
            idempotency_key=key,
        )

    def callbacks_api(
        self, tenant: str, method: str, path: str, body: Any = None, **query: str
    ) -> tuple[int, Any]:
        return self.api(
            "CallbacksApiFunction",
            "status/get_payment.json",
            tenant,
            method=method,
            path=path,
            query=query or None,
            body=body,
        )

    def credentials_api(
        self, tenant: str, method: str, provider: str = "stripe", body: Any = None
    ) -> tuple[int, Any]:
        sample = {"PUT": "put_credentials", "GET": "get_credentials", "POST": "test_credentials"}
        event_path = load_event(f"providers_api/{sample[method]}.json")["path"]
        return self.api(
            "ProvidersApiFunction",
            f"providers_api/{sample[method]}.json",
            tenant,
            path=event_path.replace("/stripe/", f"/{provider}/"),
            path_parameters={"provider": provider},
            body=body,
        )

    def register_endpoint(self, tenant: str, merchant: Merchant) -> dict[str, Any]:
        status, endpoint = self.callbacks_api(
            tenant, "POST", "/v1/callbacks/endpoints", {"url": merchant.url}
        )
        assert status == 201, endpoint
        return dict(endpoint)

    # -- payments in a given state

    def paid_stripe_payment(self, tenant: str, client: stripe.StripeClient) -> str:
        """A checkout paid at the Stripe sandbox, its capture applied as the webhook would."""
        _, body = self.checkout(tenant, f"paid-{unique()}", payable_id=f"bk_{unique()}")
        response = requests.post(f"{body['checkout_url']}/pay", allow_redirects=False, timeout=10)
        assert response.status_code == 303
        session = client.v1.checkout.sessions.retrieve(body["checkout_url"].rsplit("/", 1)[1])
        apply_transition(
            tenant_id=tenant,
            payment_id=body["payment_id"],
            requested=PaymentStatus.SUCCEEDED,
            source="provider",
            changes={"capture_ref": str(session.payment_intent)},
        )
        return str(body["payment_id"])

    def open_stripe_checkout(self, tenant: str) -> dict[str, Any]:
        """A Stripe checkout opened through the service, as POST /v1/checkout leaves it."""
        n = unique()
        return start_checkout(
            tenant,
            CheckoutInput(
                payable_type="booking",
                payable_id=f"bk_{n}",
                amount=3000,
                currency="USD",
                description="Pedicure",
                success_url="https://salon.example.com/paid",
            ),
            f"sweep-{n}",
        )

    def push(self, tenant: str) -> dict[str, Any]:
        """An STK push through the handler, to a phone of its own."""
        n = unique()
        phone = f"07{10_000_000 + n:08d}"
        status, pushed, _ = stk_push(self.functions, tenant, key=f"push-{n}", phone_number=phone)
        assert status == 202, pushed
        return {**pushed, "msisdn": int("254" + phone[1:])}

    def succeeded_payment_envelope(self, tenant: str, email: str | None) -> str:
        """The bus envelope of a payment.succeeded event, as the outbox holds it."""
        payment = create_payment(
            tenant_id=tenant,
            payable_type="booking",
            payable_id=f"bk_{unique()}",
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
        return outbox_envelope(payment.payment_id, "payment.succeeded")

    def cleared_trade_envelope(self, tenant: str) -> str:
        """The bus envelope of a trade.succeeded event (a NEO Bank trade cleared), its buyer's
        profile stored."""
        now = datetime.now(UTC)
        profile = Profile(
            profile_id=new_profile_id(),
            tenant_id=tenant,
            provider="neobank",
            external_customer_id=f"user_{unique()}",
            email="ada@example.com",
            name="Ada Buyer",
            wallet_address="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            status=ProfileStatus.VERIFIED,
            version=1,
            created_at=now,
            updated_at=now,
        )
        assert profile_store.create_profile(profile)
        payment = create_payment(
            tenant_id=tenant,
            payable_type=neobank_spec.TRADE_PAYABLE_TYPE,
            payable_id=profile.profile_id,
            amount=25000,
            currency="USD",
            provider="neobank",
            provider_details={
                neobank_spec.PROFILE_ID: profile.profile_id,
                neobank_spec.TOKEN_SYMBOL: "ACME",
                neobank_spec.TOKEN_QUANTITY: "10.5",
            },
        )
        for status in (PaymentStatus.PENDING, PaymentStatus.SUCCEEDED):
            apply_transition(
                tenant_id=tenant,
                payment_id=payment.payment_id,
                requested=status,
                source="provider",
            )
        for item in items_of_type("outbox"):
            envelope = json.loads(item["envelope"])
            trade = envelope["data"].get("trade") or {}
            if envelope["type"] == "trade.succeeded" and trade["trade_id"] == payment.payment_id:
                return str(item["envelope"])
        raise AssertionError(f"no trade.succeeded in the outbox for {payment.payment_id}")


@pytest.fixture
def world(
    aws: LocalStack,
    functions: FunctionRegistry,
    daraja: DarajaSandbox,
    stripe_sandbox: StripeSandbox,
    omnisend_sandbox: OmnisendSandbox,
    neobank_sandbox: NeoBankSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    monkeypatch.setenv("PROVIDER_API_BASE_STRIPE", stripe_sandbox.base_url)
    monkeypatch.setenv("PROVIDER_API_BASE_NEOBANK", neobank_sandbox.base_url)
    monkeypatch.setenv("PROVIDER_API_BASE_OMNISEND", omnisend_sandbox.base_url)
    monkeypatch.setenv("ALLOW_LOCAL_CALLBACK_URLS", "true")
    monkeypatch.setenv("CALLBACK_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("CALLBACK_RETRY_TIME_SCALE", "0.00005")  # a retry is queued undelayed
    monkeypatch.setenv("SWEEPER_PENDING_AGE_MINUTES", "0")
    monkeypatch.setenv("SWEEPER_PENDING_AGE_MINUTES_MPESA", "0")
    reset_settings()
    merchants: list[Merchant] = []
    yield World(functions, daraja, stripe_sandbox, omnisend_sandbox, merchants, neobank_sandbox)
    for merchant in merchants:
        merchant.stop()


# --- events the queues and the bus carry -------------------------------------------------------


def outbox_envelope(payment_id: str, event_type: str) -> str:
    for item in items_of_type("outbox"):
        envelope = json.loads(item["envelope"])
        if envelope["type"] == event_type and envelope["data"]["payment"]["payment_id"] == (
            payment_id
        ):
            return str(item["envelope"])
    raise AssertionError(f"no {event_type} in the outbox for {payment_id}")


def bus_event(envelope: str) -> dict[str, Any]:
    """What the bus rule puts on a queue for one outbox item (see template.yaml)."""
    return {
        "version": "0",
        "id": f"eb-{unique()}",
        "detail-type": json.loads(envelope)["type"],
        "source": "payments",
        "detail": {"envelope": {"S": envelope}},
    }


def envelope_for(tenant: str, event_type: str = "payment.succeeded") -> str:
    return json.dumps(
        {
            "id": f"evt_{unique():032x}",
            "type": event_type,
            "tenant_id": tenant,
            "occurred_at": "2026-11-23T10:00:00.000Z",
            "data": {"payment": {"payment_id": "pay_1", "payable_type": "booking", "amount": 4500}},
        }
    )


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{index}",
                "receiptHandle": f"r{index}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for index, body in enumerate(bodies)
        ]
    }


def queued_tasks() -> list[dict[str, Any]]:
    """Every message waiting on the callback queue (taken off it), as Lambda would get them."""
    sqs = boto3.client("sqs")
    url = get_settings().callback_queue_url
    taken: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return taken
        for message in messages:
            taken.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def fan_out(world: World, tenant: str) -> list[dict[str, Any]]:
    """A bus event fanned out by the callback function; returns the delivery tasks it queued."""
    queued_tasks()
    event = sqs_event(json.dumps(bus_event(envelope_for(tenant))))
    assert world.functions.invoke("CallbackFunction", event) == {"batchItemFailures": []}
    return queued_tasks()


# --- what one invocation is --------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    """One invocation of a handler, checking its answer (no AWS calls of its own); ``verify``
    checks what it did afterwards, outside the counted window."""

    run: Callable[[], None]
    verify: Callable[[], None] | None = None


# A scenario makes whatever one invocation needs, yields it, and does so again for the next.
Scenario = Callable[[World], Iterator[Invocation]]


@dataclass(frozen=True)
class Operation:
    name: str  # the table's operation column
    function: str  # the template's logical id of the function that runs it
    scenario: Scenario


def expect(result: tuple[int, Any], code: int, **fields: Any) -> Any:
    got_status, body = result
    assert got_status == code, body
    for name, value in fields.items():
        assert body[name] == value, body
    return body


def stripe_delivery(world: World, tenant: str, event: Any, status: int, **body: Any) -> None:
    response = world.functions.invoke("WebhookStripeFunction", signed_delivery(tenant, event))
    assert response["statusCode"] == status, response["body"]
    answer = json.loads(response["body"])
    for name, value in body.items():
        assert answer[name] == value, answer


def stripe_event_of(checkout: OpenCheckout, event_type: str, **session: Any) -> dict[str, Any]:
    """A checkout.session.* event for ``checkout`` (its id unique to the type)."""
    event = session_completed(checkout)
    event["id"] = f"evt_{event_type}_{checkout.session_id}"
    event["type"] = event_type
    event["data"]["object"].update(session)
    return event


def payment_status(tenant: str, payment_id: str) -> str:
    payment = repositories.get_payment(tenant, payment_id)
    assert payment is not None
    return payment.status.value


def rejected_reasons(tenant: str) -> list[str]:
    return sorted(
        str(item["reason"])
        for item in items_of_type("inbox")
        if item["status"] == "rejected" and item["tenant_id"] == tenant
    )


# --- the REST API ------------------------------------------------------------------------------


def authorizer_valid_key(world: World) -> Iterator[Invocation]:
    tenant = new_tenant()
    while True:
        key = repositories.issue_api_key(tenant)
        event = load_event("authorizer/request.json")
        event["headers"]["Authorization"] = f"Bearer {key.plaintext}"

        def run(event: dict[str, Any] = event, key_id: str = key.key_id) -> None:
            policy = world.functions.invoke("AuthorizerFunction", event)
            assert policy["principalId"] == key_id

        yield Invocation(run)


def authorizer_unknown_key(world: World) -> Iterator[Invocation]:
    while True:
        event = load_event("authorizer/request.json")
        event["headers"]["Authorization"] = f"Bearer pk_unknown_{unique()}"

        def run(event: dict[str, Any] = event) -> None:
            with pytest.raises(Exception, match=r"^Unauthorized$"):
                world.functions.invoke("AuthorizerFunction", event)

        yield Invocation(run)


def health(world: World) -> Iterator[Invocation]:
    def run() -> None:
        response = world.functions.invoke("HealthFunction", load_event("health/get.json"))
        assert response["statusCode"] == 200

    while True:
        yield Invocation(run)


def dashboard(path: str, **path_parameters: str) -> Scenario:
    def scenario(world: World) -> Iterator[Invocation]:
        def run() -> None:
            event = load_event("dashboard/asset.json" if path_parameters else "dashboard/page.json")
            resource = "/dashboard/assets/{asset}" if path_parameters else path
            event.update(path=path, resource=resource, pathParameters=path_parameters or None)
            event["requestContext"]["resourcePath"] = resource
            assert world.functions.invoke("DashboardFunction", event)["statusCode"] == 200

        while True:
            yield Invocation(run)

    return scenario


def docs(path: str, **path_parameters: str) -> Scenario:
    def scenario(world: World) -> Iterator[Invocation]:
        def run() -> None:
            event = load_event("health/get.json")
            resource = "/v1/docs/{asset}" if path_parameters else path
            event.update(path=path, resource=resource, pathParameters=path_parameters or None)
            event["requestContext"]["resourcePath"] = resource
            assert world.functions.invoke("DocsFunction", event)["statusCode"] == 200

        while True:
            yield Invocation(run)

    return scenario


def checkout_returning_customer(world: World) -> Iterator[Invocation]:
    tenant, client = world.stripe_tenant()
    # The sample's customer has checked out before: its Stripe customer is linked.
    email = json.loads(load_event("checkout/create.json")["body"])["customer"]["email"]
    customer = client.v1.customers.create(params={"email": email})
    repositories.save_customer_link(tenant, "stripe", email, customer.id)
    while True:
        n = unique()
        yield Invocation(
            lambda n=n: expect(
                world.checkout(tenant, f"ck-{n}", payable_id=f"bk_{n}"), 201, status="pending"
            )
        )


def checkout_new_customer(world: World) -> Iterator[Invocation]:
    tenant, _ = world.stripe_tenant()
    while True:
        n = unique()
        customer = {"email": f"customer{n}@example.com", "name": "Ann"}
        yield Invocation(
            lambda n=n, customer=customer: expect(
                world.checkout(tenant, f"ck-{n}", payable_id=f"bk_{n}", customer=customer),
                201,
                status="pending",
            )
        )


def checkout_replay(world: World) -> Iterator[Invocation]:
    tenant, _ = world.stripe_tenant()
    while True:
        n = unique()
        first = expect(world.checkout(tenant, f"ck-{n}", payable_id=f"bk_{n}"), 201)
        yield Invocation(
            lambda n=n, first=first: expect(
                world.checkout(tenant, f"ck-{n}", payable_id=f"bk_{n}"),
                201,
                payment_id=first["payment_id"],
            )
        )


def stk_push_created(world: World) -> Iterator[Invocation]:
    tenant = world.mpesa_tenant()
    world.push(tenant)  # the credentials' Daraja token is fetched and shared

    def run() -> None:
        assert world.push(tenant)["status"] == "pending"

    while True:
        yield Invocation(run)


def stk_push_new_credentials(world: World) -> Iterator[Invocation]:
    while True:
        tenant = world.mpesa_tenant()  # stored just now: no container has a token for them

        def run(tenant: str = tenant) -> None:
            assert world.push(tenant)["status"] == "pending"

        yield Invocation(run)


def stk_push_replay(world: World) -> Iterator[Invocation]:
    tenant = world.mpesa_tenant()
    while True:
        n = unique()
        phone = f"07{10_000_000 + n:08d}"
        first = expect(
            stk_push(world.functions, tenant, key=f"push-{n}", phone_number=phone)[:2], 202
        )
        yield Invocation(
            lambda n=n, phone=phone, first=first: expect(
                stk_push(world.functions, tenant, key=f"push-{n}", phone_number=phone)[:2],
                202,
                payment_id=first["payment_id"],
            )
        )


def payment_get(world: World) -> Iterator[Invocation]:
    tenant = new_tenant()
    while True:
        payment = new_payment(tenant, payable_id=f"bk_{unique()}")
        yield Invocation(
            lambda payment_id=payment.payment_id: expect(
                get_payment(world.functions, tenant, payment_id), 200, status="created"
            )
        )


def payment_get_with_refund(world: World) -> Iterator[Invocation]:
    tenant, client = world.stripe_tenant()
    while True:
        payment_id = world.paid_stripe_payment(tenant, client)
        expect(world.refund(tenant, payment_id, f"rf-{unique()}", amount=1000), 201)

        def run(payment_id: str = payment_id) -> None:
            view = expect(get_payment(world.functions, tenant, payment_id), 200)
            assert [r["amount"] for r in view["refunds"]] == [1000]
            assert view["status"] == "partially_refunded"

        yield Invocation(run)


def refresh_mpesa_still_open(world: World) -> Iterator[Invocation]:
    tenant = world.mpesa_tenant()
    while True:
        pushed = world.push(tenant)

        def run(payment_id: str = pushed["payment_id"]) -> None:
            view = expect(
                get_payment(world.functions, tenant, payment_id, refresh="true"),
                200,
                status="pending",
            )
            assert view["refresh"]["outcome"] == "still_open"

        yield Invocation(run)


def refresh_mpesa_settles(world: World) -> Iterator[Invocation]:
    world.daraja.chaos.drop_callbacks = True
    tenant = world.mpesa_tenant()
    while True:
        pushed = world.push(tenant)
        world.daraja.press(pushed["checkout_request_id"], "pay")

        def run(payment_id: str = pushed["payment_id"]) -> None:
            view = expect(
                get_payment(world.functions, tenant, payment_id, refresh="true"),
                200,
                status="succeeded",
            )
            assert view["refresh"]["outcome"] == "settled"

        yield Invocation(run)


def refresh_final_payment(world: World) -> Iterator[Invocation]:
    tenant = new_tenant()
    while True:
        payment = new_payment(tenant, payable_id=f"bk_{unique()}")
        apply_transition(
            tenant_id=tenant,
            payment_id=payment.payment_id,
            requested=PaymentStatus.SUCCEEDED,
            source="provider",
        )

        def run(payment_id: str = payment.payment_id) -> None:
            view = expect(get_payment(world.functions, tenant, payment_id, refresh="true"), 200)
            assert view["refresh"]["outcome"] == "not_open"

        yield Invocation(run)


def list_by_payable(world: World) -> Iterator[Invocation]:
    tenant = new_tenant()
    while True:
        payable = f"bk_{unique()}"
        for _ in range(2):
            new_payment(tenant, payable_id=payable)

        def run(payable: str = payable) -> None:
            page = expect(
                world.api(
                    "StatusFunction",
                    "status/list_payments.json",
                    tenant,
                    query={"payable_type": "booking", "payable_id": payable},
                ),
                200,
            )
            assert len(page["data"]) == 2

        yield Invocation(run)


def list_by_provider_reference(provider: str) -> Scenario:
    def scenario(world: World) -> Iterator[Invocation]:
        tenant = world.mpesa_tenant() if provider == "mpesa" else world.webhook_tenant()
        while True:
            if provider == "mpesa":
                pushed = world.push(tenant)
                reference, payment_id = pushed["checkout_request_id"], pushed["payment_id"]
            elif provider == "stripe":
                checkout = open_checkout(tenant, suffix=str(unique()))
                reference, payment_id = checkout.session_id, checkout.payment_id
            else:
                reference, payment_id = f"ws_CO_unknown{unique()}", None

            def run(reference: str = reference, payment_id: str | None = payment_id) -> None:
                page = expect(
                    world.api(
                        "StatusFunction",
                        "status/list_payments.json",
                        tenant,
                        query={"provider_reference": reference},
                    ),
                    200,
                )
                assert [p["payment_id"] for p in page["data"]] == (
                    [payment_id] if payment_id else []
                )

            yield Invocation(run)

    return scenario


def tenant_payments(**query: str) -> Scenario:
    """The tenant's list (a tenant created today: one day partition of the log index)."""

    def scenario(world: World) -> Iterator[Invocation]:
        tenant = new_tenant()
        made = [new_payment(tenant, payable_id=f"bk_{unique()}") for _ in range(2)]
        values = {
            name: made[0].payment_id if value == "<payment id>" else value
            for name, value in query.items()
        }
        while True:

            def run() -> None:
                page = expect(
                    world.api("StatusFunction", "status/list_payments.json", tenant, query=values),
                    200,
                )
                assert len(page["data"]) == (1 if "q" in values and "@" not in values["q"] else 2)

            yield Invocation(run)

    return scenario


def payments_exported(world: World) -> Iterator[Invocation]:
    tenant = new_tenant()
    for _ in range(2):
        new_payment(tenant, payable_id=f"bk_{unique()}")
    event = load_event("status/export_payments.json")
    event["queryStringParameters"] = event["multiValueQueryStringParameters"] = None
    event["requestContext"]["authorizer"]["tenant_id"] = tenant

    def run() -> None:
        response = world.functions.invoke("StatusFunction", event)
        assert response["statusCode"] == 200, response["body"]
        assert len(response["body"].splitlines()) == 3

    while True:
        yield Invocation(run)


def payment_activity(world: World) -> Iterator[Invocation]:
    """A Stripe payment paid by its webhook, its events fanned out to the tenant's endpoint."""
    tenant = world.webhook_tenant()
    world.register_endpoint(tenant, world.merchant())
    while True:
        checkout = open_checkout(tenant, suffix=str(unique()))
        stripe_delivery(world, tenant, session_completed(checkout), 200)
        queued_tasks()
        envelope = outbox_envelope(checkout.payment_id, "payment.succeeded")
        event = sqs_event(json.dumps(bus_event(envelope)))
        assert world.functions.invoke("CallbackFunction", event) == {"batchItemFailures": []}
        queued_tasks()

        def run(payment_id: str = checkout.payment_id) -> None:
            activity = expect(
                world.api(
                    "StatusFunction",
                    "status/payment_activity.json",
                    tenant,
                    path=f"/v1/payments/{payment_id}/activity",
                    path_parameters={"payment_id": payment_id},
                ),
                200,
            )
            assert len(activity["provider_events"]) == 1
            assert len(activity["events"]) == 3
            assert sum(len(e["deliveries"]) for e in activity["events"]) == 1

        yield Invocation(run)


def report_shown(world: World) -> Iterator[Invocation]:
    """The default report (30 days) of a tenant created today: one day partition read per day."""
    tenant = new_tenant()
    new_payment(tenant)

    def run() -> None:
        report = expect(world.api("StatusFunction", "status/reports.json", tenant, query={}), 200)
        assert report["totals"][0]["count"] == 1

    while True:
        yield Invocation(run)


def refund_created(world: World) -> Iterator[Invocation]:
    tenant, client = world.stripe_tenant()
    while True:
        payment_id = world.paid_stripe_payment(tenant, client)
        yield Invocation(
            lambda payment_id=payment_id: expect(
                world.refund(tenant, payment_id, f"rf-{unique()}", amount=1500),
                201,
                status="succeeded",
            )
        )


def refund_replay(world: World) -> Iterator[Invocation]:
    tenant, client = world.stripe_tenant()
    while True:
        payment_id = world.paid_stripe_payment(tenant, client)
        key = f"rf-{unique()}"
        first = expect(world.refund(tenant, payment_id, key, amount=1500), 201)
        yield Invocation(
            lambda payment_id=payment_id, key=key, first=first: expect(
                world.refund(tenant, payment_id, key, amount=1500),
                201,
                refund_id=first["refund_id"],
            )
        )


def endpoint_registered(world: World) -> Iterator[Invocation]:
    tenant = new_tenant()
    merchant = world.merchant()
    world.register_endpoint(tenant, merchant)  # the tenant's second one is measured
    while True:
        yield Invocation(
            lambda: expect(
                world.callbacks_api(
                    tenant, "POST", "/v1/callbacks/endpoints", {"url": merchant.url}
                ),
                201,
            )
        )


def endpoints_listed(world: World) -> Iterator[Invocation]:
    tenant = new_tenant()
    merchant = world.merchant()
    for _ in range(2):
        world.register_endpoint(tenant, merchant)

    def run() -> None:
        endpoints = expect(world.callbacks_api(tenant, "GET", "/v1/callbacks/endpoints"), 200)
        assert len(endpoints["data"]) == 2

    while True:
        yield Invocation(run)


def endpoint_deleted(world: World) -> Iterator[Invocation]:
    tenant = new_tenant()
    merchant = world.merchant()
    while True:
        endpoint = world.register_endpoint(tenant, merchant)
        path = f"/v1/callbacks/endpoints/{endpoint['endpoint_id']}"
        yield Invocation(lambda path=path: expect(world.callbacks_api(tenant, "DELETE", path), 204))


def endpoint_secret_rotated(world: World) -> Iterator[Invocation]:
    tenant = new_tenant()
    merchant = world.merchant()
    while True:
        endpoint = world.register_endpoint(tenant, merchant)
        path = f"/v1/callbacks/endpoints/{endpoint['endpoint_id']}/rotate-secret"

        def run(path: str = path, old: str = endpoint["secret"]) -> None:
            rotated = expect(world.callbacks_api(tenant, "POST", path), 200)
            assert rotated["secret"] != old

        yield Invocation(run)


def deliveries_listed(by_endpoint: bool) -> Scenario:
    def scenario(world: World) -> Iterator[Invocation]:
        tenant = new_tenant()
        merchant = world.merchant()
        endpoints = [world.register_endpoint(tenant, merchant) for _ in range(2)]
        while True:
            [task, _] = fan_out(world, tenant)
            delivery = stored_delivery(task["delivery_id"])
            query = {"event_id": delivery["event_id"]}
            if by_endpoint:
                query["endpoint_id"] = endpoints[0]["endpoint_id"]

            def run(query: dict[str, str] = query) -> None:
                listed = expect(
                    world.callbacks_api(tenant, "GET", "/v1/callbacks/deliveries", **query), 200
                )
                assert len(listed["data"]) == (1 if by_endpoint else 2)

            yield Invocation(run)

    return scenario


def tenant_deliveries(world: World) -> Iterator[Invocation]:
    tenant = new_tenant()
    merchant = world.merchant()
    for _ in range(2):
        world.register_endpoint(tenant, merchant)
    fan_out(world, tenant)

    def run() -> None:
        listed = expect(world.callbacks_api(tenant, "GET", "/v1/callbacks/deliveries"), 200)
        assert len(listed["data"]) == 2

    while True:
        yield Invocation(run)


def endpoint_switched(world: World) -> Iterator[Invocation]:
    tenant = new_tenant()
    endpoint = world.register_endpoint(tenant, world.merchant())
    path = f"/v1/callbacks/endpoints/{endpoint['endpoint_id']}"
    enabled = False
    while True:
        enabled = not enabled

        def run(enabled: bool = enabled) -> None:
            expect(
                world.callbacks_api(tenant, "PATCH", path, {"enabled": enabled}),
                200,
                enabled=enabled,
            )

        yield Invocation(run)


def endpoint_tested(world: World) -> Iterator[Invocation]:
    tenant = new_tenant()
    endpoint = world.register_endpoint(tenant, world.merchant())
    path = f"/v1/callbacks/endpoints/{endpoint['endpoint_id']}/test"
    while True:
        yield Invocation(
            lambda: expect(world.callbacks_api(tenant, "POST", path), 202, status="pending"),
            verify=lambda: _assert_queued(1),
        )


def stored_delivery(delivery_id: str) -> dict[str, Any]:
    [item] = [i for i in items_of_type("delivery") if i["delivery_id"] == delivery_id]
    return item


def delivery_retried(world: World) -> Iterator[Invocation]:
    tenant = new_tenant()
    world.register_endpoint(tenant, world.merchant())
    while True:
        [task] = fan_out(world, tenant)
        path = f"/v1/callbacks/deliveries/{task['delivery_id']}/retry"
        yield Invocation(
            lambda path=path: expect(world.callbacks_api(tenant, "POST", path), 202),
            verify=lambda: _assert_queued(1),
        )


def _assert_queued(count: int) -> None:
    assert len(queued_tasks()) == count


def credentials_put(first: bool) -> Scenario:
    def scenario(world: World) -> Iterator[Invocation]:
        values = {"secret_key": "sk_test_51Put000000000000", "webhook_secret": "whsec_Put0000"}
        tenant = new_tenant()
        if not first:
            set_provider_credentials(tenant, "stripe", values)  # each PUT replaces these
        while True:
            if first:
                tenant = new_tenant()
            yield Invocation(
                lambda tenant=tenant: expect(
                    world.credentials_api(tenant, "PUT", body={"values": values}),
                    200,
                    verified=False,
                )
            )

    return scenario


def credentials_get(world: World) -> Iterator[Invocation]:
    tenant, _ = world.stripe_tenant()
    while True:
        yield Invocation(lambda: expect(world.credentials_api(tenant, "GET"), 200, enabled=True))


def credentials_test(provider: str) -> Scenario:
    def scenario(world: World) -> Iterator[Invocation]:
        tenant = world.mpesa_tenant() if provider == "mpesa" else world.stripe_tenant()[0]
        # Tested once before (for M-PESA, its Daraja token is then fetched and shared).
        expect(world.credentials_api(tenant, "POST", provider=provider), 200, verified=True)
        while True:
            yield Invocation(
                lambda: expect(
                    world.credentials_api(tenant, "POST", provider=provider), 200, verified=True
                )
            )

    return scenario


# --- the provider registry and the webhook insights ---------------------------------------------


def _insights_tenant(world: World) -> str:
    """A tenant with Stripe and M-PESA set up and one accepted Stripe webhook."""
    tenant = world.webhook_tenant()
    set_provider_credentials(tenant, "mpesa", MPESA_INSIGHTS_VALUES)
    checkout = open_checkout(tenant, suffix=f"insights{unique()}")
    stripe_delivery(world, tenant, session_completed(checkout), 200, outcome="applied")
    return tenant


MPESA_INSIGHTS_VALUES = {
    "consumer_key": "ConsumerKey0001",
    "consumer_secret": "ConsumerSecret0001",
    "shortcode": "174379",
    "passkey": "PassKey-0001-abcdef",
    "transaction_type": "paybill",
    "party_b": "174379",
    "environment": "sandbox",
}


def providers_listed(world: World) -> Iterator[Invocation]:
    tenant = _insights_tenant(world)
    while True:
        yield Invocation(
            lambda: expect(
                world.api("ProvidersApiFunction", "providers_api/list_providers.json", tenant),
                200,
            )
        )


def provider_shown(world: World) -> Iterator[Invocation]:
    tenant = _insights_tenant(world)
    while True:
        yield Invocation(
            lambda: expect(
                world.api("ProvidersApiFunction", "providers_api/get_provider.json", tenant),
                200,
                configured=True,
            )
        )


def webhooks_api(sample: str, **query: str) -> Scenario:
    def scenario(world: World) -> Iterator[Invocation]:
        tenant = _insights_tenant(world)
        while True:
            yield Invocation(
                lambda: expect(
                    world.api("WebhooksApiFunction", f"webhooks_api/{sample}", tenant, query=query),
                    200,
                )
            )

    return scenario


def inbox_entry_shown(world: World) -> Iterator[Invocation]:
    tenant = _insights_tenant(world)
    listed = expect(
        world.api("WebhooksApiFunction", "webhooks_api/inbox.json", tenant, query={}), 200
    )
    entry_id = listed["data"][0]["id"]
    while True:
        yield Invocation(
            lambda: expect(
                world.api(
                    "WebhooksApiFunction",
                    "webhooks_api/inbox_entry.json",
                    tenant,
                    path=f"/v1/webhooks/inbox/{entry_id}",
                    path_parameters={"entry_id": entry_id},
                ),
                200,
                id=entry_id,
            )
        )


# --- Stripe webhooks ---------------------------------------------------------------------------


def stripe_webhook(
    make: Callable[[World, str, OpenCheckout], Any],
    *,
    outcome: str | None = "applied",
    status: int = 200,
    then: str | None = None,
) -> Scenario:
    """Each delivery is ``make(world, tenant, checkout)`` for a new open checkout (after the
    setup ``make`` itself does); ``then`` is the payment's status after it."""

    def scenario(world: World) -> Iterator[Invocation]:
        tenant = world.webhook_tenant()
        while True:
            checkout = open_checkout(tenant, suffix=str(unique()))
            event = make(world, tenant, checkout)
            answer = {"outcome": outcome} if outcome else {}

            def run(event: Any = event, answer: dict[str, str] = answer) -> None:
                stripe_delivery(world, tenant, event, status, **answer)

            def verify(checkout: OpenCheckout = checkout) -> None:
                if then is not None:
                    assert payment_status(tenant, checkout.payment_id) == then

            yield Invocation(run, verify)

    return scenario


def _completed(world: World, tenant: str, checkout: OpenCheckout) -> Any:
    return session_completed(checkout)


def _async_succeeded(world: World, tenant: str, checkout: OpenCheckout) -> Any:
    return stripe_event_of(checkout, "checkout.session.async_payment_succeeded")


def _async_failed(world: World, tenant: str, checkout: OpenCheckout) -> Any:
    return stripe_event_of(
        checkout, "checkout.session.async_payment_failed", payment_status="unpaid"
    )


def _expired(world: World, tenant: str, checkout: OpenCheckout) -> Any:
    return stripe_event_of(
        checkout, "checkout.session.expired", status="expired", payment_status="unpaid"
    )


def _intent_succeeded(world: World, tenant: str, checkout: OpenCheckout) -> Any:
    return intent_succeeded(checkout)


def _captured(world: World, tenant: str, checkout: OpenCheckout) -> None:
    stripe_delivery(world, tenant, session_completed(checkout), 200, outcome="applied")


def _charge_refunded(world: World, tenant: str, checkout: OpenCheckout) -> Any:
    _captured(world, tenant, checkout)
    dashboard = refund(checkout, f"re_{checkout.session_id}", 1500)
    return charge_refunded(checkout, f"evt_refund_{checkout.session_id}", [dashboard])


def _refund_updated(world: World, tenant: str, checkout: OpenCheckout) -> Any:
    _captured(world, tenant, checkout)
    return {
        **intent_succeeded(checkout),
        "id": f"evt_refund_updated_{checkout.session_id}",
        "type": "refund.updated",
        "data": {"object": refund(checkout, f"re_{checkout.session_id}", 800)},
    }


def _dispute(world: World, tenant: str, checkout: OpenCheckout) -> Any:
    _captured(world, tenant, checkout)
    return dispute_created(checkout)


def _unknown_type(world: World, tenant: str, checkout: OpenCheckout) -> Any:
    return {**intent_succeeded(checkout), "id": f"evt_x_{checkout.session_id}", "type": "x.y"}


def _duplicate(world: World, tenant: str, checkout: OpenCheckout) -> Any:
    completed = session_completed(checkout)
    stripe_delivery(world, tenant, completed, 200, outcome="applied")
    return completed


def _unknown_payment(world: World, tenant: str, checkout: OpenCheckout) -> Any:
    stranger = open_checkout(new_tenant("elsewhere"), suffix=f"x{unique()}")
    return {**session_completed(stranger), "id": f"evt_foreign_{stranger.session_id}"}


def stripe_bad_signature(world: World) -> Iterator[Invocation]:
    tenant = world.webhook_tenant()
    while True:
        checkout = open_checkout(tenant, suffix=str(unique()))
        delivery = signed_delivery(tenant, session_completed(checkout), secret="whsec_forged")

        def run(delivery: dict[str, Any] = delivery) -> None:
            response = world.functions.invoke("WebhookStripeFunction", delivery)
            assert response["statusCode"] == 400

        yield Invocation(run, lambda: _assert_rejected(tenant, "No signatures found"))


def stripe_unknown_tenant(world: World) -> Iterator[Invocation]:
    while True:
        delivery = signed_delivery(f"ten_madeup{unique()}", {"id": "evt_1", "type": "x"})

        def run(delivery: dict[str, Any] = delivery) -> None:
            response = world.functions.invoke("WebhookStripeFunction", delivery)
            assert response["statusCode"] == 400

        yield Invocation(run)


# --- M-PESA callbacks --------------------------------------------------------------------------


def mpesa_callback(action: str | None, *, then: str, reason: str | None = None) -> Scenario:
    """A push answered on the phone with ``action`` (None: not answered), then the callback
    Daraja sent for it (or, unanswered, a forged success), delivered to its CallBackURL."""

    def scenario(world: World) -> Iterator[Invocation]:
        tenant = world.mpesa_tenant()
        while True:
            pushed = world.push(tenant)
            checkout_request_id = pushed["checkout_request_id"]
            if action is None:
                url = world.daraja.push(checkout_request_id)["CallBackURL"]
                body = json.loads(load_event("webhook_mpesa/callback_success.json")["body"])
                callback = body["Body"]["stkCallback"]
                callback["CheckoutRequestID"] = checkout_request_id
                for item in callback["CallbackMetadata"]["Item"]:
                    if item["Name"] == "PhoneNumber":
                        item["Value"] = pushed["msisdn"]  # the pushed phone: only Daraja can tell
            else:
                world.daraja.press(checkout_request_id, action)
                url, body = sent_callback(world.daraja, checkout_request_id)

            def verify(payment_id: str = pushed["payment_id"]) -> None:
                assert payment_status(tenant, payment_id) == then
                if reason is not None:
                    _assert_rejected(tenant, reason)

            yield Invocation(lambda url=url, body=body: _deliver(world, url, body), verify)

    return scenario


def _deliver(world: World, url: str, body: dict[str, Any]) -> None:
    deliver(world.functions, url, body)


def mpesa_duplicate(world: World) -> Iterator[Invocation]:
    tenant = world.mpesa_tenant()
    while True:
        pushed = world.push(tenant)
        world.daraja.press(pushed["checkout_request_id"], "pay")
        url, body = sent_callback(world.daraja, pushed["checkout_request_id"])
        deliver(world.functions, url, body)

        def verify(payment_id: str = pushed["payment_id"]) -> None:
            assert payment_status(tenant, payment_id) == "succeeded"
            journal = [e for e in items_of_type("journal_entry") if e["payment_id"] == payment_id]
            assert len(journal) == 1

        yield Invocation(lambda url=url, body=body: _deliver(world, url, body), verify)


def mpesa_unknown_checkout_request(world: World) -> Iterator[Invocation]:
    tenant = world.mpesa_tenant()
    url = world.daraja.push(world.push(tenant)["checkout_request_id"])["CallBackURL"]
    while True:
        body = json.loads(load_event("webhook_mpesa/callback_success.json")["body"])
        body["Body"]["stkCallback"]["CheckoutRequestID"] = f"ws_CO_unknown{unique()}"
        yield Invocation(
            lambda body=body: _deliver(world, url, body),
            lambda: _assert_rejected(tenant, "unknown_payment"),
        )


def _assert_rejected(tenant: str, reason: str) -> None:
    assert any(reason in recorded for recorded in rejected_reasons(tenant)), reason


def mpesa_bad_token(world: World) -> Iterator[Invocation]:
    tenant = world.mpesa_tenant()
    while True:
        pushed = world.push(tenant)
        world.daraja.press(pushed["checkout_request_id"], "pay")
        url, body = sent_callback(world.daraja, pushed["checkout_request_id"])
        forged_url = url.rsplit("/", 1)[0] + "/" + "x" * 43

        def verify(payment_id: str = pushed["payment_id"]) -> None:
            assert payment_status(tenant, payment_id) == "pending"
            _assert_rejected(tenant, "token_mismatch")

        yield Invocation(lambda url=forged_url, body=body: _deliver(world, url, body), verify)


# --- background functions ----------------------------------------------------------------------


def notify(with_key: bool, event_type: str = "payment.succeeded") -> Scenario:
    def scenario(world: World) -> Iterator[Invocation]:
        tenant = new_tenant()
        key = world.omnisend.register_brand()
        if with_key:
            write_provider_secret(tenant, "omnisend", {"api_key": key, "enabled": True})
        while True:
            if event_type == "payment.succeeded":
                envelope = world.succeeded_payment_envelope(tenant, "ann@example.com")
            elif event_type == "trade.succeeded":
                envelope = world.cleared_trade_envelope(tenant)
            else:
                envelope = envelope_for(tenant, event_type)
            sent = len(world.omnisend.events(key))

            def run(envelope: str = envelope) -> None:
                result = world.functions.invoke(
                    "NotifyFunction", sqs_event(json.dumps(bus_event(envelope)))
                )
                assert result == {"batchItemFailures": []}

            def verify(sent: int = sent) -> None:
                emails = {"payment.succeeded", "trade.succeeded"}
                expected = sent + 1 if with_key and event_type in emails else sent
                assert len(world.omnisend.events(key)) == expected

            yield Invocation(run, verify)

    return scenario


def callback_fan_out(endpoints: int) -> Scenario:
    def scenario(world: World) -> Iterator[Invocation]:
        tenant = new_tenant()
        merchant = world.merchant()
        for _ in range(endpoints):
            world.register_endpoint(tenant, merchant)
        while True:
            queued_tasks()
            event = sqs_event(json.dumps(bus_event(envelope_for(tenant))))

            def run(event: dict[str, Any] = event) -> None:
                result = world.functions.invoke("CallbackFunction", event)
                assert result == {"batchItemFailures": []}

            def verify() -> None:
                assert len(queued_tasks()) == endpoints

            yield Invocation(run, verify)

    return scenario


def callback_delivery(answer: int) -> Scenario:
    def scenario(world: World) -> Iterator[Invocation]:
        tenant = new_tenant()
        merchant = world.merchant()
        world.register_endpoint(tenant, merchant)
        while True:
            [task] = fan_out(world, tenant)
            merchant.statuses = [answer]
            received = len(merchant.received)

            def run(task: dict[str, Any] = task) -> None:
                result = world.functions.invoke("CallbackFunction", sqs_event(json.dumps(task)))
                assert result == {"batchItemFailures": []}

            def verify(received: int = received, delivery_id: str = task["delivery_id"]) -> None:
                assert len(merchant.received) == received + 1
                status = stored_delivery(delivery_id)["status"]
                assert status == ("delivered" if answer < 300 else "pending")
                assert len(queued_tasks()) == (0 if answer < 300 else 1)  # the retry's task

            yield Invocation(run, verify)

    return scenario


def sweeper_nothing_open(world: World) -> Iterator[Invocation]:
    def run() -> None:
        report = world.functions.invoke("SweeperFunction", {"detail-type": "Scheduled Event"})
        assert report["examined"] == 0

    while True:
        yield Invocation(run)


def sweeper_one_per_provider(paid: bool) -> Scenario:
    """One open Stripe checkout and one open M-PESA push, each paid at the provider with no
    notification sent (``paid``), or still waiting for the customer."""

    def scenario(world: World) -> Iterator[Invocation]:
        world.daraja.chaos.drop_callbacks = True
        tenant = world.mpesa_tenant()
        account = world.stripe.create_account()
        set_provider_credentials(
            tenant, "stripe", {"secret_key": account.secret_key, "webhook_secret": "whsec_x"}
        )
        while True:
            checkout = world.open_stripe_checkout(tenant)
            pushed = world.push(tenant)
            if paid:
                url = f"{checkout['checkout_url']}/pay"
                assert requests.post(url, allow_redirects=False, timeout=10).status_code == 303
                world.daraja.press(pushed["checkout_request_id"], "pay")
            # Whatever the sweeps before this one left open is settled now (the still-open
            # case sweeps only the new pair).
            for payment in repositories.open_payments_older_than(datetime.now(UTC)):
                if payment.payment_id not in (checkout["payment_id"], pushed["payment_id"]):
                    apply_transition(
                        tenant_id=tenant,
                        payment_id=payment.payment_id,
                        requested=PaymentStatus.CANCELED,
                        source="api",
                    )

            def run() -> None:
                report = world.functions.invoke(
                    "SweeperFunction", {"detail-type": "Scheduled Event"}
                )
                settled = {"succeeded": 2} if paid else {}
                assert (report["examined"], report["settled"]) == (2, settled), report
                assert report["still_open"] == (0 if paid else 2), report

            yield Invocation(run)

    return scenario


# --- NEO Bank -----------------------------------------------------------------------------------


def _registered(world: World, tenant: str) -> str:
    body = {**json.loads(load_event("profiles/create_profile.json")["body"])}
    body["external_customer_id"] = f"user_{unique()}"
    status, profile = world.api(
        "ProfilesFunction",
        "profiles/create_profile.json",
        tenant,
        body=body,
        idempotency_key=f"register-{unique()}",
    )
    assert status == 201, profile
    return str(profile["profile_id"])


def profile_registered(world: World) -> Iterator[Invocation]:
    tenant = world.neobank_tenant()
    while True:
        body = {**json.loads(load_event("profiles/create_profile.json")["body"])}
        body["external_customer_id"] = f"user_{unique()}"

        def run(body: dict[str, Any] = body) -> None:
            expect(
                world.api(
                    "ProfilesFunction",
                    "profiles/create_profile.json",
                    tenant,
                    body=body,
                    idempotency_key=f"register-{unique()}",
                ),
                201,
                status="verified",
            )

        yield Invocation(run)


def trade_created(world: World) -> Iterator[Invocation]:
    tenant = world.neobank_tenant()
    while True:
        profile_id = _registered(world, tenant)
        body = {
            **json.loads(load_event("trades/create_trade.json")["body"]),
            "profile_id": profile_id,
        }

        def run(body: dict[str, Any] = body) -> None:
            expect(
                world.api(
                    "TradesFunction",
                    "trades/create_trade.json",
                    tenant,
                    body=body,
                    idempotency_key=f"trade-{unique()}",
                ),
                201,
                status="pending",
            )

        yield Invocation(run)


def profile_balance(world: World) -> Iterator[Invocation]:
    tenant = world.neobank_tenant()
    profile_id = _registered(world, tenant)

    def run() -> None:
        status, body = world.api(
            "ProfilesFunction",
            "profiles/get_balance.json",
            tenant,
            path=f"/v1/profiles/{profile_id}/balance",
            path_parameters={"profile_id": profile_id},
        )
        assert (status, body["balances"]) == (200, []), body

    while True:
        yield Invocation(run)


def neobank_cleared(world: World) -> Iterator[Invocation]:
    """A signed SUCCESS for a pending trade (the test signs as the bank)."""
    import base64
    import time

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    bank_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bank_pem = (
        bank_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    tenant = world.neobank_tenant(bank_public_key_pem=bank_pem)
    from tests.integration.test_webhook_neobank import Marketplace

    market = Marketplace(tenant, bank_key, world.functions)
    buyer = market.profile()
    while True:
        pending = market.trade(buyer)
        raw = market.body(pending, "SUCCESS")
        stamp = str(int(time.time()))
        signature = bank_key.sign(
            stamp.encode() + b"." + raw.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        event = {
            "version": "2.0",
            "rawPath": f"/{tenant}",
            "headers": {
                "content-type": "application/json",
                "x-neo-timestamp": stamp,
                "x-neo-signature": base64.b64encode(signature).decode(),
            },
            "requestContext": {"http": {"method": "POST", "sourceIp": "127.0.0.1"}},
            "body": raw,
            "isBase64Encoded": False,
        }

        def run(event: dict[str, Any] = event) -> None:
            response = world.functions.invoke("WebhookNeobankFunction", event)
            assert response["statusCode"] == 200, response["body"]
            assert json.loads(response["body"])["outcome"] == "applied"

        def verify(payment_id: str = pending.payment_id) -> None:
            assert payment_status(tenant, payment_id) == "succeeded"

        yield Invocation(run, verify)


OPERATIONS = [
    # REST API
    Operation("authorizer: a valid API key", "AuthorizerFunction", authorizer_valid_key),
    Operation("authorizer: an unknown API key (401)", "AuthorizerFunction", authorizer_unknown_key),
    Operation("GET /v1/health", "HealthFunction", health),
    Operation("GET /v1/openapi.json", "DocsFunction", docs("/v1/openapi.json")),
    Operation("GET /v1/docs", "DocsFunction", docs("/v1/docs")),
    Operation(
        "GET /v1/docs/{asset}",
        "DocsFunction",
        docs("/v1/docs/swagger-ui.css", asset="swagger-ui.css"),
    ),
    Operation("GET /dashboard", "DashboardFunction", dashboard("/dashboard")),
    Operation(
        "GET /dashboard/assets/{asset}",
        "DashboardFunction",
        dashboard("/dashboard/assets/app.js", asset="app.js"),
    ),
    Operation(
        "POST /v1/checkout (returning customer e-mail)",
        "CheckoutFunction",
        checkout_returning_customer,
    ),
    Operation("POST /v1/checkout (new customer e-mail)", "CheckoutFunction", checkout_new_customer),
    Operation("POST /v1/checkout (Idempotency-Key replay)", "CheckoutFunction", checkout_replay),
    Operation("POST /v1/mpesa/stk-push", "StkPushFunction", stk_push_created),
    Operation(
        "POST /v1/mpesa/stk-push (first push with newly stored credentials)",
        "StkPushFunction",
        stk_push_new_credentials,
    ),
    Operation(
        "POST /v1/mpesa/stk-push (Idempotency-Key replay)", "StkPushFunction", stk_push_replay
    ),
    Operation("GET /v1/payments/{payment_id}", "StatusFunction", payment_get),
    Operation(
        "GET /v1/payments/{payment_id} (with a refund: refunds get/list)",
        "StatusFunction",
        payment_get_with_refund,
    ),
    Operation(
        "GET /v1/payments/{payment_id}?refresh=true (M-PESA, still open)",
        "StatusFunction",
        refresh_mpesa_still_open,
    ),
    Operation(
        "GET /v1/payments/{payment_id}?refresh=true (M-PESA, paid: settles)",
        "StatusFunction",
        refresh_mpesa_settles,
    ),
    Operation(
        "GET /v1/payments/{payment_id}?refresh=true (final payment)",
        "StatusFunction",
        refresh_final_payment,
    ),
    Operation("GET /v1/payments?payable_type=&payable_id=", "StatusFunction", list_by_payable),
    Operation(
        "GET /v1/payments?provider_reference= (M-PESA CheckoutRequestID)",
        "StatusFunction",
        list_by_provider_reference("mpesa"),
    ),
    Operation(
        "GET /v1/payments?provider_reference= (Stripe session id)",
        "StatusFunction",
        list_by_provider_reference("stripe"),
    ),
    Operation(
        "GET /v1/payments?provider_reference= (unknown)",
        "StatusFunction",
        list_by_provider_reference("none"),
    ),
    Operation(
        "GET /v1/payments (the tenant's, newest first)",
        "StatusFunction",
        tenant_payments(),
    ),
    Operation(
        "GET /v1/payments?status=&provider=&currency=",
        "StatusFunction",
        tenant_payments(status="created", provider="stripe", currency="KES"),
    ),
    Operation(
        "GET /v1/payments?q= (customer e-mail)",
        "StatusFunction",
        tenant_payments(q="C@Example.com"),
    ),
    Operation(
        "GET /v1/payments?q= (payment id)",
        "StatusFunction",
        tenant_payments(q="<payment id>"),
    ),
    Operation("GET /v1/payments/export", "StatusFunction", payments_exported),
    Operation(
        "GET /v1/payments/{payment_id}/activity (paid by webhook, 1 delivery)",
        "StatusFunction",
        payment_activity,
    ),
    Operation("GET /v1/reports (last 30 days)", "StatusFunction", report_shown),
    Operation(
        "POST /v1/payments/{payment_id}/refunds (Stripe, partial)",
        "RefundsFunction",
        refund_created,
    ),
    Operation(
        "POST /v1/payments/{payment_id}/refunds (Idempotency-Key replay)",
        "RefundsFunction",
        refund_replay,
    ),
    Operation("POST /v1/callbacks/endpoints", "CallbacksApiFunction", endpoint_registered),
    Operation(
        "GET /v1/callbacks/endpoints (2 endpoints)", "CallbacksApiFunction", endpoints_listed
    ),
    Operation(
        "DELETE /v1/callbacks/endpoints/{endpoint_id}", "CallbacksApiFunction", endpoint_deleted
    ),
    Operation(
        "POST /v1/callbacks/endpoints/{endpoint_id}/rotate-secret",
        "CallbacksApiFunction",
        endpoint_secret_rotated,
    ),
    Operation(
        "GET /v1/callbacks/deliveries?event_id= (2 endpoints)",
        "CallbacksApiFunction",
        deliveries_listed(by_endpoint=False),
    ),
    Operation(
        "GET /v1/callbacks/deliveries?event_id=&endpoint_id=",
        "CallbacksApiFunction",
        deliveries_listed(by_endpoint=True),
    ),
    Operation(
        "GET /v1/callbacks/deliveries (the tenant's, 2 deliveries)",
        "CallbacksApiFunction",
        tenant_deliveries,
    ),
    Operation(
        "PATCH /v1/callbacks/endpoints/{endpoint_id}",
        "CallbacksApiFunction",
        endpoint_switched,
    ),
    Operation(
        "POST /v1/callbacks/endpoints/{endpoint_id}/test",
        "CallbacksApiFunction",
        endpoint_tested,
    ),
    Operation(
        "POST /v1/callbacks/deliveries/{delivery_id}/retry",
        "CallbacksApiFunction",
        delivery_retried,
    ),
    Operation(
        "PUT /v1/providers/{provider}/credentials (first time)",
        "ProvidersApiFunction",
        credentials_put(first=True),
    ),
    Operation(
        "PUT /v1/providers/{provider}/credentials (replacing)",
        "ProvidersApiFunction",
        credentials_put(first=False),
    ),
    Operation("GET /v1/providers/{provider}/credentials", "ProvidersApiFunction", credentials_get),
    Operation(
        "POST /v1/providers/stripe/credentials/test",
        "ProvidersApiFunction",
        credentials_test("stripe"),
    ),
    Operation(
        "POST /v1/providers/mpesa/credentials/test",
        "ProvidersApiFunction",
        credentials_test("mpesa"),
    ),
    Operation(
        "GET /v1/providers (stripe and mpesa set up)", "ProvidersApiFunction", providers_listed
    ),
    Operation("GET /v1/providers/{provider}", "ProvidersApiFunction", provider_shown),
    Operation("GET /v1/webhooks/health", "WebhooksApiFunction", webhooks_api("health.json")),
    Operation(
        "GET /v1/webhooks/stats?days=7",
        "WebhooksApiFunction",
        webhooks_api("stats.json", days="7"),
    ),
    Operation(
        "GET /v1/webhooks/inbox (every provider)",
        "WebhooksApiFunction",
        webhooks_api("inbox.json"),
    ),
    Operation(
        "GET /v1/webhooks/inbox?provider=stripe&status=rejected",
        "WebhooksApiFunction",
        webhooks_api("inbox.json", provider="stripe", status="rejected", limit="10"),
    ),
    Operation(
        "GET /v1/webhooks/inbox?reason=&until=",
        "WebhooksApiFunction",
        webhooks_api(
            "inbox.json",
            status="rejected",
            reason="invalid_signature",
            until="2999-01-01T00:00:00Z",
        ),
    ),
    Operation("GET /v1/webhooks/inbox/{entry_id}", "WebhooksApiFunction", inbox_entry_shown),
    # Stripe webhooks
    Operation(
        "Stripe: checkout.session.completed (paid)",
        "WebhookStripeFunction",
        stripe_webhook(_completed, then="succeeded"),
    ),
    Operation(
        "Stripe: checkout.session.async_payment_succeeded",
        "WebhookStripeFunction",
        stripe_webhook(_async_succeeded, then="succeeded"),
    ),
    Operation(
        "Stripe: checkout.session.async_payment_failed",
        "WebhookStripeFunction",
        stripe_webhook(_async_failed, then="failed"),
    ),
    Operation(
        "Stripe: checkout.session.expired",
        "WebhookStripeFunction",
        stripe_webhook(_expired, then="expired"),
    ),
    Operation(
        "Stripe: payment_intent.succeeded (before the session event)",
        "WebhookStripeFunction",
        stripe_webhook(_intent_succeeded, then="succeeded"),
    ),
    Operation(
        "Stripe: charge.refunded (dashboard refund)",
        "WebhookStripeFunction",
        stripe_webhook(_charge_refunded, then="partially_refunded"),
    ),
    Operation(
        "Stripe: refund.updated (dashboard refund)",
        "WebhookStripeFunction",
        stripe_webhook(_refund_updated, then="partially_refunded"),
    ),
    Operation(
        "Stripe: charge.dispute.created",
        "WebhookStripeFunction",
        stripe_webhook(_dispute, then="disputed"),
    ),
    Operation(
        "Stripe: an unhandled event type",
        "WebhookStripeFunction",
        stripe_webhook(_unknown_type, outcome="ignored", then="pending"),
    ),
    Operation(
        "Stripe: a duplicate delivery",
        "WebhookStripeFunction",
        stripe_webhook(_duplicate, outcome="duplicate", then="succeeded"),
    ),
    Operation(
        "Stripe: another tenant's payment (unknown payment)",
        "WebhookStripeFunction",
        stripe_webhook(_unknown_payment, outcome="ignored", then="pending"),
    ),
    Operation("Stripe: a bad signature (400)", "WebhookStripeFunction", stripe_bad_signature),
    Operation(
        "Stripe: a tenant without Stripe credentials (400)",
        "WebhookStripeFunction",
        stripe_unknown_tenant,
    ),
    # M-PESA callbacks
    Operation(
        "M-PESA: STK callback, paid",
        "WebhookMpesaFunction",
        mpesa_callback("pay", then="succeeded"),
    ),
    Operation(
        "M-PESA: STK callback, cancelled",
        "WebhookMpesaFunction",
        mpesa_callback("cancel", then="canceled"),
    ),
    Operation(
        "M-PESA: STK callback, wrong PIN (failed)",
        "WebhookMpesaFunction",
        mpesa_callback("wrong_pin", then="failed"),
    ),
    Operation("M-PESA: a duplicate STK callback", "WebhookMpesaFunction", mpesa_duplicate),
    Operation(
        "M-PESA: a forged success Daraja does not confirm",
        "WebhookMpesaFunction",
        mpesa_callback(None, then="pending", reason="not_confirmed"),
    ),
    Operation(
        "M-PESA: an unknown CheckoutRequestID",
        "WebhookMpesaFunction",
        mpesa_unknown_checkout_request,
    ),
    Operation("M-PESA: a wrong path token", "WebhookMpesaFunction", mpesa_bad_token),
    # Background functions
    Operation("notify: payment.succeeded (tenant with Omnisend)", "NotifyFunction", notify(True)),
    Operation(
        "notify: payment.succeeded (tenant without Omnisend)", "NotifyFunction", notify(False)
    ),
    Operation(
        "notify: an event that sends no e-mail", "NotifyFunction", notify(True, "payment.created")
    ),
    Operation(
        "notify: trade.succeeded (the buyer's profile read for the e-mail)",
        "NotifyFunction",
        notify(True, "trade.succeeded"),
    ),
    Operation(
        "callback: fan-out of one event to 2 endpoints", "CallbackFunction", callback_fan_out(2)
    ),
    Operation(
        "callback: fan-out of one event, no endpoints", "CallbackFunction", callback_fan_out(0)
    ),
    Operation("callback: delivery answered 204", "CallbackFunction", callback_delivery(204)),
    Operation(
        "callback: delivery answered 500 (retry scheduled)",
        "CallbackFunction",
        callback_delivery(500),
    ),
    Operation("sweeper: nothing open", "SweeperFunction", sweeper_nothing_open),
    Operation(
        "sweeper: one open payment per provider, paid, no notification came",
        "SweeperFunction",
        sweeper_one_per_provider(paid=True),
    ),
    Operation(
        "sweeper: one open payment per provider, still waiting for the customer",
        "SweeperFunction",
        sweeper_one_per_provider(paid=False),
    ),
    # NEO Bank
    Operation("POST /v1/profiles (verified at once)", "ProfilesFunction", profile_registered),
    Operation("POST /v1/trades", "TradesFunction", trade_created),
    Operation("GET /v1/profiles/{profile_id}/balance", "ProfilesFunction", profile_balance),
    Operation("webhook_neobank: SUCCESS (cleared)", "WebhookNeobankFunction", neobank_cleared),
]


# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    function: str
    calls: Counter[str]  # a warm container's
    reads: int
    writes: int
    first_extra: Counter[str]  # what the scenario's first invocation made on top


FIRST_EXTRA = "cold start: extra calls"
_EXTRA_ITEM = re.compile(r"\+(\d+) ([a-z0-9]+:[A-Za-z]+)")


def format_extra(extra: Counter[str]) -> str:
    return ", ".join(f"+{extra[action]} {action}" for action in sorted(extra, key=action_order))


def parse_extra(cell: str) -> Counter[str]:
    extra: Counter[str] = Counter()
    for item in filter(None, (part.strip() for part in cell.split(","))):
        match = _EXTRA_ITEM.fullmatch(item)
        assert match, f"not '+N service:Operation': {item!r}"
        extra[match.group(2)] += int(match.group(1))
    return extra


def action_order(action: str) -> tuple[int, str]:
    service = action.partition(":")[0]
    rank = SERVICE_ORDER.index(service) if service in SERVICE_ORDER else len(SERVICE_ORDER)
    return rank, action


def classified(calls: Counter[str]) -> tuple[int, int]:
    unknown = sorted(set(calls) - READS - WRITES)
    assert not unknown, f"classify {unknown} as a read or a write (READS/WRITES above)"
    return (
        sum(n for action, n in calls.items() if action in READS),
        sum(n for action, n in calls.items() if action in WRITES),
    )


def read_table(path: Path = TABLE) -> tuple[list[str], dict[str, Row]]:
    """The table's API columns and its rows by operation (empty cells are 0)."""
    text = path.read_text(encoding="utf-8")
    lines = text.split(BEGIN, 1)[1].split(END, 1)[0].strip().splitlines()
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    header, rows = cells[0], cells[2:]
    assert header[:2] == ["operation", "function"], header
    assert header[-3:] == ["reads", "writes", FIRST_EXTRA], header
    columns = header[2:-3]
    for column in columns:
        assert re.fullmatch(r"[a-z0-9]+:[A-Za-z]+", column), column
    table: dict[str, Row] = {}
    for row in rows:
        assert len(row) == len(header), row
        name = row[0]
        assert name not in table, f"two rows for {name}"
        counts = Counter({c: int(v) for c, v in zip(columns, row[2:-3], strict=True) if v})
        table[name] = Row(
            row[1].strip("`"), counts, int(row[-3]), int(row[-2]), parse_extra(row[-1])
        )
    return columns, table


def render_table(rows: dict[str, Row]) -> str:
    actions = {action for row in rows.values() for action in row.calls}
    columns = sorted(actions, key=action_order)
    header = ["operation", "function", *columns, "reads", "writes", FIRST_EXTRA]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for name, row in rows.items():
        counts = [str(row.calls[c]) if row.calls[c] else "" for c in columns]
        lines.append(
            "| "
            + " | ".join(
                [
                    name,
                    f"`{row.function}`",
                    *counts,
                    str(row.reads),
                    str(row.writes),
                    format_extra(row.first_extra),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def write_table(rows: dict[str, Row], path: Path = TABLE) -> None:
    text = path.read_text(encoding="utf-8")
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    path.write_text(f"{before}{BEGIN}\n{render_table(rows)}\n{END}{after}", encoding="utf-8")


_measured: dict[str, Row] = {}


@pytest.fixture(scope="module", autouse=True)
def rewrite_table_when_asked() -> Iterator[None]:
    yield
    if UPDATE and _measured:
        _, existing = read_table()
        order = [op.name for op in OPERATIONS]
        merged = {**existing, **_measured}
        write_table({name: merged[name] for name in order if name in merged})


def new_container() -> None:
    """Forget what only a warm container holds: the secrets Powertools Parameters cached and
    the provider adapters (with the M-PESA adapter's own copy of its Daraja tokens; the copy
    shared through the table stays, as it does for a new Lambda container)."""
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    mpesa_spec._adapter.cache_clear()
    stripe_spec._adapter.cache_clear()


def measure(
    operation: Operation, world: World, counter: AwsCallCounter
) -> tuple[Counter[str], Counter[str]]:
    """The calls of the operation's second invocation (the first warmed the container), and
    what the first, in a new container, made on top of those."""
    invocations = operation.scenario(world)
    first = next(invocations)
    new_container()
    counter.reset()
    first.run()
    cold = counter.by_action()
    if first.verify is not None:
        first.verify()
    second = next(invocations)
    counter.reset()
    second.run()
    warm = counter.by_action()
    if second.verify is not None:
        second.verify()
    assert not warm - cold, f"the first invocation made fewer calls: {dict(warm - cold)}"
    return warm, cold - warm


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_the_operation_makes_the_calls_the_table_lists(
    operation: Operation, world: World, aws_calls: AwsCallCounter
) -> None:
    calls, first_extra = measure(operation, world, aws_calls)
    reads, writes = classified(calls)
    if UPDATE:
        _measured[operation.name] = Row(operation.function, calls, reads, writes, first_extra)
        return
    _, table = read_table()
    assert operation.name in table, (
        f"bench/aws-calls.md has no row for {operation.name!r}; "
        "run UPDATE_AWS_CALLS=1 pytest tests/integration/test_aws_calls_per_operation.py"
    )
    row = table[operation.name]
    assert row.function == operation.function
    added, removed = calls - row.calls, row.calls - calls
    assert not added, (
        f"{operation.name}: calls added {dict(added)}. An added call needs a reason; if it is "
        "right, update bench/aws-calls.md (UPDATE_AWS_CALLS=1)."
    )
    assert not removed, (
        f"{operation.name}: calls removed {dict(removed)}: update bench/aws-calls.md "
        "(UPDATE_AWS_CALLS=1)."
    )
    assert first_extra == row.first_extra, (
        f"{operation.name}: the first invocation's extra calls are {dict(first_extra)}, the "
        f"table says {dict(row.first_extra)}"
    )


def test_the_table_has_a_row_per_operation_and_its_totals_add_up() -> None:
    columns, table = read_table()
    assert list(table) == [op.name for op in OPERATIONS]
    assert {op.name: op.function for op in OPERATIONS} == {n: r.function for n, r in table.items()}
    for name, row in table.items():
        assert classified(row.calls) == (row.reads, row.writes), name
    used = {action for row in table.values() for action in row.calls}
    assert used == set(columns), "every column is used by some row"


def test_a_changed_count_is_caught(tmp_path: Path) -> None:
    """The comparison reads what the file says: a table edited by one call no longer matches."""
    _, table = read_table()
    name = "GET /v1/payments/{payment_id}"
    copy = tmp_path / "aws-calls.md"
    copy.write_text(TABLE.read_text(encoding="utf-8"), encoding="utf-8")
    row = table[name]
    changed = dict(table)
    changed[name] = Row(
        row.function,
        row.calls + Counter({"dynamodb:GetItem": 1}),
        row.reads + 1,
        row.writes,
        row.first_extra + Counter({"kms:Decrypt": 2}),
    )
    write_table(changed, copy)
    assert read_table(copy)[1][name].calls != row.calls
    assert read_table(copy)[1] == changed
    # The prose around the table survives a rewrite untouched.
    assert (
        copy.read_text(encoding="utf-8").split(BEGIN)[0]
        == (TABLE.read_text(encoding="utf-8").split(BEGIN)[0])
    )
