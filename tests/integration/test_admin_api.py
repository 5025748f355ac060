"""The operator API (/v1/admin/...) through the real handlers under moto: operator keys, the
authorizer's two policies, every admin route, and the audit log every request writes."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest

from devstack.gateway import _policy_allows
from devstack.lambdas import FunctionRegistry
from devstack.template import LocalStack, load_template
from payments.config import get_settings
from payments.store import repositories
from tests.conftest import load_event
from tests.integration.helpers import all_items, new_payment, new_tenant

ADMIN_ROUTES = sorted(
    (route.method, route.path)
    for route in LocalStack(load_template()).api_routes()
    if route.function == "AdminFunction"
)
ARN_BASE = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev"


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: {"name": "callbacks"}.get(m.group(1), "ten_x1"), path)


def _operator_context(key: repositories.IssuedOperatorKey) -> dict[str, Any]:
    return {
        "principalId": key.key.key_id,
        "role": "operator",
        "operator_id": key.key.operator_id,
        "operator_name": key.key.name,
        "key_id": key.key.key_id,
    }


def _event(
    method: str,
    resource: str,
    *,
    context: dict[str, Any],
    path_params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: Any = None,
) -> dict[str, Any]:
    event = load_event("admin/list_tenants.json")
    path = resource
    for name, value in (path_params or {}).items():
        path = path.replace("{" + name + "}", value)
    event.update(
        resource=resource,
        path=path,
        httpMethod=method,
        pathParameters=path_params,
        queryStringParameters=query,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
        body=json.dumps(body) if body is not None else None,
    )
    if body is not None:
        event["headers"]["Content-Type"] = "application/json"
    event["requestContext"].update(resourcePath=resource, httpMethod=method, path=f"/dev{path}")
    event["requestContext"]["authorizer"] = context
    return event


class Admin:
    """Calls the AdminFunction as one operator."""

    def __init__(self, functions: FunctionRegistry, context: dict[str, Any]) -> None:
        self.functions = functions
        self.context = context

    def call(self, method: str, resource: str, **kwargs: Any) -> tuple[int, Any]:
        response = self.functions.invoke(
            "AdminFunction", _event(method, resource, context=self.context, **kwargs)
        )
        return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def operator_key(aws: LocalStack) -> repositories.IssuedOperatorKey:
    return repositories.issue_operator_key("Ops On Call")


@pytest.fixture
def admin(functions: FunctionRegistry, operator_key: repositories.IssuedOperatorKey) -> Admin:
    return Admin(functions, _operator_context(operator_key))


def _audit(admin: Admin, **query: str) -> list[dict[str, Any]]:
    status, body = admin.call("GET", "/v1/admin/audit", query=query or None)
    assert status == 200
    return list(body["data"])


# --- operator keys -------------------------------------------------------------------------


def test_an_operator_key_is_stored_only_as_its_hash_and_listed_without_it(aws: LocalStack) -> None:
    issued = repositories.issue_operator_key("alice@example.com")
    assert issued.plaintext.startswith("opk_")
    assert len(issued.plaintext) > 40
    dump = json.dumps(all_items(), default=str)
    assert issued.plaintext not in dump
    assert repositories.hash_api_key(issued.plaintext) in dump
    again = repositories.issue_operator_key("Alice@Example.com")
    assert again.key.operator_id == issued.key.operator_id  # one operator, two keys
    listed = repositories.list_operator_keys()
    assert [k.key_id for k in listed] == [issued.key.key_id, again.key.key_id]
    assert repositories.revoke_operator_key(issued.key.key_id)
    assert [k.revoked for k in repositories.list_operator_keys()] == [True, False]
    assert not repositories.revoke_operator_key("okey_unknown")


# --- the authorizer ------------------------------------------------------------------------


def _authorize(
    functions: FunctionRegistry, key: str, method: str = "GET", path: str = "/v1/admin/tenants"
) -> Any:
    event = load_event("authorizer/request.json")
    event["headers"]["Authorization"] = f"Bearer {key}"
    event["methodArn"] = f"{ARN_BASE}/{method}{path}"
    return functions.invoke("AuthorizerFunction", event)


def test_the_template_routes_every_admin_route_of_the_resolver_to_the_admin_function() -> None:
    from functions.admin.app import ACTIONS

    assert {f"{method} {path}" for method, path in ADMIN_ROUTES} == set(ACTIONS)
    assert len(ADMIN_ROUTES) == 12


def test_an_operator_key_is_allowed_only_on_admin_routes(
    aws: LocalStack, functions: FunctionRegistry, operator_key: repositories.IssuedOperatorKey
) -> None:
    policy = _authorize(functions, operator_key.plaintext)
    assert policy["principalId"] == operator_key.key.key_id
    assert policy["context"] == {
        "role": "operator",
        "operator_id": operator_key.key.operator_id,
        "operator_name": "Ops On Call",
        "key_id": operator_key.key.key_id,
    }
    assert "usageIdentifierKey" not in policy  # operator routes are in no usage plan
    for method, path in ADMIN_ROUTES:
        assert _policy_allows(policy, f"{ARN_BASE}/{method}{_concrete(path)}"), path
    merchant_routes = [
        route
        for route in LocalStack(load_template()).api_routes()
        if route.function != "AdminFunction"
    ]
    assert len(merchant_routes) > 20
    for route in merchant_routes:
        arn = f"{ARN_BASE}/{route.method}{_concrete(route.path)}"
        assert not _policy_allows(policy, arn), route.path
    # The verbs are spelled out: a path that merely contains /v1/admin/ later is not allowed.
    assert not _policy_allows(policy, f"{ARN_BASE}/GET/v1/payments/v1/admin/x")


def test_a_merchant_key_is_denied_every_admin_route_and_allowed_the_others(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    key = repositories.issue_api_key(tenant)
    policy = _authorize(functions, key.plaintext, "GET", "/v1/payments")
    assert policy["context"] == {"role": "merchant", "tenant_id": tenant, "key_id": key.key_id}
    for method, path in ADMIN_ROUTES:
        assert not _policy_allows(policy, f"{ARN_BASE}/{method}{_concrete(path)}"), path
    for route in LocalStack(load_template()).api_routes():
        if route.function != "AdminFunction":
            assert _policy_allows(policy, f"{ARN_BASE}/{route.method}{_concrete(route.path)}")


def test_a_revoked_operator_key_is_unauthorized(
    aws: LocalStack, functions: FunctionRegistry, operator_key: repositories.IssuedOperatorKey
) -> None:
    assert _authorize(functions, operator_key.plaintext)["context"]["role"] == "operator"
    assert repositories.revoke_operator_key(operator_key.key.key_id)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(functions, operator_key.plaintext)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(functions, "opk_unknown")


def test_an_api_key_is_read_once_and_an_operator_key_once(
    aws: LocalStack,
    functions: FunctionRegistry,
    operator_key: repositories.IssuedOperatorKey,
    aws_calls: Any,
) -> None:
    key = repositories.issue_api_key(new_tenant())
    aws_calls.reset()
    _authorize(functions, key.plaintext)
    assert aws_calls() == {"GetItem": 2}  # the key and its tenant, no operator-key read
    aws_calls.reset()
    _authorize(functions, operator_key.plaintext)
    assert aws_calls() == {"GetItem": 1}


def test_an_operator_context_on_a_merchant_handler_is_403(
    aws: LocalStack, functions: FunctionRegistry, operator_key: repositories.IssuedOperatorKey
) -> None:
    payment = new_payment(new_tenant())
    event = load_event("status/get_payment.json")
    event["path"] = f"/v1/payments/{payment.payment_id}"
    event["pathParameters"] = {"payment_id": payment.payment_id}
    event["requestContext"]["authorizer"] = _operator_context(operator_key)
    response = functions.invoke("StatusFunction", event)
    assert response["statusCode"] == 403
    assert json.loads(response["body"])["error"]["code"] == "forbidden"
    health = load_event("webhooks_api/health.json")
    health["requestContext"]["authorizer"] = _operator_context(operator_key)
    assert functions.invoke("WebhooksApiFunction", health)["statusCode"] == 403


def test_a_merchant_context_on_every_admin_route_is_403_and_audited(
    aws: LocalStack, functions: FunctionRegistry, operator_key: repositories.IssuedOperatorKey
) -> None:
    tenant = new_tenant()
    merchant = Admin(
        functions,
        {"principalId": "key_1", "role": "merchant", "tenant_id": tenant, "key_id": "key_1"},
    )
    bodies = {"/v1/admin/tenants": {"name": "X"}, "/v1/admin/ledger/verify": {}}
    for method, path in ADMIN_ROUTES:
        params = {
            n: ("callbacks" if n == "name" else tenant) for n in re.findall(r"\{(\w+)\}", path)
        }
        status, body = merchant.call(
            method,
            path,
            path_params=params or None,
            query={"q": "pay_x"} if path.endswith("/search") else None,
            body=bodies.get(path, {}) if method == "POST" else None,
        )
        assert (status, body["error"]["code"]) == (403, "forbidden"), path
    entries = _audit(Admin(functions, _operator_context(operator_key)), limit="100")
    refused = [e for e in entries if e["operator_id"] is None]
    assert len(refused) == len(ADMIN_ROUTES)
    assert {e["status"] for e in refused} == {403}
    assert {e["action"] for e in refused} >= {"list_tenants", "suspend_tenant", "replay_dlq"}


# --- routes ----------------------------------------------------------------------------------


def test_me_names_the_operator(admin: Admin, operator_key: repositories.IssuedOperatorKey) -> None:
    assert admin.call("GET", "/v1/admin/me") == (
        200,
        {
            "operator_id": operator_key.key.operator_id,
            "name": "Ops On Call",
            "key_id": operator_key.key.key_id,
        },
    )


def test_tenants_are_listed_with_their_key_ids_never_the_keys(admin: Admin) -> None:
    first, second = new_tenant("Salon A"), new_tenant("Salon B")
    key = repositories.issue_api_key(first)
    repositories.revoke_api_key(key.key_id)
    fresh = repositories.issue_api_key(first)
    status, body = admin.call("GET", "/v1/admin/tenants")
    assert status == 200
    by_id = {t["tenant_id"]: t for t in body["data"]}
    assert set(by_id) == {first, second}
    assert by_id[first]["name"] == "Salon A"
    assert by_id[first]["status"] == "active"
    assert [(k["key_id"], k["revoked"]) for k in by_id[first]["api_keys"]] == [
        (key.key_id, True),
        (fresh.key_id, False),
    ]
    assert by_id[second]["api_keys"] == []
    text = json.dumps(body)
    assert key.plaintext not in text
    assert repositories.hash_api_key(key.plaintext) not in text


def test_an_operator_creates_a_tenant_with_its_usage_key_then_issues_its_key(
    admin: Admin, functions: FunctionRegistry
) -> None:
    status, tenant = admin.call("POST", "/v1/admin/tenants", body={"name": "  New Shop  "})
    assert status == 201
    assert (tenant["name"], tenant["status"], tenant["api_keys"]) == ("New Shop", "active", [])
    stored = repositories.get_tenant(tenant["tenant_id"])
    assert stored is not None
    assert stored.usage_key is not None
    status, issued = admin.call(
        "POST",
        "/v1/admin/tenants/{tenant_id}/api-keys",
        path_params={"tenant_id": tenant["tenant_id"]},
    )
    assert status == 201
    found = repositories.find_api_key(issued["api_key"])
    assert found is not None
    assert found.tenant_id == tenant["tenant_id"]
    assert found.key_id == issued["key_id"]
    # The key works at once, and the audit log kept no trace of it.
    event = load_event("authorizer/request.json")
    event["headers"]["Authorization"] = f"Bearer {issued['api_key']}"
    assert (
        functions.invoke("AuthorizerFunction", event)["context"]["tenant_id"] == tenant["tenant_id"]
    )
    assert issued["api_key"] not in json.dumps(all_items(), default=str)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "missing_field"),
        ({"name": ""}, "value_too_short"),
        ({"name": "x" * 101}, "value_too_long"),
        ({"name": "a\nb"}, "invalid_format"),
        ({"name": "A", "extra": 1}, "unknown_field"),
        ({"name": 5}, "invalid_type"),
    ],
)
def test_bad_tenant_names_are_refused_with_a_code(
    admin: Admin, body: dict[str, Any], code: str
) -> None:
    status, answer = admin.call("POST", "/v1/admin/tenants", body=body)
    assert (status, answer["error"]["code"]) == (422, code)
    assert repositories.tenants_with_api_keys() == []


def test_suspending_refuses_the_tenants_keys_and_activating_restores_them(
    admin: Admin, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    key = repositories.issue_api_key(tenant)
    params = {"tenant_id": tenant}
    status, view = admin.call("POST", "/v1/admin/tenants/{tenant_id}/suspend", path_params=params)
    assert (status, view["status"]) == (200, "suspended")
    assert [k["key_id"] for k in view["api_keys"]] == [key.key_id]
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(functions, key.plaintext)
    status, answer = admin.call(
        "POST", "/v1/admin/tenants/{tenant_id}/api-keys", path_params=params
    )
    assert (status, answer["error"]["code"]) == (409, "tenant_suspended")
    status, view = admin.call("POST", "/v1/admin/tenants/{tenant_id}/activate", path_params=params)
    assert (status, view["status"]) == (200, "active")
    assert _authorize(functions, key.plaintext)["context"]["tenant_id"] == tenant


@pytest.mark.parametrize("action", ["suspend", "activate", "api-keys"])
def test_an_unknown_tenant_is_404_and_a_malformed_id_400(admin: Admin, action: str) -> None:
    resource = f"/v1/admin/tenants/{{tenant_id}}/{action}"
    status, body = admin.call("POST", resource, path_params={"tenant_id": "ten_missing"})
    assert (status, body["error"]["code"]) == (404, "tenant_not_found")
    status, body = admin.call("POST", resource, path_params={"tenant_id": "pay_123"})
    assert (status, body["error"]["code"]) == (400, "invalid_format")
    assert repositories.get_tenant("ten_missing") is None


def test_search_finds_a_payment_by_id_reference_email_or_payable_anywhere(admin: Admin) -> None:
    from payments.store.mapping import provider_ref_partition
    from payments.store.models import PaymentItem

    first, second = new_tenant("A"), new_tenant("B")
    mine = new_payment(first)
    theirs = new_payment(second)
    status, body = admin.call("GET", "/v1/admin/search", query={"q": theirs.payment_id})
    assert status == 200
    assert [
        (h["tenant_id"], h["tenant_name"], h["payment"]["payment_id"]) for h in body["data"]
    ] == [(second, "B", theirs.payment_id)]
    # A provider reference, as a webhook would find the payment.
    item = PaymentItem.get(*PaymentItem.key(mine.payment_id))
    item.update(
        actions=[
            PaymentItem.provider_ref.set("cs_test_123"),
            PaymentItem.gsi2pk.set(provider_ref_partition("stripe", "cs_test_123")),
            PaymentItem.gsi2sk.set(mine.payment_id),
        ]
    )
    status, body = admin.call("GET", "/v1/admin/search", query={"q": "cs_test_123"})
    assert [(h["tenant_id"], h["payment"]["payment_id"]) for h in body["data"]] == [
        (first, mine.payment_id)
    ]
    assert admin.call("GET", "/v1/admin/search", query={"q": "pay_nothing"}) == (200, {"data": []})
    # The merchant search, asked of every tenant: a customer's e-mail (any case), a payable id.
    status, body = admin.call("GET", "/v1/admin/search", query={"q": "C@Example.com"})
    assert sorted((h["tenant_name"], h["payment"]["payment_id"]) for h in body["data"]) == [
        ("A", mine.payment_id),
        ("B", theirs.payment_id),
    ]
    status, body = admin.call("GET", "/v1/admin/search", query={"q": "bk_1001"})
    assert len(body["data"]) == 2


@pytest.mark.parametrize(
    ("query", "code"),
    [({}, "missing_field"), ({"q": ""}, "value_too_short"), ({"q": "x" * 257}, "value_too_long")],
)
def test_bad_searches_are_400(admin: Admin, query: dict[str, str], code: str) -> None:
    status, body = admin.call("GET", "/v1/admin/search", query=query or None)
    assert (status, body["error"]["code"]) == (400, code)


def test_webhook_health_is_shown_for_every_tenant(admin: Admin) -> None:
    first, second = new_tenant("A"), new_tenant("B")
    status, body = admin.call("GET", "/v1/admin/webhooks/health")
    assert status == 200
    assert [(t["tenant_id"], t["tenant_name"]) for t in body["data"]] == [
        (first, "A"),
        (second, "B"),
    ]
    providers = {p["provider"] for p in body["data"][0]["providers"]}
    assert {"stripe", "mpesa"} <= providers
    assert body["generated_at"].endswith("Z")


def test_dead_letter_queues_show_their_depth_and_only_callbacks_replay(
    aws: LocalStack, admin: Admin
) -> None:
    settings = get_settings()
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=settings.notify_dlq_url, MessageBody="{}")
    for _ in range(2):
        sqs.send_message(QueueUrl=settings.callback_dlq_url, MessageBody='{"detail": {}}')
    status, body = admin.call("GET", "/v1/admin/dlq")
    assert status == 200
    assert body["data"] == [
        {"name": "callbacks", "depth": 2, "replayable": True},
        {"name": "notify", "depth": 1, "replayable": False},
        {"name": "outbox", "depth": 0, "replayable": False},
    ]
    status, body = admin.call(
        "POST", "/v1/admin/dlq/{name}/replay", path_params={"name": "callbacks"}
    )
    assert (status, body) == (200, {"name": "callbacks", "replayed": 2})
    queue = sqs.get_queue_attributes(
        QueueUrl=settings.callback_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert queue["Attributes"]["ApproximateNumberOfMessages"] == "2"  # fanned out again
    status, body = admin.call("POST", "/v1/admin/dlq/{name}/replay", path_params={"name": "notify"})
    assert (status, body["error"]["code"]) == (409, "not_replayable")
    status, body = admin.call("POST", "/v1/admin/dlq/{name}/replay", path_params={"name": "mail"})
    assert (status, body["error"]["code"]) == (400, "invalid_format")


def test_ledger_verify_checks_one_tenant_or_all(admin: Admin) -> None:
    first, second = new_tenant("A"), new_tenant("B")
    status, body = admin.call("POST", "/v1/admin/ledger/verify", body={"tenant_id": first})
    assert (status, [t["tenant_id"] for t in body["tenants"]], body["ok"]) == (200, [first], True)
    status, body = admin.call("POST", "/v1/admin/ledger/verify", body={"tenant_id": None})
    assert {t["tenant_id"] for t in body["tenants"]} == {first, second}
    status, body = admin.call("POST", "/v1/admin/ledger/verify", body={"tenant_id": "ten_missing"})
    assert (status, body["error"]["code"]) == (404, "tenant_not_found")
    status, body = admin.call("POST", "/v1/admin/ledger/verify", body={"tenant_id": "x"})
    assert (status, body["error"]["code"]) == (422, "value_too_short")


def test_ledger_verify_reports_a_tampered_balance(admin: Admin) -> None:
    from payments.domain.states import PaymentStatus
    from payments.providers.base import ProviderEvent
    from payments.services.provider_events import apply_provider_event
    from payments.store.models import AccountBalanceItem

    tenant = new_tenant()
    payment = new_payment(tenant)
    apply_provider_event(
        tenant_id=tenant,
        provider="stripe",
        event=ProviderEvent(
            event_id="evt_1",
            event_type="payment.captured",
            payment_id=payment.payment_id,
            requested_status=PaymentStatus.SUCCEEDED,
            capture_ref="ch_1",
        ),
        raw_payload='{"id": "evt_1"}',
    )
    status, body = admin.call("POST", "/v1/admin/ledger/verify", body={})
    assert (status, body["ok"]) == (200, True)
    assert body["tenants"][0]["entries"] >= 1
    item = next(iter(repositories.account_balances(tenant)))
    item.update(actions=[AccountBalanceItem.debits.set(item.debits + 1)])
    status, body = admin.call("POST", "/v1/admin/ledger/verify", body={})
    assert (status, body["ok"], body["tenants"][0]["ok"]) == (200, False, False)
    assert body["tenants"][0]["problems"]


# --- audit -----------------------------------------------------------------------------------


def test_every_request_is_audited_newest_first_with_who_what_and_outcome(
    admin: Admin, operator_key: repositories.IssuedOperatorKey
) -> None:
    tenant = new_tenant()
    admin.call("GET", "/v1/admin/tenants")
    admin.call("POST", "/v1/admin/tenants/{tenant_id}/suspend", path_params={"tenant_id": tenant})
    admin.call(
        "POST", "/v1/admin/tenants/{tenant_id}/suspend", path_params={"tenant_id": "ten_nope"}
    )
    admin.call("GET", "/v1/admin/search", query={"q": "x" * 300})
    issued = admin.call(
        "POST", "/v1/admin/tenants/{tenant_id}/activate", path_params={"tenant_id": tenant}
    )
    assert issued[0] == 200
    entries = _audit(admin)
    # The listing itself is audited too, but its own entry is written before it reads.
    assert [(e["action"], e["target"], e["status"]) for e in entries] == [
        ("list_audit", None, None),
        ("activate_tenant", tenant, 200),
        ("search", "x" * 200, 400),
        ("suspend_tenant", "ten_nope", 404),
        ("suspend_tenant", tenant, 200),
        ("list_tenants", None, 200),
    ]
    assert {(e["operator_id"], e["operator_name"]) for e in entries} == {
        (operator_key.key.operator_id, "Ops On Call")
    }
    assert entries[1]["method"] == "POST"
    assert entries[1]["path"] == f"/v1/admin/tenants/{tenant}/activate"
    assert entries[1]["at"].endswith("Z")
    assert _audit(admin)[1] == {**entries[0], "status": 200}  # completed after it answered


def test_audit_entries_expire_after_400_days_and_never_hold_a_key(admin: Admin) -> None:
    from datetime import UTC, datetime, timedelta

    tenant = new_tenant()
    status, issued = admin.call(
        "POST", "/v1/admin/tenants/{tenant_id}/api-keys", path_params={"tenant_id": tenant}
    )
    assert status == 201
    [entry] = [i for i in all_items() if i.get("item_type") == "audit"]
    assert entry["pk"] == f"AUDIT#{datetime.now(UTC):%Y-%m}"
    expires = datetime.fromtimestamp(int(entry["ttl"]), UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=400))) < timedelta(minutes=1)
    assert issued["api_key"] not in json.dumps(entry, default=str)


def test_the_audit_log_pages_across_months_with_a_cursor(admin: Admin) -> None:
    from datetime import UTC, datetime, timedelta

    from payments.store import audit

    now = datetime.now(UTC)
    for days in (70, 35, 1):
        audit.begin(
            operator_id="op_1",
            operator_name="Old",
            key_id="okey_1",
            method="GET",
            path="/v1/admin/tenants",
            action="list_tenants",
            target=None,
            now=now - timedelta(days=days),
        )
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, body = admin.call("GET", "/v1/admin/audit", query=query)
        assert status == 200
        assert len(body["data"]) <= 2
        seen += [e["at"] for e in body["data"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen, reverse=True)
    assert len(seen) >= 3 + 1  # the three old ones and at least the first listing itself
    for bad in ("!!", "eyJtIjoiMjAyNi0xMyIsInNrIjoiIn0", "e30", "A" * 2048, "A" * 2049):
        status, body = admin.call("GET", "/v1/admin/audit", query={"cursor": bad})
        assert status == 400, bad
        assert body["error"]["code"] in {"invalid_cursor", "invalid_format", "value_too_long"}


def test_a_request_whose_audit_entry_cannot_be_written_does_nothing(
    admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments.store import audit

    def broken(**_: Any) -> Any:
        raise RuntimeError("table unavailable")

    monkeypatch.setattr(audit, "begin", broken)
    with pytest.raises(RuntimeError):
        admin.call("POST", "/v1/admin/tenants", body={"name": "Ghost"})
    assert repositories.tenants_with_api_keys() == []


def test_a_body_that_is_no_json_is_refused_with_a_code_and_still_audited(admin: Admin) -> None:
    deep = "[" * 5000
    event = _event("POST", "/v1/admin/ledger/verify", context=admin.context)
    event["body"] = deep
    event["headers"]["Content-Type"] = "application/json"
    response = admin.functions.invoke("AdminFunction", event)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "nesting_too_deep"
    entry = _audit(admin)[1]
    assert (entry["action"], entry["target"], entry["status"]) == ("verify_ledger", None, 400)
