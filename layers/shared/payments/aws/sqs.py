"""Sending to our queues (callback retries, DLQ replay) and how deep they are."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

MAX_DELAY_SECONDS = 900  # SQS's ceiling for a message delay


@cache
def _client() -> Any:
    import boto3

    return boto3.client("sqs")


def send(queue_url: str, body: dict[str, Any], *, delay_seconds: int = 0) -> None:
    _client().send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(body, separators=(",", ":"), sort_keys=True),
        DelaySeconds=max(0, min(delay_seconds, MAX_DELAY_SECONDS)),
    )


def drain(queue_url: str, *, limit: int = 1000) -> Iterator[dict[str, Any]]:
    """Yield up to ``limit`` message bodies from ``queue_url``, deleting each once the caller
    has handled it (a crash leaves the rest, and the current one, in the queue)."""
    client = _client()
    taken = 0
    while taken < limit:
        messages = client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=min(10, limit - taken), WaitTimeSeconds=1
        ).get("Messages", [])
        if not messages:
            return
        for message in messages:
            yield json.loads(message["Body"])
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            taken += 1


def depth(queue_url: str) -> int:
    """The messages waiting in ``queue_url`` (SQS's approximate count of visible ones)."""
    attributes = _client().get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0))
