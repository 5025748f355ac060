"""Pipes: each ``AWS::Pipes::Pipe`` from a DynamoDB stream to an event bus, played locally.

(bus -> SQS is moto's own: ``PutEvents`` delivers to the SQS targets of matching rules.)
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

# moto rolls a failed TransactWriteItems back by swapping in a deep copy of the table, stream
# shard included, after applying the transaction's puts to the live one. A stream read racing
# that would see records of a change that never committed, and an iterator held across it keeps
# reading the discarded shard (those phantom records, then nothing new ever). Reading under the
# lock that serializes moto's DynamoDB actions, with a fresh iterator per read, sees only
# committed records.
from devstack.moto_support import DYNAMODB_LOCK
from devstack.relays.patterns import json_path, matches, render_input_template
from devstack.relays.poller import MAX_BACKOFF_SECONDS, Poller, resolve_queue_url
from devstack.template import ACCOUNT_ID, LocalStack

logger = logging.getLogger(__name__)

_PUT_EVENTS_MAX_ENTRIES = 10


@dataclass(frozen=True)
class PipeSpec:
    """One ``AWS::Pipes::Pipe`` from a DynamoDB stream to an event bus, resolved."""

    logical_id: str
    name: str
    arn: str
    stream_arn: str
    target_arn: str
    event_bus_name: str
    filters: tuple[Mapping[str, Any], ...]
    source: str  # a literal, or a dynamic path ("$.…") into the record
    detail_type: str
    resources: tuple[str, ...]
    input_template: str | None
    batch_size: int
    starting_position: str
    maximum_retry_attempts: int  # -1: retry until it works, like the service's default
    dead_letter_arn: str | None


def pipe_specs(stack: LocalStack) -> list[PipeSpec]:
    """The template's pipes that the relay can play: DynamoDB stream source, event bus target."""
    specs: list[PipeSpec] = []
    for logical_id, resource in stack.resources_of_type("AWS::Pipes::Pipe"):
        properties = resource.get("Properties") or {}
        if properties.get("DesiredState") == "STOPPED":
            continue
        source_arn = str(stack.resolve(properties["Source"]))
        target_arn = str(stack.resolve(properties["Target"]))
        if ":dynamodb:" not in source_arn or "/stream/" not in source_arn:
            logger.warning(
                "%s: source %s is not a DynamoDB stream; not relayed", logical_id, source_arn
            )
            continue
        if ":events:" not in target_arn or ":event-bus/" not in target_arn:
            logger.warning("%s: target %s is not an event bus; not relayed", logical_id, target_arn)
            continue
        source_parameters = stack.resolve(properties.get("SourceParameters") or {})
        stream_parameters = source_parameters.get("DynamoDBStreamParameters") or {}
        target_parameters = stack.resolve(properties.get("TargetParameters") or {})
        bus_parameters = target_parameters.get("EventBridgeEventBusParameters") or {}
        filters = (source_parameters.get("FilterCriteria") or {}).get("Filters") or []
        name = str(stack.resolve(properties.get("Name") or stack.default_name(logical_id)))
        dead_letter = (stream_parameters.get("DeadLetterConfig") or {}).get("Arn")
        specs.append(
            PipeSpec(
                logical_id=logical_id,
                name=name,
                arn=f"arn:aws:pipes:{stack.region}:{ACCOUNT_ID}:pipe/{name}",
                stream_arn=source_arn,
                target_arn=target_arn,
                event_bus_name=target_arn.split(":event-bus/", 1)[1],
                filters=tuple(json.loads(f["Pattern"]) for f in filters if f.get("Pattern")),
                source=str(bus_parameters.get("Source") or f"Pipe {name}"),
                detail_type=str(bus_parameters.get("DetailType") or "Event from aws:dynamodb"),
                resources=tuple(str(r) for r in bus_parameters.get("Resources") or ()),
                input_template=target_parameters.get("InputTemplate"),
                batch_size=int(stream_parameters.get("BatchSize", 100)),
                starting_position=str(stream_parameters.get("StartingPosition", "LATEST")),
                maximum_retry_attempts=int(stream_parameters.get("MaximumRetryAttempts", -1)),
                dead_letter_arn=str(dead_letter) if dead_letter else None,
            )
        )
    return specs


