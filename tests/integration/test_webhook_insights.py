"""The provider registry (GET /v1/providers) and webhook health, statistics and inbox
(GET /v1/webhooks/...) through the real handlers, under moto, with deliveries sent through the
real webhook functions (Stripe signatures from the stripe SDK, not from our code)."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest

from devstack.lambdas import FunctionRegistry
from devstack.template import LocalStack
from payments import providers
from payments.config import reset_settings
from payments.providers import stripe_spec
from payments.providers.spec import Capability, ProviderSpec, WebhookSecurity, monogram_icon
from payments.services.credentials import set_provider_credentials
from tests.conftest import load_event
from tests.integration.helpers import all_items, new_tenant
from tests.integration.stripe_fixtures import (
    configure_stripe,
    intent_succeeded,
    open_checkout,
    session_completed,
    signed_delivery,
)

MPESA_VALUES = {
    "consumer_key": "ConsumerKey0001",
    "consumer_secret": "ConsumerSecret0001",
    "shortcode": "174379",
    "passkey": "PassKey-0001-abcdef",
    "transaction_type": "paybill",
    "party_b": "174379",
    "environment": "sandbox",
}


def _api(
    functions: FunctionRegistry,
    function: str,
    sample: str,
    tenant_id: str,
    *,
    path: str | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    event = load_event(sample)
    event["requestContext"]["authorizer"]["tenant_id"] = tenant_id
    if path is not None:
        event["path"] = path
        event["pathParameters"] = path_parameters
    if query is not None:
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    response = functions.invoke(function, event)
    return response["statusCode"], json.loads(response["body"])


def _webhooks(
    functions: FunctionRegistry, sample: str, tenant_id: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    return _api(functions, "WebhooksApiFunction", f"webhooks_api/{sample}", tenant_id, **kwargs)


def _stripe(functions: FunctionRegistry, delivery: dict[str, Any]) -> int:
    return int(functions.invoke("WebhookStripeFunction", delivery)["statusCode"])


def _mpesa_callback(tenant_id: str, body: str | None = None) -> dict[str, Any]:
    """The events/ sample aimed at this tenant with a token no payment has."""
    event = load_event("webhook_mpesa/callback_success.json")
    path = f"/{tenant_id}/{secrets.token_urlsafe(32)}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    if body is not None:
        event["body"] = body
    return event


# --- the registry --------------------------------------------------------------------------


def test_the_registry_lists_every_provider_with_its_urls_headers_and_algorithms(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    set_provider_credentials(tenant, "mpesa", MPESA_VALUES, enabled=False)
    environment = aws.environment()
    status, body = _api(
        functions, "ProvidersApiFunction", "providers_api/list_providers.json", tenant
    )
    assert status == 200, body
    listed = {entry["name"]: entry for entry in body["data"]}
    assert {"stripe", "mpesa", "nowpayments", "omnisend"} <= set(listed)

    stripe = listed["stripe"]
    assert stripe["display_name"] == "Stripe"
    assert stripe["webhook_url"] == f"{environment['PROVIDER_WEBHOOK_URL_STRIPE']}{tenant}"
    assert stripe["webhook_url_per_payment"] is False
    assert stripe["webhook_security"]["signed"] is True
    assert stripe["webhook_security"]["signature_header"] == "Stripe-Signature"
    assert stripe["webhook_security"]["algorithm"] == "HMAC-SHA256"
    assert (stripe["configured"], stripe["enabled"], stripe["verified"]) == (True, True, False)
    assert {"hosted_checkout", "refunds", "webhooks"} <= set(stripe["capabilities"])
    assert stripe["icon"].startswith("data:image/svg+xml;base64,")
    assert stripe["last_webhook_accepted_at"] is None
    # The dashboard builds its credentials form from these.
    fields = {f["name"]: f for f in stripe["credential_fields"]}
    assert {"secret_key", "webhook_secret"} <= set(fields)
    assert fields["secret_key"]["secret"] is True
    assert fields["secret_key"]["required"] is True

    mpesa = listed["mpesa"]
    assert mpesa["webhook_url"] == f"{environment['PROVIDER_WEBHOOK_URL_MPESA']}{tenant}"
    assert mpesa["webhook_url_per_payment"] is True
    assert mpesa["webhook_security"]["signed"] is False
    assert mpesa["webhook_security"]["signature_header"] is None
    assert mpesa["webhook_security"]["algorithm"] == "none"
    checks = " ".join(mpesa["webhook_security"]["checks"])
    for check in ("token", "STK", "source-IP"):
        assert check in checks
    assert (mpesa["configured"], mpesa["enabled"]) == (True, False)

    nowpayments = listed["nowpayments"]
    assert nowpayments["display_name"] == "NOWPayments"
    assert nowpayments["webhook_url"] == (
        f"{environment['PROVIDER_WEBHOOK_URL_NOWPAYMENTS']}{tenant}"
    )
    assert nowpayments["webhook_url_per_payment"] is False
    assert nowpayments["webhook_security"]["signed"] is True
    assert nowpayments["webhook_security"]["signature_header"] == "x-nowpayments-sig"
    assert nowpayments["webhook_security"]["algorithm"] == "HMAC-SHA512"
    assert "GET /v1/payment" in " ".join(nowpayments["webhook_security"]["checks"])
    assert {"crypto_payments", "webhooks", "webhook_confirmation"} <= set(
        nowpayments["capabilities"]
    )
    assert nowpayments["configured"] is False

    omnisend = listed["omnisend"]
    assert omnisend["kind"] == "notifications"
    assert (omnisend["webhook_url"], omnisend["webhook_security"]) == (None, None)
    assert omnisend["configured"] is False

    # One provider by name is the same entry; an unknown name is 404 unknown_provider.
    status, one = _api(
        functions,
        "ProvidersApiFunction",
        "providers_api/get_provider.json",
        tenant,
        path="/v1/providers/mpesa",
        path_parameters={"provider": "mpesa"},
    )
    assert (status, one) == (200, mpesa)
    status, missing = _api(
        functions,
        "ProvidersApiFunction",
        "providers_api/get_provider.json",
        tenant,
        path="/v1/providers/paypal",
        path_parameters={"provider": "paypal"},
    )
    assert (status, missing["error"]["code"]) == (404, "unknown_provider")


def test_the_registry_shows_the_source_networks_and_the_last_accepted_webhook(
    aws: LocalStack, functions: FunctionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SOURCE_CIDRS_STRIPE", "3.18.12.0/24, 54.187.174.169")
    reset_settings()
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    assert _stripe(functions, signed_delivery(tenant, session_completed(checkout))) == 200
    status, body = _api(
        functions, "ProvidersApiFunction", "providers_api/get_provider.json", tenant
    )
    assert status == 200, body
    assert body["source_networks"] == ["3.18.12.0/24", "54.187.174.169/32"]
    assert body["last_webhook_accepted_at"] is not None
    # ...and it is the tenant's own: another tenant's Stripe has none.
    other = new_tenant()
    status, theirs = _api(
        functions, "ProvidersApiFunction", "providers_api/get_provider.json", other
    )
    assert (theirs["last_webhook_accepted_at"], theirs["configured"]) == (None, False)


def test_a_provider_spec_registered_in_a_test_appears_without_code_changes(
    aws: LocalStack, functions: FunctionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = ProviderSpec(
        name="fakepay",
        display_name="FakePay",
        credential_fields=stripe_spec.SPEC.credential_fields,
        icon=monogram_icon("FP", "#123456"),
        webhooks=stripe_spec.SPEC.webhooks,
        webhook_security=WebhookSecurity(
            algorithm="HMAC-SHA512",
            signature_header="x-fakepay-sig",
            signed_content="the body, keys sorted",
        ),
        base_urls={"live": "https://fakepay.invalid"},
    )
    monkeypatch.setattr(providers, "SPECS", MappingProxyType({**providers.SPECS, "fakepay": fake}))
    monkeypatch.setenv("PROVIDER_WEBHOOK_URL_FAKEPAY", "https://fakepay-hook.example/")
    reset_settings()
    tenant = new_tenant()
    status, body = _api(
        functions, "ProvidersApiFunction", "providers_api/list_providers.json", tenant
    )
    assert status == 200, body
    entry = next(e for e in body["data"] if e["name"] == "fakepay")
    assert entry["display_name"] == "FakePay"
    assert entry["capabilities"] == [Capability.WEBHOOKS.value]
    assert entry["webhook_url"] == f"https://fakepay-hook.example/{tenant}"
    assert entry["webhook_security"]["signature_header"] == "x-fakepay-sig"
    assert entry["webhook_security"]["algorithm"] == "HMAC-SHA512"
    # The webhook routes cover it too.
    status, health = _webhooks(functions, "health.json", tenant)
    assert status == 200, health
    assert "fakepay" in {row["provider"] for row in health["data"]}
    status, stats = _webhooks(
        functions, "stats.json", tenant, query={"days": "1", "provider": "fakepay"}
    )
    assert status == 200, stats
    assert [row["provider"] for row in stats["data"]] == ["fakepay"]


# --- statistics ----------------------------------------------------------------------------


def _storm(functions: FunctionRegistry, tenant: str) -> Counter[str]:
    """30 deliveries: applied, provider retries, bad and missing signatures, an unhandled type
    and its retry, an amount that does not match. Returns what the deliveries answered."""
    answers: Counter[str] = Counter()

    def send(delivery: dict[str, Any]) -> None:
        response = functions.invoke("WebhookStripeFunction", delivery)
        body = json.loads(response["body"])
        answers[body.get("outcome") or body["error"]["code"]] += 1

    checkouts = [open_checkout(tenant, suffix=f"storm{n}") for n in range(5)]
    completed = [session_completed(c) for c in checkouts]
    for event in completed:  # 5 applied
        send(signed_delivery(tenant, event))
    for _ in range(2):  # 10 provider retries of them: duplicates
        for event in completed:
            send(signed_delivery(tenant, event))
    for n in range(8):  # 8 signed with another secret, each a different body
        forged = {**intent_succeeded(checkouts[n % 5]), "id": f"evt_forged_{n}"}
        send(signed_delivery(tenant, forged, secret="whsec_not_the_tenants_secret_00"))
    for n in range(2):  # 2 without a signature at all
        send(signed_delivery(tenant, {**completed[n], "id": f"evt_unsigned_{n}"}, signature=""))
    unknown = {**intent_succeeded(checkouts[0]), "id": "evt_customer", "type": "customer.created"}
    for _ in range(2):  # 1 ignored, then its retry: a duplicate
        send(signed_delivery(tenant, unknown))
    for n in range(2):  # 2 more ignored: other unhandled types
        other = {**unknown, "id": f"evt_other_{n}", "type": f"customer.updated.{n}"}
        send(signed_delivery(tenant, other))
    mismatch = session_completed(open_checkout(tenant, suffix="mismatch"), amount=1)
    send(signed_delivery(tenant, mismatch))  # 1 rejected: amount_mismatch
    assert sum(answers.values()) == 30, answers
    return answers


def _sum_days(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows of one provider added up (a run across midnight UTC splits them)."""
    total: dict[str, Any] = {
        "received": 0, "applied": 0, "duplicate": 0, "ignored": 0, "rejected": 0,
        "rejected_by_reason": Counter(),
    }  # fmt: skip
    for row in rows:
        for name in ("received", "applied", "duplicate", "ignored", "rejected"):
            total[name] += row[name]
        total["rejected_by_reason"].update(row["rejected_by_reason"])
    total["rejected_by_reason"] = dict(total["rejected_by_reason"])
    return total


