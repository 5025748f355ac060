"""template.yaml and the code agree: routes, indexes, runtime and least privilege."""

from __future__ import annotations

import json
import re
from typing import Any

from devstack.template import LocalStack, load_template
from payments.store.models import InboxItem, PaymentItem

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


def test_routes_come_from_the_template_with_auth_everywhere_but_health_docs_and_dashboard() -> None:
    routes = {(r.method, r.path): r for r in STACK.api_routes()}
    open_routes = {
        ("GET", "/v1/health"),
        ("GET", "/v1/openapi.json"),
        ("GET", "/v1/docs"),
        ("GET", "/v1/docs/{asset}"),
        ("GET", "/dashboard"),
        ("GET", "/dashboard/assets/{asset}"),
    }
    assert set(routes) >= {("GET", "/v1/payments/{payment_id}"), ("GET", "/v1/payments")}
    assert set(routes) >= open_routes
    assert all(not routes[key].authorized for key in open_routes)
    assert all(r.authorized for key, r in routes.items() if key not in open_routes)


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
            InboxItem.inbox_index,
            PaymentItem.log_index,
        )
    }
    assert declared == modelled
    # The inbox index carries what a list shows, never the raw payloads.
    inbox = next(i for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == "inbox-index")
    assert inbox["Projection"]["ProjectionType"] == "INCLUDE"
    assert sorted(inbox["Projection"]["NonKeyAttributes"]) == sorted(
        InboxItem.inbox_index._get_schema()["projection"]["NonKeyAttributes"]
    )
    assert "payload" not in inbox["Projection"]["NonKeyAttributes"]
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


# --- logs and audit ----------------------------------------------------------------------------


def _retained_log_group(value: Any, where: str) -> str:
    """The logical id of the log group ``value`` refers to; it expires after LogRetentionDays."""
    assert isinstance(value, dict), where
    target = value.get("Ref") or (value.get("Fn::GetAtt") or [None])[0]
    group = TEMPLATE["Resources"].get(str(target)) or {}
    assert group.get("Type") == "AWS::Logs::LogGroup", where
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, where
    return str(target)


def test_logs_expire_after_a_retention_the_deployer_chooses() -> None:
    retention = TEMPLATE["Parameters"]["LogRetentionDays"]
    assert retention["Default"] == 90
    assert retention["Default"] in retention["AllowedValues"]  # CloudWatch's own values


def test_every_function_logs_to_a_log_group_of_its_own_with_retention() -> None:
    # Without LoggingConfig Lambda creates /aws/lambda/<name> itself, kept forever.
    groups = []
    for logical_id, spec in STACK.functions().items():
        logging_config = spec["Properties"].get("LoggingConfig") or {}
        groups.append(_retained_log_group(logging_config.get("LogGroup"), logical_id))
    assert len(set(groups)) == len(groups)


ACCESS_LOG = _resource("PaymentsApi")["Properties"]["AccessLogSetting"]


def test_api_access_log_goes_to_a_log_group_with_retention() -> None:
    _retained_log_group(ACCESS_LOG["DestinationArn"], "PaymentsApi")


def test_api_access_log_is_one_json_line_with_request_id_tenant_route_status_latency() -> None:
    log_format = ACCESS_LOG["Format"]
    assert "\n" not in log_format
    variables = set(re.findall(r"\$context\.[A-Za-z0-9_.]*[A-Za-z0-9_]", log_format))
    assert variables >= {
        "$context.requestId",  # = the correlation_id of a 500 and the function log's
        "$context.authorizer.tenant_id",
        "$context.authorizer.key_id",
        "$context.resourcePath",
        "$context.status",
        "$context.responseLatency",
        "$context.integrationLatency",
        "$context.error.message",
    }
    # Every variable quoted: API Gateway writes "-" for a missing one, and the line stays JSON.
    line = json.loads(re.sub(r"\$context\.[A-Za-z0-9_.]*[A-Za-z0-9_]", "-", log_format))
    assert all(value == "-" for value in line.values())
    assert len(line) == len(variables)


def test_api_access_log_carries_no_body_no_header_and_no_key() -> None:
    log_format = ACCESS_LOG["Format"]
    for forbidden in (
        "$input",  # the request body
        "$method.request",  # headers, query string
        "$context.identity.apiKey",  # the usage key API Gateway meters under (and its id)
        "$context.requestOverride",
        "$context.responseOverride",
        "Authorization",
    ):
        assert forbidden not in log_format


