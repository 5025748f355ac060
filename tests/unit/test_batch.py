"""payments.batch answers SQS batches as Powertools' BatchProcessor(EventType.SQS) with
process_partial_response did (the queue consumers used it before; it cost their cold start)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from payments.batch import BatchFailedError, process_sqs_batch


def _event(*bodies: object) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{number}",
                "receiptHandle": f"r{number}",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for number, body in enumerate(bodies)
        ]
    }


def _handle(body: str, seen: list[object]) -> None:
    value = json.loads(body)
    seen.append(value)
    if value == "poison":
        raise ValueError("not an event")
    if value == "unreachable":
        raise ConnectionError("endpoint down")


def _ours(event: dict[str, Any]) -> tuple[object, list[object]]:
    seen: list[object] = []

    def handler(record: Mapping[str, Any]) -> None:
        _handle(record["body"], seen)

    try:
        return process_sqs_batch(event, handler), seen
    except BatchFailedError:
        return "whole batch failed", seen


def _powertools(event: dict[str, Any]) -> tuple[object, list[object]]:
    seen: list[object] = []

    def handler(record: Any) -> None:
        _handle(record.body, seen)

    try:
        result = process_partial_response(
            event=event, record_handler=handler, processor=BatchProcessor(EventType.SQS)
        )
    except BatchProcessingError:
        return "whole batch failed", seen
    return result, seen


@pytest.mark.parametrize(
    "bodies",
    [
        ("ok",),
        ("ok", "ok", "ok"),
        ("poison",),
        ("poison", "ok"),
        ("ok", "unreachable", "ok", "poison"),
        ("poison", "unreachable"),
    ],
)
def test_the_same_answers_as_powertools(bodies: tuple[str, ...]) -> None:
    event = _event(*bodies)
    assert _ours(event) == _powertools(event)


def test_a_failed_record_is_reported_alone_and_holds_up_nothing() -> None:
    result, seen = _ours(_event("ok", "poison", "ok"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert seen == ["ok", "poison", "ok"]


def test_a_batch_where_every_record_failed_fails_the_invocation_with_every_error() -> None:
    with pytest.raises(BatchFailedError) as raised:
        process_sqs_batch(
            _event("poison", "unreachable"),
            lambda record: _handle(record["body"], []),
        )
    assert [message_id for message_id, _ in raised.value.failures] == ["m0", "m1"]
    text = str(raised.value)
    assert text.startswith("All records failed processing. 2 individual errors below.")
    assert "record m0: Traceback" in text
    assert "ValueError: not an event" in text
    assert "ConnectionError: endpoint down" in text


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": "x"}, {"records": [{}]}])
def test_an_event_that_is_no_sqs_batch_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="SQS event"):
        process_sqs_batch(event, lambda record: None)
