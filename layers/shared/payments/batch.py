"""SQS partial batch responses for the queue consumers (callback, notify).

What Powertools' ``BatchProcessor(EventType.SQS)`` with ``process_partial_response`` answered,
without its import cost at every cold start (its batch package imports asyncio and every event
data class of Powertools, about a tenth of the floor: docs/decisions.md):

- each record goes to the record handler in order; a record whose handler raises is reported
  in ``batchItemFailures`` by its ``messageId`` and the others are not held up by it, so SQS
  retries only the failed ones (the queue's maxReceiveCount then sends a poison message to its
  DLQ);
- when every record of the batch failed, the invocation fails (:class:`BatchFailedError`, with
  each record's error and traceback in its message), which makes Lambda return the whole batch
  to the queue as Powertools' ``BatchProcessingError`` did;
- an event without a non-empty ``Records`` list is refused with a ``ValueError``.

The record handler gets the SQS record as Lambda sends it (a mapping: ``record["body"]``).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from typing import Any, TypedDict


class ItemFailure(TypedDict):
    itemIdentifier: str


class BatchResponse(TypedDict):
    batchItemFailures: list[ItemFailure]


class BatchFailedError(Exception):
    """Every record of the batch failed: the invocation fails and Lambda returns the batch."""

    def __init__(self, failures: list[tuple[str, BaseException]]) -> None:
        self.failures = failures
        super().__init__(f"All records failed processing. {len(failures)} individual errors below.")

    def __str__(self) -> str:
        parts = [super().__str__()]
        for message_id, error in self.failures:
            formatted = "".join(traceback.format_exception(error)).rstrip()
            parts.append(f"record {message_id}: {formatted}")
        return "\n".join(parts)


RecordHandler = Callable[[Mapping[str, Any]], object]


def process_sqs_batch(event: Mapping[str, Any], record_handler: RecordHandler) -> BatchResponse:
    """Run ``record_handler`` on every record of an SQS event; the partial batch response."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not records or not isinstance(records, list):
        raise ValueError(
            "Invalid event format: expected an SQS event with a non-empty Records list"
        )
    failures: list[tuple[str, BaseException]] = []
    for record in records:
        try:
            record_handler(record)
        except Exception as error:  # noqa: BLE001 - reported per record, as SQS expects
            failures.append((str(record["messageId"]), error))
    if failures and len(failures) == len(records):
        raise BatchFailedError(failures)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id, _ in failures]}


__all__ = ["BatchFailedError", "BatchResponse", "process_sqs_batch"]
