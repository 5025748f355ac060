"""Small builders shared by the integration tests (through the real services)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from typer.testing import CliRunner

from devstack.http_server import LocalServer, Responder
from devstack.template import LocalStack
from payments.config import get_settings
from payments.domain.payment import Customer, Payment
from payments.services.transitions import create_payment
from payments.store import repositories


def new_tenant(name: str = "Salon") -> str:
    return repositories.create_tenant(name).tenant_id


def new_payment(tenant_id: str, *, payable_id: str = "bk_1001", amount: int = 2500) -> Payment:
    return create_payment(
        tenant_id=tenant_id,
        payable_type="booking",
        payable_id=payable_id,
        amount=amount,
        currency="KES",
        provider="stripe",
        description="Haircut",
        customer=Customer(email="c@example.com"),
    )


def all_items() -> list[dict[str, Any]]:
    """Every item of the payments table, as stored (to prove what a change wrote)."""
    table = boto3.resource("dynamodb").Table(get_settings().payments_table_name)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def items_of_type(item_type: str) -> list[dict[str, Any]]:
    return [item for item in all_items() if item.get("item_type") == item_type]


def moto_stack(
    aws: LocalStack,
    name: str,
    resources: dict[str, Any] | None = None,
    **extra_outputs: str,
) -> Iterator[str]:
    """A CloudFormation stack in moto whose outputs name the resources `aws` created, as
    `payctl --stack` reads them (plus ``resources``, which moto creates); the environment
    payctl changes is restored afterwards."""
    outputs = {
        "PaymentsTableName": aws.physical_ids["PaymentsTable"],
        "IdempotencyTableName": aws.physical_ids["IdempotencyTable"],
        "EventBusName": aws.physical_ids["PaymentsEventBus"],
        "KmsKeyArn": aws.attributes[("PaymentsKey", "Arn")],
        "SecretsPrefix": "payments/dev/",
        "CallbackQueueUrl": aws.physical_ids["CallbackQueue"],
        "CallbackDLQUrl": aws.physical_ids["CallbackDLQ"],
        **extra_outputs,
    }
    template = {
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue"}, **(resources or {})},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    saved = dict(os.environ)
    yield name
    os.environ.clear()
    os.environ.update(saved)


def run_payctl(stack: str, *args: str) -> tuple[int, str]:
    """payctl --stack STACK ARGS..., in-process: (exit code, output)."""
    from payctl.main import app

    result = CliRunner().invoke(app, ["--stack", stack, "--region", "us-east-1", *args])
    return result.exit_code, result.output


@contextmanager
def served_locally(responder: Responder, name: str = "receiver") -> Iterator[str]:
    """``responder`` served on a free loopback port for the block: yields its base URL."""
    server = LocalServer(responder, "127.0.0.1", 0, name=name)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()
