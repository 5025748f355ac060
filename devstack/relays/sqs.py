"""SQS event sources: each function's ``Type: SQS`` event, polled as Lambda polls it."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3

from devstack.relays.patterns import matches
from devstack.relays.poller import FunctionInvoker, Poller, resolve_queue_url
from devstack.template import LocalStack

logger = logging.getLogger(__name__)

_SQS_MAX_MESSAGES = 10  # per ReceiveMessage / DeleteMessageBatch call


@dataclass(frozen=True)
class SqsEventSource:
    """One function's ``Type: SQS`` event (an event source mapping), resolved."""

    function: str
    event_name: str
    queue_arn: str
    batch_size: int = 10
    maximum_batching_window: float = 0.0
    report_batch_item_failures: bool = False
    filters: tuple[Mapping[str, Any], ...] = ()
    enabled: bool = True


def sqs_event_sources(stack: LocalStack) -> list[SqsEventSource]:
    sources: list[SqsEventSource] = []
    for function, resource in stack.functions().items():
        events = (resource.get("Properties") or {}).get("Events") or {}
        for event_name, event in events.items():
            if event.get("Type") != "SQS":
                continue
            properties = stack.resolve(event.get("Properties") or {})
            filters = (properties.get("FilterCriteria") or {}).get("Filters") or []
            sources.append(
                SqsEventSource(
                    function=function,
                    event_name=event_name,
                    queue_arn=str(properties["Queue"]),
                    batch_size=int(properties.get("BatchSize", 10)),
                    maximum_batching_window=float(
                        properties.get("MaximumBatchingWindowInSeconds", 0)
                    ),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (properties.get("FunctionResponseTypes") or []),
                    filters=tuple(json.loads(f["Pattern"]) for f in filters if f.get("Pattern")),
                    enabled=bool(properties.get("Enabled", True)),
                )
            )
    return sources


