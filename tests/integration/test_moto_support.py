"""moto's transactions undone item by item: the same writes, refusals and undo as moto's
whole-table copies."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import Table

from devstack.template import LocalStack


def _items(table: str) -> list[dict[str, Any]]:
    return sorted(
        boto3.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"],
        key=repr,
    )


def _stream_records(stack: LocalStack) -> int:
    streams = boto3.client("dynamodbstreams")
    arn = stack.attributes[("PaymentsTable", "StreamArn")]
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return len(streams.get_records(ShardIterator=iterator)["Records"])


def _transaction(stack: LocalStack, *, last_condition_holds: bool) -> list[dict[str, Any]]:
    payments = stack.physical_ids["PaymentsTable"]
    idempotency = stack.physical_ids["IdempotencyTable"]
    return [
        *(
            {"Put": {"TableName": payments, "Item": {"pk": {"S": "P#1"}, "sk": {"S": f"L#{n}"}}}}
            for n in range(4)
        ),
        {
            "Update": {
                "TableName": payments,
                "Key": {"pk": {"S": "P#1"}, "sk": {"S": "PAYMENT"}},
                "UpdateExpression": "SET #s = :s",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":s": {"S": "succeeded"}},
            }
        },
        {"Put": {"TableName": idempotency, "Item": {"id": {"S": "op-1"}}}},
        {
            "ConditionCheck": {
                "TableName": payments,
                "Key": {"pk": {"S": "T#1"}, "sk": {"S": "TENANT"}},
                "ConditionExpression": "attribute_exists(pk)"
                if last_condition_holds
                else "attribute_not_exists(pk)",
            }
        },
    ]


def _seed(stack: LocalStack) -> None:
    for item in (
        {"pk": {"S": "T#1"}, "sk": {"S": "TENANT"}},
        {"pk": {"S": "P#1"}, "sk": {"S": "PAYMENT"}, "status": {"S": "pending"}},
    ):
        boto3.client("dynamodb").put_item(TableName=stack.physical_ids["PaymentsTable"], Item=item)


def test_a_cancelled_transaction_leaves_every_table_and_the_stream_as_they_were(
    aws: LocalStack,
) -> None:
    _seed(aws)
    payments, idempotency = (aws.physical_ids[t] for t in ("PaymentsTable", "IdempotencyTable"))
    before = (_items(payments), _items(idempotency), _stream_records(aws))

    with pytest.raises(ClientError, match="TransactionCanceled"):
        boto3.client("dynamodb").transact_write_items(
            TransactItems=_transaction(aws, last_condition_holds=False)
        )

    assert (_items(payments), _items(idempotency), _stream_records(aws)) == before


def test_a_committed_transaction_writes_every_item_and_streams_each_write(
    aws: LocalStack,
) -> None:
    _seed(aws)
    payments, idempotency = (aws.physical_ids[t] for t in ("PaymentsTable", "IdempotencyTable"))

    boto3.client("dynamodb").transact_write_items(
        TransactItems=_transaction(aws, last_condition_holds=True)
    )

    assert sorted(item["sk"]["S"] for item in _items(payments)) == [
        *(f"L#{n}" for n in range(4)),
        "PAYMENT",
        "TENANT",
    ]
    [payment] = [item for item in _items(payments) if item["sk"]["S"] == "PAYMENT"]
    assert payment["status"] == {"S": "succeeded"}
    assert _items(idempotency) == [{"id": {"S": "op-1"}}]
    assert _stream_records(aws) == 2 + 5  # the seeds, four puts and the update


def test_a_cancelled_delete_and_a_refused_duplicate_key_are_undone_too(aws: LocalStack) -> None:
    _seed(aws)
    payments = aws.physical_ids["PaymentsTable"]
    client = boto3.client("dynamodb")
    before = (_items(payments), _stream_records(aws))
    delete = {
        "Delete": {"TableName": payments, "Key": {"pk": {"S": "P#1"}, "sk": {"S": "PAYMENT"}}}
    }
    put_new = {"Put": {"TableName": payments, "Item": {"pk": {"S": "P#2"}, "sk": {"S": "PAYMENT"}}}}

    failing_check = _transaction(aws, last_condition_holds=False)[-1]
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(TransactItems=[delete, put_new, failing_check])
    assert (_items(payments), _stream_records(aws)) == before

    # moto writes the first item before it finds the second naming the same key.
    same_key_again = {
        "Update": {
            "TableName": payments,
            "Key": {"pk": {"S": "P#2"}, "sk": {"S": "PAYMENT"}},
            "UpdateExpression": "SET amount = :a",
            "ExpressionAttributeValues": {":a": {"N": "1"}},
        }
    }
    with pytest.raises(ClientError, match="ValidationException"):
        client.transact_write_items(TransactItems=[put_new, same_key_again])
    assert (_items(payments), _stream_records(aws)) == before


def test_no_table_is_copied_for_the_rollback(
    aws: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(aws)
    copied: list[str] = []
    deepcopy = copy.deepcopy

    def counting(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, Table):
            copied.append(value.name)
        return deepcopy(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)

    with pytest.raises(ClientError, match="TransactionCanceled"):
        boto3.client("dynamodb").transact_write_items(
            TransactItems=_transaction(aws, last_condition_holds=False)
        )

    # moto alone copies the payments table six times (once per item naming it), whole.
    assert copied == []
