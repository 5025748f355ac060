"""Creates the template's stateful resources in whatever AWS boto3 points at (moto locally).

Only what the local stack needs is created (KMS keys and aliases, DynamoDB tables, the event
bus, SQS queues, bus rules and their targets, the REST API's record and its usage plans), each
from its own ``Properties`` in `template.yaml`, so local tables have exactly the deployed keys,
indexes, stream and TTL, and local usage plans the deployed throttles.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from devstack.template import ACCOUNT_ID, LocalStack


def provision(stack: LocalStack) -> LocalStack:
    """Create every supported resource of ``stack`` and record its physical ids/attributes."""
    _create_kms(stack)
    _create_tables(stack)
    _create_buses(stack)
    _create_queues(stack)
    _create_rules(stack)
    _create_apis(stack)
    _create_usage_plans(stack)
    return stack


def usage_plan_environment(stack: LocalStack) -> dict[str, str]:
    """What payctl reads from the deployed stack's DefaultUsagePlanId output, locally."""
    plan_id = stack.physical_ids.get("DefaultUsagePlan")
    return {"DEFAULT_USAGE_PLAN_ID": plan_id} if plan_id else {}


def _props(stack: LocalStack, spec: dict[str, Any]) -> dict[str, Any]:
    return dict(stack.resolve(spec.get("Properties") or {}))


def _create_kms(stack: LocalStack) -> None:
    kms = boto3.client("kms", region_name=stack.region)
    for logical_id, spec in stack.resources_of_type("AWS::KMS::Key"):
        properties = spec.get("Properties") or {}
        key = kms.create_key(
            Description=str(properties.get("Description", logical_id)),
            KeyUsage=str(properties.get("KeyUsage", "ENCRYPT_DECRYPT")),
            KeySpec=str(properties.get("KeySpec", "SYMMETRIC_DEFAULT")),
        )["KeyMetadata"]
        if properties.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=key["KeyId"])
        stack.physical_ids[logical_id] = key["KeyId"]
        stack.attributes[(logical_id, "Arn")] = key["Arn"]
        stack.attributes[(logical_id, "KeyId")] = key["KeyId"]
    for logical_id, spec in stack.resources_of_type("AWS::KMS::Alias"):
        properties = _props(stack, spec)
        kms.create_alias(AliasName=properties["AliasName"], TargetKeyId=properties["TargetKeyId"])
        stack.physical_ids[logical_id] = properties["AliasName"]


def _create_tables(stack: LocalStack) -> None:
    dynamodb = boto3.client("dynamodb", region_name=stack.region)
    for logical_id, spec in stack.resources_of_type("AWS::DynamoDB::Table"):
        properties = _props(stack, spec)
        name = properties.get("TableName") or stack.default_name(logical_id)
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": properties["KeySchema"],
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if properties.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = [
                {k: v for k, v in index.items() if k in {"IndexName", "KeySchema", "Projection"}}
                for index in properties["GlobalSecondaryIndexes"]
            ]
        stream = properties.get("StreamSpecification")
        if stream:
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
        sse = properties.get("SSESpecification")
        if sse and sse.get("SSEEnabled"):
            request["SSESpecification"] = {
                "Enabled": True,
                "SSEType": sse.get("SSEType", "KMS"),
                **({"KMSMasterKeyId": sse["KMSMasterKeyId"]} if sse.get("KMSMasterKeyId") else {}),
            }
        table = dynamodb.create_table(**request)["TableDescription"]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        stack.physical_ids[logical_id] = name
        stack.attributes[(logical_id, "Arn")] = table["TableArn"]
        if "LatestStreamArn" in table:
            stack.attributes[(logical_id, "StreamArn")] = table["LatestStreamArn"]


def _create_buses(stack: LocalStack) -> None:
    events = boto3.client("events", region_name=stack.region)
    for logical_id, spec in stack.resources_of_type("AWS::Events::EventBus"):
        name = _props(stack, spec).get("Name") or stack.default_name(logical_id)
        arn = events.create_event_bus(Name=name)["EventBusArn"]
        stack.physical_ids[logical_id] = name
        stack.attributes[(logical_id, "Arn")] = arn
        stack.attributes[(logical_id, "Name")] = name


