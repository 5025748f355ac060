"""The M-PESA adapter against the Daraja sandbox over real HTTP, with its shared token cache in
the payments table under moto (the KMS key and table from template.yaml)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from devstack.lambdas import FunctionRegistry
from devstack.sandboxes.daraja import App, DarajaSandbox
from devstack.stack import mpesa_credential_values
from devstack.template import LocalStack
from payments.aws import kms
from payments.config import reset_settings
from payments.providers import tokens
from payments.providers.base import (
    Credentials,
    ProviderRejectedError,
    ProviderUnavailableError,
    ProviderUnreachableError,
)
from payments.providers.mpesa import MpesaProvider
from payments.providers.mpesa_spec import InvalidPhoneNumberError
from payments.providers.spec import AmountNotSupportedError
from payments.providers.tokens import SharedTokenStore
from payments.store.provider_tokens import DynamoTokenStore
from tests.conftest import load_event
from tests.integration.helpers import items_of_type, new_tenant

CALLBACK = "http://127.0.0.1:9/mpesa/tenant-1/token-1"


def shared_store() -> SharedTokenStore:
    return DynamoTokenStore(kms.encrypt, kms.decrypt)


def credentials_of(app: App, **overrides: str) -> Credentials:
    return Credentials(mpesa_credential_values(app, **overrides))


def push(provider: MpesaProvider, credentials: Credentials, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "amount": 10_000,
        "phone_number": "0708 374 149",
        "account_reference": "HOTSPOT-1H",
        "transaction_desc": "Wi-Fi 1 hour",
        "callback_url": CALLBACK,
    }
    arguments.update(overrides)
    return provider.stk_push(credentials, **arguments).checkout_request_id


def test_a_push_reaches_daraja_as_it_wants_it_and_query_follows_it(
    daraja: DarajaSandbox,
) -> None:
    app = daraja.create_app(shortcode="174379")
    provider = MpesaProvider(shared_tokens=shared_store())
    credentials = credentials_of(app)
    accepted = provider.stk_push(
        credentials,
        amount=25_000,
        phone_number="+254 712 345 678",
        account_reference="HOTSPOT-1H",
        transaction_desc="Wi-Fi 1 hour",
        callback_url=CALLBACK,
    )
    assert accepted.checkout_request_id.startswith("ws_CO_")
    assert accepted.customer_message == "Success. Request accepted for processing"
    pushed = daraja.push(accepted.checkout_request_id)
    assert (pushed["Amount"], pushed["PhoneNumber"], pushed["PartyA"]) == (
        250,
        "254712345678",
        "254712345678",
    )
    assert (pushed["TransactionType"], pushed["PartyB"]) == ("CustomerPayBillOnline", "174379")
    assert pushed["MerchantRequestID"] == accepted.merchant_request_id

    pending = provider.stk_query(credentials, accepted.checkout_request_id)
    assert (pending.pending, pending.result_code) == (True, None)
    daraja.press(accepted.checkout_request_id, "pay")
    done = provider.stk_query(credentials, accepted.checkout_request_id)
    assert (done.pending, done.result_code) == (False, 0)
    assert done.result_desc == "The service request is processed successfully."
    assert done.merchant_request_id == accepted.merchant_request_id
    cancelled = push(provider, credentials)
    daraja.press(cancelled, "cancel")
    assert provider.stk_query(credentials, cancelled).result_code == 1032
    assert daraja.token_requests(app.consumer_key) == 1


def test_a_till_push_pays_the_till(daraja: DarajaSandbox) -> None:
    app = daraja.create_app(shortcode="600300", till="700300")
    provider = MpesaProvider()
    checkout_id = push(provider, credentials_of(app, transaction_type="till", party_b="700300"))
    pushed = daraja.push(checkout_id)
    assert (pushed["TransactionType"], pushed["PartyB"], pushed["status"]) == (
        "CustomerBuyGoodsOnline",
        "700300",
        "pending",
    )


def test_bad_input_is_refused_before_anything_is_sent(daraja: DarajaSandbox) -> None:
    app = daraja.create_app(shortcode="600301")
    provider = MpesaProvider()
    credentials = credentials_of(app)
    with pytest.raises(InvalidPhoneNumberError):
        push(provider, credentials, phone_number="0808374149")
    with pytest.raises(AmountNotSupportedError):
        push(provider, credentials, amount=10_050)
    assert daraja.pushes(app.consumer_key) == []
    with pytest.raises(ProviderRejectedError) as rejected:
        push(provider, credentials, account_reference="A" * 13)
    assert rejected.value.provider_code == "400.002.02"
    assert "AccountReference" in str(rejected.value)


def test_wrong_credentials_are_unavailable_not_rejected(daraja: DarajaSandbox) -> None:
    app = daraja.create_app(shortcode="600302")
    provider = MpesaProvider()
    with pytest.raises(ProviderUnavailableError):
        push(provider, credentials_of(app, consumer_secret="WrongSecret0123456789"))
    with pytest.raises(ProviderUnavailableError):
        push(provider, credentials_of(app, passkey="wrong-passkey-value"))
    with pytest.raises(ProviderUnavailableError):
        push(provider, credentials_of(app, environment="staging"))


def test_the_credential_test_tells_what_is_wrong(daraja: DarajaSandbox) -> None:
    app = daraja.create_app(shortcode="600303")
    provider = MpesaProvider()
    good = provider.test_credentials(credentials_of(app))
    assert (good.ok, good.code) == (True, "ok")
    secret = provider.test_credentials(credentials_of(app, consumer_secret="Wrong0123456789"))
    assert (secret.ok, secret.code, secret.message) == (
        False,
        "invalid_credentials",
        "Daraja refused the consumer key and secret",
    )
    passkey = provider.test_credentials(credentials_of(app, passkey="wrong-passkey-value"))
    assert (passkey.ok, passkey.code) == (False, "invalid_credentials")
    assert "refused the shortcode or passkey" in passkey.message
    shortcode = provider.test_credentials(credentials_of(app, shortcode="600399", party_b="600399"))
    assert "refused the shortcode or passkey" in shortcode.message
    party_b = provider.test_credentials(credentials_of(app, party_b="600399"))
    assert (party_b.ok, party_b.message) == (
        False,
        "for a paybill, party_b must be the shortcode",
    )
    for result in (good, secret, passkey, shortcode):
        assert app.consumer_secret not in result.message
        assert app.passkey not in result.message


def test_the_credential_test_of_a_daraja_that_does_not_answer(
    aws: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVIDER_API_BASE_MPESA", "http://127.0.0.1:9")  # discard: nobody
    reset_settings()
    app = App("ConsumerKey0123", "ConsumerSecret0123", "174379", "passkey0123")
    result = MpesaProvider().test_credentials(credentials_of(app))
    assert (result.ok, result.code) == (False, "provider_unreachable")


def test_the_credentials_api_tests_mpesa_credentials_against_daraja(
    daraja: DarajaSandbox, functions: FunctionRegistry
) -> None:
    app = daraja.create_app(shortcode="600304")
    tenant = new_tenant()

    def call(sample: str, body: Any = None) -> dict[str, Any]:
        event = load_event(f"providers_api/{sample}")
        event["path"] = event["path"].replace("/stripe/", "/mpesa/")
        event["pathParameters"] = {"provider": "mpesa"}
        event["requestContext"]["authorizer"]["tenant_id"] = tenant
        if body is not None:
            event["body"] = json.dumps(body)
        response = functions.invoke("ProvidersApiFunction", event)
        assert response["statusCode"] == 200, response["body"]
        return dict(json.loads(response["body"]))

    stored = call("put_credentials.json", {"values": credentials_of(app).values})
    assert stored["values"]["shortcode"] == "600304"
    assert app.passkey not in json.dumps(stored)
    tested = call("test_credentials.json")
    assert tested["verified"] is True
    assert tested["last_test_result"]["code"] == "ok"
    call("put_credentials.json", {"values": credentials_of(app, passkey="wrong-passkey").values})
    assert call("test_credentials.json")["verified"] is False


def test_a_refused_token_is_replaced_once_and_the_call_retried(daraja: DarajaSandbox) -> None:
    app = daraja.create_app(shortcode="600305")
    provider = MpesaProvider(shared_tokens=shared_store())
    credentials = credentials_of(app)
    push(provider, credentials)
    # Someone else (another system on the same app) asks for a token: ours is now invalid.
    requests.get(
        f"{daraja.base_url}/oauth/v1/generate?grant_type=client_credentials",
        auth=(app.consumer_key, app.consumer_secret),
        timeout=5,
    )
    push(provider, credentials)
    assert daraja.token_requests(app.consumer_key) == 3
    assert len(daraja.pushes(app.consumer_key)) == 2
    # Another container shares the replaced token: no further request.
    push(MpesaProvider(shared_tokens=shared_store()), credentials)
    assert daraja.token_requests(app.consumer_key) == 3


def test_spike_arrest_and_quota_are_retried_with_backoff_within_the_budget(
    daraja: DarajaSandbox,
) -> None:
    app = daraja.create_app(shortcode="600306")
    pauses: list[float] = []
    provider = MpesaProvider(throttle_backoff=(0.01, 0.02, 0.04), sleep=pauses.append)
    credentials = credentials_of(app)
    daraja.chaos.spike_arrest_next = 1
    daraja.chaos.quota_exceeded_next = 1
    push(provider, credentials)
    assert pauses == [0.01, 0.02]
    assert len(daraja.pushes(app.consumer_key)) == 1

    daraja.chaos.spike_arrest_next = 10
    pauses.clear()
    with pytest.raises(ProviderUnreachableError):
        push(provider, credentials)
    assert pauses == [0.01, 0.02, 0.04]
    assert len(daraja.pushes(app.consumer_key)) == 1

    tight = MpesaProvider(budget_seconds=0.5, throttle_backoff=(1.0,), sleep=pauses.append)
    daraja.chaos.spike_arrest_next = 1
    pauses.clear()
    with pytest.raises(ProviderUnreachableError):
        push(tight, credentials)
    assert pauses == []  # the pause would overrun the budget


def test_twenty_cold_containers_make_one_token_request(daraja: DarajaSandbox) -> None:
    app = daraja.create_app(shortcode="600307")
    other = daraja.create_app(shortcode="600308")
    store = shared_store()
    start = threading.Barrier(20)

    def cold_start(index: int) -> str:
        provider = MpesaProvider(shared_tokens=store)  # a container of its own
        target = app if index % 10 else other  # two of the twenty use the other app
        start.wait()
        return push(provider, credentials_of(target))

    with ThreadPoolExecutor(20) as pool:
        pushed = list(pool.map(cold_start, range(20)))
    assert len(set(pushed)) == 20
    assert daraja.token_requests(app.consumer_key) == 1
    assert daraja.token_requests(other.consumer_key) == 1

    tokens = items_of_type("provider_token")
    assert len(tokens) == 2
    dumped = json.dumps(tokens, default=str)
    for state in daraja.apps():
        if state.app.consumer_key in (app.consumer_key, other.consumer_key):
            assert state.token is not None
            assert state.token.value not in dumped  # encrypted at rest
            assert state.app.consumer_key not in dumped
            assert state.app.consumer_secret not in dumped
    assert all("lease_holder" not in item for item in tokens)


def test_many_threads_of_one_container_share_its_copy(
    daraja: DarajaSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "_installed", None)  # what the services would install
    app = daraja.create_app(shortcode="600309")
    provider = MpesaProvider()  # no shared store: the container's own copy
    credentials = credentials_of(app)
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda _: push(provider, credentials), range(10)))
    assert daraja.token_requests(app.consumer_key) == 1


def test_an_expired_token_is_refreshed(daraja: DarajaSandbox) -> None:
    daraja.settings.token_lifetime_seconds = 2  # used for half its life: one second
    app = daraja.create_app(shortcode="600310")
    provider = MpesaProvider(shared_tokens=shared_store())
    credentials = credentials_of(app)
    push(provider, credentials)
    threading.Event().wait(1.1)
    push(provider, credentials)
    assert daraja.token_requests(app.consumer_key) == 2
    assert len(items_of_type("provider_token")) == 1
