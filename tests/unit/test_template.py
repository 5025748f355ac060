"""template.yaml and the code agree: routes, indexes, runtime and least privilege."""

from __future__ import annotations

from typing import Any

from devstack.template import LocalStack, load_template
from payments.store.models import PaymentItem

TEMPLATE = load_template()
STACK = LocalStack(TEMPLATE)


def _resource(logical_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = TEMPLATE["Resources"][logical_id]
    return resource


def test_functions_run_python313_on_arm64_with_tracing_and_the_shared_layer() -> None:
    function_globals = TEMPLATE["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"
    assert function_globals["Layers"] == [{"Ref": "SharedLayer"}]
    for logical_id, spec in STACK.functions().items():
        properties = spec["Properties"]
        assert "Runtime" not in properties, logical_id
        assert spec["Metadata"]["BuildMethod"] == "makefile", logical_id
        assert (STACK.function_code_dir(logical_id) / "app.py").exists(), logical_id


def test_routes_come_from_the_template_with_auth_everywhere_but_health() -> None:
    routes = {(r.method, r.path): r for r in STACK.api_routes()}
    assert set(routes) >= {
        ("GET", "/v1/payments/{payment_id}"),
        ("GET", "/v1/payments"),
        ("GET", "/v1/health"),
    }
    assert not routes[("GET", "/v1/health")].authorized
    assert all(r.authorized for key, r in routes.items() if key[1] != "/v1/health")
    assert STACK.authorizer_function() == "AuthorizerFunction"
    assert STACK.authorizer_ttl() == 300


def test_table_indexes_match_the_pynamodb_models() -> None:
    table = _resource("PaymentsTable")["Properties"]
    declared = {
        index["IndexName"]: [k["AttributeName"] for k in index["KeySchema"]]
        for index in table["GlobalSecondaryIndexes"]
    }
    modelled = {
        index.Meta.index_name: [k["AttributeName"] for k in index._get_schema()["key_schema"]]
        for index in (
            PaymentItem.payable_index,
            PaymentItem.provider_ref_index,
            PaymentItem.pending_index,
        )
    }
    assert declared == modelled
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "PaymentsKey"}


def test_outbox_pipe_passes_only_inserted_outbox_items() -> None:
    pipe = _resource("OutboxPipe")["Properties"]
    filters = pipe["SourceParameters"]["FilterCriteria"]["Filters"]
    assert len(filters) == 1
    assert '"item_type":{"S":["outbox"]}' in filters[0]["Pattern"].replace(" ", "")


def test_no_function_policy_grants_a_wildcard_resource() -> None:
    for logical_id, spec in STACK.functions().items():
        for policy in spec["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                assert statement.get("Resource") != "*", logical_id
                assert "*" not in str(statement.get("Action")), logical_id


def test_health_function_has_no_data_access() -> None:
    assert "Policies" not in _resource("HealthFunction")["Properties"]