def _create_queues(stack: LocalStack) -> None:
    sqs = boto3.client("sqs", region_name=stack.region)
    queues = list(stack.resources_of_type("AWS::SQS::Queue"))
    # First every queue, then redrive policies: a DLQ must exist before it is referenced.
    for logical_id, spec in queues:
        properties = spec.get("Properties") or {}
        name = str(stack.resolve(properties.get("QueueName") or stack.default_name(logical_id)))
        attributes = {
            key: str(stack.resolve(properties[key]))
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
            if key in properties
        }
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        stack.physical_ids[logical_id] = url
        stack.attributes[(logical_id, "QueueUrl")] = url
        stack.attributes[(logical_id, "QueueName")] = name
        stack.attributes[(logical_id, "Arn")] = f"arn:aws:sqs:{stack.region}:{ACCOUNT_ID}:{name}"
    for logical_id, spec in queues:
        redrive = (spec.get("Properties") or {}).get("RedrivePolicy")
        if redrive:
            sqs.set_queue_attributes(
                QueueUrl=stack.physical_ids[logical_id],
                Attributes={"RedrivePolicy": json.dumps(stack.resolve(redrive))},
            )


def _create_rules(stack: LocalStack) -> None:
    events = boto3.client("events", region_name=stack.region)
    for logical_id, spec in stack.resources_of_type("AWS::Events::Rule"):
        properties = _props(stack, spec)
        if "EventPattern" not in properties:
            continue  # scheduled rules have no local counterpart (yet)
        name = properties.get("Name") or stack.default_name(logical_id)
        bus = properties.get("EventBusName", "default")
        arn = events.put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=json.dumps(properties["EventPattern"]),
            State=properties.get("State", "ENABLED"),
        )["RuleArn"]
        targets = [
            {"Id": target["Id"], "Arn": target["Arn"]} for target in properties.get("Targets", [])
        ]
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        stack.physical_ids[logical_id] = name
        stack.attributes[(logical_id, "Arn")] = arn


def _create_apis(stack: LocalStack) -> None:
    """A REST API record per SAM API: usage plans name its id and stage. The devstack's
    gateway (devstack/gateway.py) serves the routes; moto only holds the record."""
    apigateway = boto3.client("apigateway", region_name=stack.region)
    for logical_id, spec in stack.resources_of_type("AWS::Serverless::Api"):
        properties = spec.get("Properties") or {}
        api = apigateway.create_rest_api(
            name=str(stack.resolve(properties.get("Name") or stack.default_name(logical_id))),
            apiKeySource=str(stack.resolve(properties.get("ApiKeySourceType", "HEADER"))),
        )
        stack.physical_ids[logical_id] = api["id"]
        # SAM's `!Ref <Api>.Stage` is the name of the API's stage.
        stack.physical_ids[f"{logical_id}.Stage"] = str(
            stack.resolve(properties.get("StageName", "dev"))
        )


def _create_usage_plans(stack: LocalStack) -> None:
    apigateway = boto3.client("apigateway", region_name=stack.region)
    for logical_id, spec in stack.resources_of_type("AWS::ApiGateway::UsagePlan"):
        properties = _props(stack, spec)
        request: dict[str, Any] = {
            "name": properties.get("UsagePlanName") or stack.default_name(logical_id),
            "description": properties.get("Description", ""),
            "apiStages": [
                {"apiId": stage["ApiId"], "stage": stage["Stage"]}
                for stage in properties.get("ApiStages", [])
            ],
        }
        throttle = properties.get("Throttle")
        if throttle:
            request["throttle"] = {
                "rateLimit": float(throttle["RateLimit"]),
                "burstLimit": int(throttle["BurstLimit"]),
            }
        stack.physical_ids[logical_id] = apigateway.create_usage_plan(**request)["id"]