def test_the_stage_waits_for_the_account_cloudwatch_role_it_needs_to_log() -> None:
    account = _resource("ApiGatewayAccount")
    assert account["Condition"] == "ManagesApiGatewayAccount"
    assert account["DeletionPolicy"] == "Retain"
    role = _resource(account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0])
    assert role["DeletionPolicy"] == "Retain"
    tags = _resource("PaymentsApi")["Properties"]["Tags"]
    assert {"Ref": "ApiGatewayAccount"} in next(iter(tags.values()))["Fn::If"]


# --- concurrency -------------------------------------------------------------------------------


def _anonymous_entry_points() -> set[str]:
    """Functions a caller without an API key can make run: public function URLs, routes
    without the authorizer, and the authorizer itself (any Authorization header runs it)."""
    reachable = {r.function for r in STACK.api_routes() if not r.authorized}
    for logical_id, spec in STACK.functions().items():
        url = spec["Properties"].get("FunctionUrlConfig") or {}
        if url and url.get("AuthType") == "NONE":
            reachable.add(logical_id)
    reachable.add(str(STACK.authorizer_function()))
    return reachable


def test_functions_an_anonymous_caller_reaches_have_reserved_concurrency() -> None:
    reachable = _anonymous_entry_points()
    assert reachable >= {"WebhookStripeFunction", "HealthFunction", "AuthorizerFunction"}
    for logical_id in reachable:
        reserved = _resource(logical_id)["Properties"].get("ReservedConcurrentExecutions")
        assert isinstance(reserved, dict), logical_id
        parameter = TEMPLATE["Parameters"][reserved["Ref"]]
        assert parameter["Type"] == "Number", logical_id
        assert parameter["MinValue"] >= 1, logical_id
        assert 1 <= parameter["Default"] <= 50, logical_id
    for spec in STACK.functions().values():
        if spec["Properties"].get("FunctionUrlConfig"):  # every provider webhook, one knob
            assert spec["Properties"]["ReservedConcurrentExecutions"] == {
                "Ref": "WebhookReservedConcurrency"
            }


def test_functions_only_a_tenant_or_aws_reaches_share_the_account_pool() -> None:
    for logical_id, spec in STACK.functions().items():
        if logical_id not in _anonymous_entry_points():
            assert "ReservedConcurrentExecutions" not in spec["Properties"], logical_id


# --- checkov -----------------------------------------------------------------------------------


def test_every_checkov_skip_names_a_check_and_gives_its_reason() -> None:
    skipped = 0
    for logical_id, spec in TEMPLATE["Resources"].items():
        for skip in ((spec.get("Metadata") or {}).get("checkov") or {}).get("skip", []):
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), logical_id
            comment = skip.get("comment")
            assert isinstance(comment, str), (logical_id, skip["id"])
            assert len(comment) >= 20, (logical_id, skip["id"])
            skipped += 1
    assert skipped > 0


def test_the_notify_rule_routes_exactly_the_events_that_send_emails() -> None:
    from payments.services.notifications import OMNISEND_EVENTS

    pattern = _resource("NotifyRule")["Properties"]["EventPattern"]
    assert pattern["source"] == ["payments"]
    assert sorted(pattern["detail-type"]) == sorted(OMNISEND_EVENTS)
    assert set(OMNISEND_EVENTS) == {
        "payment.succeeded",
        "trade.succeeded",
        "trade.settled",
        "profile.registered",
    }


def test_payctl_lets_exactly_the_neobank_signing_functions_use_a_kms_key() -> None:
    from payctl.main import NEOBANK_SIGNING_FUNCTIONS

    signing = {
        logical_id
        for logical_id, spec in STACK.functions().items()
        if {"Ref": "NeobankSigningPolicy"} in spec["Properties"].get("Policies", [])
    }
    assert signing == set(NEOBANK_SIGNING_FUNCTIONS)
    condition = _resource("NeobankSigningPolicy")["Properties"]["PolicyDocument"]["Statement"][0][
        "Condition"
    ]["StringEquals"]
    # The tag `credentials set --create-kms-key` puts on the key.
    assert condition["aws:ResourceTag/payments-stack"] == {"Ref": "AWS::StackName"}
