"""The `aws` fixture's account, put back from the session's snapshot, is the provisioned one."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
from moto import mock_aws
from moto.iam.models import iam_backends

from devstack.provision import provision
from devstack.template import ACCOUNT_ID, LocalStack, load_template
from tests.integration.conftest import ProvisionedAccount
from tests.integration.moto_state import MotoSnapshot


def _account() -> dict[str, Any]:
    """What the account holds, as the AWS APIs describe it (message counts included)."""
    dynamodb = boto3.client("dynamodb")
    streams = boto3.client("dynamodbstreams")
    tables: dict[str, Any] = {}
    for name in dynamodb.list_tables()["TableNames"]:
        table = dynamodb.describe_table(TableName=name)["Table"]
        stream_records = None
        if "LatestStreamArn" in table:
            [shard] = streams.describe_stream(StreamArn=table["LatestStreamArn"])[
                "StreamDescription"
            ]["Shards"]
            iterator = streams.get_shard_iterator(
                StreamArn=table["LatestStreamArn"],
                ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
            stream_records = len(streams.get_records(ShardIterator=iterator)["Records"])
        tables[name] = {
            "table": table,
            "ttl": dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"],
            "items": dynamodb.scan(TableName=name)["Items"],
            "stream_records": stream_records,
        }
    sqs = boto3.client("sqs")
    queues = {
        url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for url in sqs.list_queues().get("QueueUrls", [])
    }
    events = boto3.client("events")
    buses = {}
    for bus in events.list_event_buses()["EventBuses"]:
        rules = events.list_rules(EventBusName=bus["Name"])["Rules"]
        buses[bus["Name"]] = {
            rule["Name"]: {
                "rule": rule,
                "targets": events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus["Name"])[
                    "Targets"
                ],
            }
            for rule in rules
        }
    kms = boto3.client("kms")
    keys = {
        key["KeyId"]: kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        for key in kms.list_keys()["Keys"]
    }
    apigateway = boto3.client("apigateway")
    plans = apigateway.get_usage_plans()["items"]
    return {
        "tables": tables,
        "queues": queues,
        "buses": buses,
        "keys": keys,
        "aliases": kms.list_aliases()["Aliases"],
        "apis": apigateway.get_rest_apis()["items"],
        "usage_plans": plans,
        "usage_plan_keys": {
            plan["id"]: apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
            for plan in plans
        },
        "api_keys": apigateway.get_api_keys()["items"],
        "secrets": boto3.client("secretsmanager").list_secrets()["SecretList"],
        "stacks": boto3.client("cloudformation").list_stacks()["StackSummaries"],
    }


def _use_everything(stack: LocalStack) -> None:
    """What tests leave behind: items, stream records, messages, secrets, keys, API keys,
    changed throttles, new rules and stacks."""
    dynamodb = boto3.client("dynamodb")
    for table in ("PaymentsTable", "IdempotencyTable"):
        key = "id" if table == "IdempotencyTable" else None
        item = {key: {"S": "x"}} if key else {"pk": {"S": "TENANT#t"}, "sk": {"S": "TENANT"}}
        dynamodb.put_item(TableName=stack.physical_ids[table], Item=item)
    sqs = boto3.client("sqs")
    for url in sqs.list_queues()["QueueUrls"]:
        sqs.send_message(QueueUrl=url, MessageBody="left over")
    events = boto3.client("events")
    bus = stack.physical_ids["PaymentsEventBus"]
    events.put_events(
        Entries=[
            {
                "EventBusName": bus,
                "Source": "payments",
                "DetailType": "payment.succeeded",
                "Detail": json.dumps({"tenant_id": "t"}),
            }
        ]
    )
    events.put_rule(Name="extra", EventBusName=bus, EventPattern=json.dumps({"source": ["x"]}))
    boto3.client("secretsmanager").create_secret(Name="payments/dev/t/stripe", SecretString="s")
    kms = boto3.client("kms")
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/extra", TargetKeyId=key_id)
    kms.disable_key(KeyId=stack.physical_ids["PaymentsKey"])
    apigateway = boto3.client("apigateway")
    plan = stack.physical_ids["DefaultUsagePlan"]
    api_key = apigateway.create_api_key(name="t", enabled=True)["id"]
    apigateway.create_usage_plan_key(usagePlanId=plan, keyId=api_key, keyType="API_KEY")
    apigateway.update_usage_plan(
        usagePlanId=plan,
        patchOperations=[{"op": "replace", "path": "/throttle/rateLimit", "value": "1"}],
    )
    boto3.client("cloudformation").create_stack(
        StackName="left-over",
        TemplateBody=json.dumps({"Resources": {"Marker": {"Type": "AWS::SQS::Queue"}}}),
    )


def test_restoring_puts_back_the_account_as_it_was_taken() -> None:
    with mock_aws():
        stack = provision(LocalStack(load_template()))
        provisioned = _account()
        snapshot = MotoSnapshot.take()
        _use_everything(stack)
        used = _account()

        snapshot.restore()

        assert _account() == provisioned
        # The comparison sees what tests change (or it would prove nothing).
        for part in ("tables", "queues", "buses", "keys", "aliases"):
            assert used[part] != provisioned[part], part
        for part in ("usage_plans", "usage_plan_keys", "api_keys", "secrets", "stacks"):
            assert used[part] != provisioned[part], part


def test_a_restored_account_can_be_used_and_restored_again() -> None:
    with mock_aws():
        stack = provision(LocalStack(load_template()))
        provisioned = _account()
        snapshot = MotoSnapshot.take()
        for _ in range(3):
            snapshot.restore()
            _use_everything(stack)
        snapshot.restore()

        assert _account() == provisioned


def test_each_test_gets_the_provisioned_account(
    aws: LocalStack, provisioned_account: ProvisionedAccount
) -> None:
    provisioned = _account()
    assert aws.physical_ids == provisioned_account.stack.physical_ids
    assert provisioned["secrets"] == provisioned["api_keys"] == provisioned["stacks"] == []
    assert all(not table["items"] for table in provisioned["tables"].values())
    assert set(provisioned["queues"]) == {
        aws.physical_ids[logical_id] for logical_id, _ in aws.resources_of_type("AWS::SQS::Queue")
    }
    _use_everything(aws)

    provisioned_account.snapshot.restore()

    assert _account() == provisioned


def test_restored_models_point_at_the_restored_backends(aws: LocalStack) -> None:
    # moto's IAM keeps its account summary pointing back at its own backend.
    iam = iam_backends[ACCOUNT_ID]["aws"]
    assert iam.account_summary._iam_backend is iam


def test_a_restored_queue_wakes_a_long_poll_when_a_message_arrives(aws: LocalStack) -> None:
    sqs = boto3.client("sqs")
    url = aws.physical_ids["CallbackQueue"]
    sender = threading.Timer(0.3, lambda: sqs.send_message(QueueUrl=url, MessageBody="late"))
    sender.start()
    try:
        received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)
    finally:
        sender.join()

    assert [message["Body"] for message in received["Messages"]] == ["late"]


def test_a_test_changing_its_stack_leaves_the_next_tests_stack_alone(
    aws: LocalStack, provisioned_account: ProvisionedAccount
) -> None:
    aws.physical_ids["PaymentsTable"] = "elsewhere"
    aws.template["Resources"].clear()

    fresh = provisioned_account.stack_copy()

    assert fresh.physical_ids["PaymentsTable"] != "elsewhere"
    assert fresh.resources