class SqsPoller(Poller):
    """Lambda's SQS poller for one event source: receive a batch, invoke the function with the
    SQS event, delete what succeeded. Failed messages stay in the queue and come back after
    their visibility timeout (``visibility_timeout_override`` shortens that for tests); the
    queue's redrive policy moves them to its DLQ after ``maxReceiveCount`` receives."""

    def __init__(
        self,
        source: SqsEventSource,
        functions: FunctionInvoker,
        *,
        region: str,
        wait_time_seconds: int = 1,
        visibility_timeout_override: int | None = None,
    ) -> None:
        # The receive itself waits (long polling); a short poll must not spin.
        super().__init__(idle_wait=0.0 if wait_time_seconds > 0 else 0.05)
        self.source = source
        self.name = f"sqs {source.function}.{source.event_name}"
        self.wait_time_seconds = wait_time_seconds
        self.visibility_timeout_override = visibility_timeout_override
        self._functions = functions
        self._region = region
        self._sqs = boto3.client("sqs", region_name=region)
        self.queue_url = resolve_queue_url(self._sqs, source.queue_arn)
        self._busy = threading.Event()
        self.invocations = 0
        self.deleted = 0
        self.failed = 0

    def poll_once(self) -> int:
        """Receive one batch and hand it to the function; returns how many messages it held."""
        messages = self._receive_batch()
        if not messages:
            return 0
        # Until now the batch was visible to drain() as in-flight messages; from here on, also
        # as a batch in hand (the deletes below empty the queue before the handling is done).
        self._busy.set()
        try:
            self._handle(messages)
        finally:
            self._busy.clear()
        return len(messages)

    def is_idle(self) -> bool:
        """No batch in hand and nothing in the queue: visible, in flight or delayed."""
        if self._busy.is_set():
            return False
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return not self._busy.is_set() and all(int(v) == 0 for v in attributes.values())

    def _receive_batch(self) -> list[dict[str, Any]]:
        batch_size = max(self.source.batch_size, 1)
        messages = self._receive(batch_size, self.wait_time_seconds)
        window = self.source.maximum_batching_window
        if not messages or window <= 0:
            return messages
        deadline = time.monotonic() + window
        while len(messages) < batch_size and not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait = int(min(remaining, self.wait_time_seconds))
            more = self._receive(batch_size - len(messages), wait)
            if not more and wait == 0:
                self._stopping.wait(min(remaining, 0.05))
            messages.extend(more)
        return messages

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(count, _SQS_MAX_MESSAGES),
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages") or [])

    def sqs_event(self, messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The event Lambda's SQS integration passes to the function."""
        return {"Records": [self._record(message) for message in messages]}

    def _record(self, message: Mapping[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": {
                name: _lambda_message_attribute(value)
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.source.queue_arn,
            "awsRegion": self._region,
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _handle(self, messages: list[dict[str, Any]]) -> None:
        if self.source.filters:
            # Lambda deletes messages its filter criteria reject, without invoking.
            rejected = [m for m in messages if not self._passes_filters(m)]
            if rejected:
                self._delete(rejected)
                messages = [m for m in messages if m not in rejected]
            if not messages:
                return
        self.invocations += 1
        try:
            response = self._functions.invoke(self.source.function, self.sqs_event(messages))
        except Exception:
            logger.exception(
                "%s: function failed on a batch of %d message(s); they return after the "
                "visibility timeout",
                self.name,
                len(messages),
            )
            failed_ids = {str(m["MessageId"]) for m in messages}
        else:
            failed_ids = self._failed_ids(response, messages)
        succeeded = [m for m in messages if m["MessageId"] not in failed_ids]
        failed = [m for m in messages if m["MessageId"] in failed_ids]
        self._delete(succeeded)
        if failed:
            self.failed += len(failed)
            logger.warning(
                "%s: %d of %d message(s) failed and will be retried: %s",
                self.name,
                len(failed),
                len(messages),
                ", ".join(str(m["MessageId"]) for m in failed),
            )
            self._release(failed)

    def _failed_ids(self, response: Any, messages: Sequence[Mapping[str, Any]]) -> set[str]:
        """Which messages failed, read the way Lambda reads a function's response."""
        every_id = {str(m["MessageId"]) for m in messages}
        if not self.source.report_batch_item_failures or response is None:
            return set()
        if not isinstance(response, Mapping):
            logger.warning(
                "%s: response %r is not an object: whole batch failed", self.name, response
            )
            return every_id
        failures = response.get("batchItemFailures")
        if not failures:
            return set()
        failed: set[str] = set()
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
            if not isinstance(identifier, str) or identifier not in every_id:
                # Lambda's rule: one malformed or unknown identifier fails the whole batch.
                logger.warning(
                    "%s: batchItemFailures entry %r names no message of the batch: whole "
                    "batch failed",
                    self.name,
                    failure,
                )
                return every_id
            failed.add(identifier)
        return failed

    def _passes_filters(self, message: Mapping[str, Any]) -> bool:
        record = self._record(message)
        try:
            body = json.loads(record["body"])
        except ValueError:
            body = None
        if isinstance(body, dict):
            record["body"] = body
        return any(matches(f, record) for f in self.source.filters)

    def _delete(self, messages: Sequence[Mapping[str, Any]]) -> None:
        for start in range(0, len(messages), _SQS_MAX_MESSAGES):
            chunk = messages[start : start + _SQS_MAX_MESSAGES]
            response = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed") or []:
                logger.error("%s: could not delete a handled message: %s", self.name, failure)
            self.deleted += len(response.get("Successful") or [])

    def _release(self, messages: Sequence[Mapping[str, Any]]) -> None:
        if self.visibility_timeout_override is None:
            return
        for start in range(0, len(messages), _SQS_MAX_MESSAGES):
            chunk = messages[start : start + _SQS_MAX_MESSAGES]
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {
                        "Id": str(i),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self.visibility_timeout_override,
                    }
                    for i, m in enumerate(chunk)
                ],
            )


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    attribute["stringListValues"] = list(value.get("StringListValues") or [])
    attribute["binaryListValues"] = [
        base64.b64encode(v).decode("ascii") for v in value.get("BinaryListValues") or []
    ]
    attribute["dataType"] = value["DataType"]
    return attribute