def test_stats_are_exact_after_a_storm_of_duplicates_and_rejections(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    answers = _storm(functions, tenant)
    # What the deliveries were answered, independently of the statistics.
    assert answers == {
        "applied": 5,
        "duplicate": 11,
        "ignored": 3,
        "signature_verification_failed": 10,
        "rejected": 1,
    }
    status, body = _webhooks(
        functions, "stats.json", tenant, query={"days": "2", "provider": "stripe"}
    )
    assert status == 200, body
    assert (body["days"], len(body["data"])) == (2, 2)
    assert {row["provider"] for row in body["data"]} == {"stripe"}
    assert _sum_days(body["data"]) == {
        "received": 30,
        "applied": 5,
        "duplicate": 11,
        "ignored": 3,
        "rejected": 11,
        "rejected_by_reason": {"signature_verification_failed": 10, "amount_mismatch": 1},
    }
    today = body["data"][-1]
    if today["received"]:
        assert today["processing_ms_p50"] is not None
        assert today["processing_ms_p95"] >= today["processing_ms_p50"]
    # Without a provider: every provider that sends webhooks, zeros included.
    status, everything = _webhooks(functions, "stats.json", tenant, query={"days": "1"})
    assert status == 200
    assert {row["provider"] for row in everything["data"]} >= {"stripe", "mpesa"}
    mpesa = [row for row in everything["data"] if row["provider"] == "mpesa"]
    assert _sum_days(mpesa)["received"] == 0

    # Health: 19 of 30 accepted is under 95%: degraded, with the last rejection's reason.
    status, health = _webhooks(functions, "health.json", tenant)
    assert status == 200, health
    stripe = next(row for row in health["data"] if row["provider"] == "stripe")
    assert stripe["status"] == "degraded"
    assert stripe["configured"] is True
    assert stripe["received_last_day"] == 30
    assert stripe["acceptance_rate_last_day"] == round(19 / 30, 4)
    assert stripe["last_rejected_reason"] == "amount_mismatch"
    assert stripe["last_received_at"] == stripe["last_rejected_at"]
    assert stripe["last_accepted_at"] <= stripe["last_received_at"]
    mpesa_health = next(row for row in health["data"] if row["provider"] == "mpesa")
    assert (mpesa_health["status"], mpesa_health["configured"]) == ("silent", False)


def test_the_counters_spread_over_shards_and_made_up_tenants_write_none(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    checkouts = [open_checkout(tenant, suffix=f"shard{n}") for n in range(40)]
    for checkout in checkouts:
        assert _stripe(functions, signed_delivery(tenant, session_completed(checkout))) == 200
    assert _stripe(functions, signed_delivery("ten_madeup0001", session_completed(checkouts[0])))
    counters = [item for item in all_items() if item.get("item_type") == "webhook_stats"]
    assert {item["tenant_id"] for item in counters} == {tenant}
    assert sum(int(item["received"]) for item in counters) == 40
    # 40 deliveries over 4 shards at random: all four in use but for a 4 * (3/4)^40 chance.
    assert len({item["pk"] for item in counters}) == 4
    assert all(int(item["ttl"]) > 0 for item in counters)


def test_a_failing_counter_write_never_fails_the_webhook(
    aws: LocalStack, functions: FunctionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments.store import webhook_stats

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("DynamoDB is having a day")

    monkeypatch.setattr(webhook_stats, "record_delivery", broken)
    tenant = new_tenant()
    configure_stripe(tenant)
    checkout = open_checkout(tenant)
    response = functions.invoke(
        "WebhookStripeFunction", signed_delivery(tenant, session_completed(checkout))
    )
    assert (response["statusCode"], json.loads(response["body"])["outcome"]) == (200, "applied")
    status, _ = _webhooks(functions, "health.json", tenant)
    assert status == 200


@pytest.mark.parametrize(
    ("sample", "query", "code"),
    [
        ("stats.json", {"days": "0"}, "value_out_of_range"),
        ("stats.json", {"days": "36"}, "value_out_of_range"),
        ("stats.json", {"days": "seven"}, "invalid_type"),
        ("stats.json", {"provider": "paypal"}, "unknown_provider"),
        ("stats.json", {"provider": "omnisend"}, "webhooks_not_supported"),
        ("stats.json", {"provider": "Stripe!"}, "invalid_format"),
        ("inbox.json", {"status": "lost"}, "invalid_query"),
        ("inbox.json", {"since": "yesterday"}, "invalid_format"),
        # Numbers (seconds since the epoch), bare dates and times without an offset are not
        # RFC 3339 date-times, though a lenient parser would take them.
        ("inbox.json", {"since": "0.5"}, "invalid_format"),
        ("inbox.json", {"since": "1764700000"}, "invalid_format"),
        ("inbox.json", {"since": "2026-01-01"}, "invalid_format"),
        ("inbox.json", {"since": "2026-01-01T00:00:00"}, "invalid_format"),
        ("inbox.json", {"since": "2026-02-30T00:00:00Z"}, "invalid_query"),
        ("inbox.json", {"since": "0001-01-01T00:00:00+01:00"}, "invalid_query"),
        ("inbox.json", {"limit": "101"}, "value_out_of_range"),
        ("inbox.json", {"cursor": "bm90LWEtY3Vyc29y"}, "invalid_cursor"),
        ("inbox.json", {"cursor": "A" * 2048}, "invalid_cursor"),
        ("inbox.json", {"cursor": "A" * 2049}, "value_too_long"),
    ],
)
def test_bad_parameters_are_400_with_a_code(
    aws: LocalStack, functions: FunctionRegistry, sample: str, query: dict[str, str], code: str
) -> None:
    status, body = _webhooks(functions, sample, new_tenant(), query=query)
    assert (status, body["error"]["code"]) == (400, code), body


# --- the inbox -----------------------------------------------------------------------------


def _inbox(functions: FunctionRegistry, tenant: str, **query: str) -> tuple[int, dict[str, Any]]:
    return _webhooks(functions, "inbox.json", tenant, query=query)


def _entry(functions: FunctionRegistry, tenant: str, entry_id: str) -> tuple[int, dict[str, Any]]:
    return _webhooks(
        functions,
        "inbox_entry.json",
        tenant,
        path=f"/v1/webhooks/inbox/{entry_id}",
        path_parameters={"entry_id": entry_id},
    )


def test_the_inbox_pages_through_every_provider_newest_first_with_raw_payloads(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    set_provider_credentials(tenant, "mpesa", MPESA_VALUES)
    answers = _storm(functions, tenant)
    assert answers["applied"] == 5
    for n in range(3):  # M-PESA callbacks on URLs no payment has: refused, recorded
        callback = _mpesa_callback(tenant)
        sample = json.loads(callback["body"])
        sample["Body"]["stkCallback"]["CheckoutRequestID"] = f"ws_CO_00000000000{n}"
        callback["body"] = json.dumps(sample)
        response = functions.invoke("WebhookMpesaFunction", callback)
        assert response["statusCode"] == 200
    # Recorded: 5 applied + 3 ignored + 8 forged + 2 unsigned + 1 mismatch (stripe) + 3 mpesa.
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        status, page = _inbox(
            functions, tenant, limit="4", **({"cursor": cursor} if cursor else {})
        )
        assert status == 200, page
        pages.append(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    entries = [entry for page in pages for entry in page]
    assert len(entries) == 22
    assert [len(page) for page in pages] == [4, 4, 4, 4, 4, 2]
    assert len({entry["id"] for entry in entries}) == 22
    order = [(e["received_at"], e["provider"], e["event_id"]) for e in entries]
    assert [o[0] for o in order] == sorted((o[0] for o in order), reverse=True)
    assert Counter(e["provider"] for e in entries) == {"stripe": 19, "mpesa": 3}
    assert Counter(e["status"] for e in entries) == {"accepted": 5, "ignored": 3, "rejected": 14}

    # Filters: one provider, one status, since a time.
    status, mpesa = _inbox(functions, tenant, provider="mpesa")
    assert (status, len(mpesa["data"])) == (200, 3)
    assert {e["reason"] for e in mpesa["data"]} == {"unknown_payment"}
    status, rejected = _inbox(functions, tenant, provider="stripe", status="rejected", limit="100")
    assert (status, len(rejected["data"])) == (200, 11)
    assert Counter(e["reason"] for e in rejected["data"])["amount_mismatch"] == 1
    newest = entries[0]["received_at"]
    status, recent = _inbox(functions, tenant, since=newest)
    assert status == 200
    assert recent["data"]
    assert all(e["received_at"] >= newest for e in recent["data"])

    # One entry, with the body exactly as it arrived.
    forged = next(e for e in rejected["data"] if e["reason"] != "amount_mismatch")
    status, detail = _entry(functions, tenant, forged["id"])
    assert status == 200, detail
    assert {k: v for k, v in detail.items() if k != "payload"} == forged
    assert json.loads(detail["payload"])["id"].startswith(("evt_forged_", "evt_unsigned_"))


def test_tenants_never_see_each_others_stats_inbox_or_payloads(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant_a, tenant_b = new_tenant("A"), new_tenant("B")
    configure_stripe(tenant_a)
    configure_stripe(tenant_b)
    checkout = open_checkout(tenant_a)
    assert _stripe(functions, signed_delivery(tenant_a, session_completed(checkout))) == 200
    status, a_inbox = _inbox(functions, tenant_a)
    assert (status, len(a_inbox["data"])) == (200, 1)
    a_id = a_inbox["data"][0]["id"]
    assert _entry(functions, tenant_a, a_id)[0] == 200

    status, b_inbox = _inbox(functions, tenant_b)
    assert (status, b_inbox["data"]) == (200, [])
    status, b_entry = _entry(functions, tenant_b, a_id)
    assert (status, b_entry["error"]["code"]) == (404, "inbox_entry_not_found")
    status, b_stats = _webhooks(functions, "stats.json", tenant_b, query={"provider": "stripe"})
    assert (status, sum(row["received"] for row in b_stats["data"])) == (200, 0)
    status, b_health = _webhooks(functions, "health.json", tenant_b)
    stripe = next(row for row in b_health["data"] if row["provider"] == "stripe")
    assert (stripe["status"], stripe["last_received_at"]) == ("silent", None)


def test_inbox_records_stored_before_the_index_are_readable_and_backfilled(
    aws: LocalStack, functions: FunctionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments.store import inbox
    from payments.store.models import InboxItem
    from payments.store.state_change import InboxRecord, inbox_item

    tenant = new_tenant()
    old = inbox_item(
        InboxRecord("stripe", "evt_before_index", tenant, "charge.succeeded", '{"id": 1}'),
        datetime.now(UTC),
    )
    old = replace_attributes(old, gsi4pk=None, gsi4sk=None)
    old.save()
    entry_id = inbox.inbox_id("stripe", "evt_before_index")
    assert _entry(functions, tenant, entry_id)[1]["payload"] == '{"id": 1}'
    assert _inbox(functions, tenant)[1]["data"] == []  # not in the index yet
    # payctl, on this moto account (what `--local` reads from the devstack's state file).
    state = aws.environment()
    monkeypatch.setattr("payctl.main.target_environment", lambda *_: state)
    for name, value in state.items():
        monkeypatch.setenv(name, value)  # restored after the test, whatever payctl sets
    code, output = run_payctl_locally("inbox", "backfill-index")
    assert (code, "indexed 1 inbox record(s)" in output) == (0, True), output
    assert inbox.backfill_index() == 0  # done once
    listed = _inbox(functions, tenant)[1]["data"]
    assert [e["id"] for e in listed] == [entry_id]
    assert InboxItem.get(*InboxItem.key("stripe", tenant, "evt_before_index")).gsi4pk


def run_payctl_locally(*args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from payctl.main import app

    result = CliRunner().invoke(app, ["--local", *args])
    return result.exit_code, result.output


def replace_attributes(item: Any, **values: Any) -> Any:
    for name, value in values.items():
        setattr(item, name, value)
    return item