class PipeRelay(Poller):
    """Plays one pipe: stream records in order per shard -> filter -> ``PutEvents``.

    A record is checkpointed only once its event is on the bus (or, retries spent, in the
    pipe's dead-letter queue): failed entries are retried with backoff, never skipped.
    """

    def __init__(
        self,
        spec: PipeSpec,
        *,
        region: str,
        poll_interval: float = 0.2,
        retry_delay: float | None = None,
    ) -> None:
        super().__init__(idle_wait=poll_interval)
        self.spec = spec
        self.name = f"pipe {spec.logical_id}"
        self.retry_delay = poll_interval if retry_delay is None else retry_delay
        self._streams = boto3.client("dynamodbstreams", region_name=region)
        self._events = boto3.client("events", region_name=region)
        self._sqs = boto3.client("sqs", region_name=region)
        # shard id -> sequence number of the last record handled (published, filtered out or
        # dead-lettered); iterators are never kept (see DYNAMODB_LOCK).
        self._checkpoints: dict[str, str] = {}
        self._initial_shards: set[str] | None = None
        self._positioned: set[str] = set()
        self._finished_shards: set[str] = set()
        self._state = threading.Lock()
        self._cycle = 0
        self._quiet_cycle = 0
        self.records_read = 0
        self.published = 0
        self.filtered_out = 0
        self.dead_lettered = 0

    # --- drain support ----------------------------------------------------------------------

    def cycle_mark(self) -> int:
        with self._state:
            return self._cycle

    def quiet_since(self, mark: int) -> bool:
        """Whether a poll that started after ``mark`` found the stream caught up."""
        with self._state:
            return self._quiet_cycle > mark

    # --- polling ----------------------------------------------------------------------------

    def poll_once(self) -> int:
        """Read every shard to its end once; returns how many records were handled."""
        with self._state:
            self._cycle += 1
            cycle = self._cycle
        handled = sum(self._poll_shard(shard) for shard in self._ready_shards())
        if handled == 0:
            with self._state:
                self._quiet_cycle = max(self._quiet_cycle, cycle)
        return handled

    def _ready_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": self.spec.stream_arn}
        while True:
            description = self._streams.describe_stream(**request)["StreamDescription"]
            shards.extend(description.get("Shards") or [])
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            request["ExclusiveStartShardId"] = last
        known = {shard["ShardId"] for shard in shards}
        if self._initial_shards is None:
            self._initial_shards = set(known)
        # A child shard's records follow its parent's: read it only once the parent is done.
        return [
            shard
            for shard in shards
            if shard["ShardId"] not in self._finished_shards
            and (
                shard.get("ParentShardId") not in known
                or shard["ParentShardId"] in self._finished_shards
            )
        ]

    def _poll_shard(self, shard: dict[str, Any]) -> int:
        shard_id = str(shard["ShardId"])
        if shard_id not in self._positioned:
            # LATEST applies to the shards open when the pipe starts; later ones are read whole.
            if self.spec.starting_position == "LATEST" and shard_id in (self._initial_shards or ()):
                self._skip_to_latest(shard_id)
            self._positioned.add(shard_id)
        handled = 0
        while not self._stopping.is_set():
            records, closed = self._read(shard_id)
            if not records:
                if closed:
                    self._finished_shards.add(shard_id)
                return handled
            self._deliver(shard_id, records)
            handled += len(records)
        return handled

    def _skip_to_latest(self, shard_id: str) -> None:
        last: str | None = None
        while True:
            records, _ = self._read(shard_id, after=last)
            if not records:
                break
            last = str(records[-1]["dynamodb"]["SequenceNumber"])
        if last is not None:
            self._checkpoints[shard_id] = last

    def _read(self, shard_id: str, after: str | None = None) -> tuple[list[dict[str, Any]], bool]:
        checkpoint = after if after is not None else self._checkpoints.get(shard_id)
        position: dict[str, Any] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": checkpoint}
            if checkpoint is not None
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        with DYNAMODB_LOCK:
            iterator = self._streams.get_shard_iterator(
                StreamArn=self.spec.stream_arn, ShardId=shard_id, **position
            )["ShardIterator"]
            response = self._streams.get_records(
                ShardIterator=iterator, Limit=min(max(self.spec.batch_size, 1), 1000)
            )
        _forget_moto_shard_iterators(
            self.spec.stream_arn, iterator, response.get("NextShardIterator")
        )
        return list(response.get("Records") or []), not response.get("NextShardIterator")

    def _deliver(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        self.records_read += len(records)
        selected: list[dict[str, Any]] = []
        for raw in records:
            record = pipe_record(raw, self.spec.stream_arn)
            if not self.spec.filters or any(matches(f, record) for f in self.spec.filters):
                selected.append(record)
            else:
                self.filtered_out += 1
        if selected:
            self._publish(shard_id, selected)
        self._checkpoints[shard_id] = str(records[-1]["dynamodb"]["SequenceNumber"])

    def _publish(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        pending = records
        attempt = 0
        while True:
            failures = self._put_events(pending)
            if not failures:
                return
            attempt += 1
            retries = self.spec.maximum_retry_attempts
            if 0 <= retries < attempt:
                self._dead_letter(shard_id, failures, attempt)
                return
            delay = min(MAX_BACKOFF_SECONDS, self.retry_delay * 2 ** (attempt - 1))
            logger.warning(
                "%s: %d record(s) of %s not published (%s); retry %d in %.1fs",
                self.name,
                len(failures),
                shard_id,
                failures[0][1],
                attempt,
                delay,
            )
            self._wait(delay)
            pending = [record for record, _ in failures]

    def _put_events(self, records: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
        """Publish ``records``; returns those that failed (in stream order) with the reason."""
        failed: dict[int, str] = {}
        entries: list[tuple[int, dict[str, Any]]] = []
        for position, record in enumerate(records):
            try:
                entries.append((position, self.event_entry(record)))
            except (LookupError, ValueError, TypeError) as error:
                failed[position] = f"{type(error).__name__}: {error}"
        for start in range(0, len(entries), _PUT_EVENTS_MAX_ENTRIES):
            chunk = entries[start : start + _PUT_EVENTS_MAX_ENTRIES]
            response = self._events.put_events(Entries=[entry for _, entry in chunk])
            for (position, _), result in zip(chunk, response["Entries"], strict=True):
                if result.get("ErrorCode"):
                    failed[position] = f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}"
                else:
                    self.published += 1
        return [(records[position], failed[position]) for position in sorted(failed)]

    def event_entry(self, record: dict[str, Any]) -> dict[str, Any]:
        """The ``PutEvents`` entry the pipe sends for ``record`` (a pipe-shaped stream record)."""
        if self.spec.input_template is None:
            detail = json.dumps(record)
        else:
            detail = render_input_template(
                self.spec.input_template, record, self._reserved_variables(record)
            )
            if not isinstance(json.loads(detail), dict):
                raise ValueError(f"InputTemplate rendered {detail!r}, not a JSON object")
        entry: dict[str, Any] = {
            "EventBusName": self.spec.event_bus_name,
            "Source": self._parameter(self.spec.source, record),
            "DetailType": self._parameter(self.spec.detail_type, record),
            "Detail": detail,
        }
        if self.spec.resources:
            entry["Resources"] = [self._parameter(r, record) for r in self.spec.resources]
        return entry

    @staticmethod
    def _parameter(value: str, record: dict[str, Any]) -> str:
        if not value.startswith("$"):
            return value
        resolved = json_path(record, value)
        if not isinstance(resolved, str) or not resolved:
            raise ValueError(f"dynamic path {value} is {resolved!r}, not a non-empty string")
        return resolved

    def _reserved_variables(self, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "aws.pipes.pipe-arn": self.spec.arn,
            "aws.pipes.pipe-name": self.spec.name,
            "aws.pipes.source-arn": self.spec.stream_arn,
            "aws.pipes.target-arn": self.spec.target_arn,
            "aws.pipes.event.ingestion-time": _iso_now(),
            "aws.pipes.event": record,
            "aws.pipes.event.json": record,
        }

    def _dead_letter(
        self, shard_id: str, failures: list[tuple[dict[str, Any], str]], attempts: int
    ) -> None:
        """What the pipe does once retries are spent: the records' stream coordinates (not the
        records) go to its DLQ, or are dropped if it has none. Either way it is logged."""
        for record, reason in failures:
            dynamodb = record.get("dynamodb") or {}
            sequence = str(dynamodb.get("SequenceNumber"))
            logger.error(
                "%s: gave up on %s/%s after %d attempts (%s); %s",
                self.name,
                shard_id,
                sequence,
                attempts,
                reason,
                f"sent to {self.spec.dead_letter_arn}" if self.spec.dead_letter_arn else "DROPPED",
            )
            self.dead_lettered += 1
            if not self.spec.dead_letter_arn:
                continue
            arrival = _iso_from_epoch(dynamodb.get("ApproximateCreationDateTime"))
            message = {
                "context": {
                    "pipeArn": self.spec.arn,
                    "condition": "RetryAttemptsExhausted",
                    "approximateInvokeCount": attempts,
                    "errorMessage": reason,
                },
                "version": "1.0",
                "timestamp": _iso_now(),
                "DDBStreamBatchInfo": {
                    "shardId": shard_id,
                    "startSequenceNumber": sequence,
                    "endSequenceNumber": sequence,
                    "approximateArrivalOfFirstRecord": arrival,
                    "approximateArrivalOfLastRecord": arrival,
                    "batchSize": 1,
                    "streamArn": self.spec.stream_arn,
                },
            }
            queue_url = resolve_queue_url(self._sqs, self.spec.dead_letter_arn)
            self._sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))


def _forget_moto_shard_iterators(stream_arn: str, *iterators: str | None) -> None:
    """moto keeps every shard iterator it ever handed out (two per read here, ~1.6 kB each:
    tens of MB an hour of idle polling). Ours are used once, so drop them from the in-process
    backend (mock_aws and the devstack's ThreadedMotoServer alike); elsewhere, a no-op."""
    try:
        from moto.dynamodbstreams.models import dynamodbstreams_backends
    except ImportError:  # pragma: no cover - moto is a dev dependency
        return
    _, _, _, region, account, _ = stream_arn.split(":", 5)
    backend = dynamodbstreams_backends[account][region]
    for iterator in iterators:
        if iterator:
            backend.shard_iterators.pop(iterator, None)


def pipe_record(raw: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as a pipe (or Lambda) sees it: JSON only (epoch-second creation
    time, base64 binaries) plus ``eventSourceARN``."""
    record: dict[str, Any] = _jsonable(dict(raw))
    record["eventSourceARN"] = stream_arn
    return record


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_from_epoch(value: Any) -> str | None:
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
