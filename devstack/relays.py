"""Plays the template's asynchronous event path locally, against whatever AWS boto3 points at.

- :class:`PipeRelay`: each ``AWS::Pipes::Pipe`` from a DynamoDB stream to an event bus: reads the
  stream in order per shard, applies the pipe's ``FilterCriteria``, builds each ``PutEvents``
  entry from its ``TargetParameters`` (dynamic paths, ``InputTemplate``) and retries failed
  entries, dead-lettering them like the pipe once ``MaximumRetryAttempts`` is spent.
- bus -> SQS is moto's own: ``PutEvents`` delivers to the SQS targets of matching rules.
- :class:`SqsPoller`: each function's ``Type: SQS`` event source, as Lambda's poller does it
  (batch, the exact SQS event, partial batch failures; moto does visibility and redrive).
- :class:`ScheduleRunner`: each function's ``Type: Schedule``/``ScheduleV2`` event.
- :class:`Relays`: all of the above on daemon threads, with ``drain`` for tests.

Every source of truth is `template.yaml` (through :class:`LocalStack`), so the local path cannot
drift from the deployed one.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import boto3

# moto rolls a failed TransactWriteItems back by swapping in a deep copy of the table, stream
# shard included, after applying the transaction's puts to the live one. A stream read racing
# that would see records of a change that never committed, and an iterator held across it keeps
# reading the discarded shard (those phantom records, then nothing new ever). Reading under the
# lock that serializes moto's DynamoDB actions, with a fresh iterator per read, sees only
# committed records.
from devstack.moto_support import DYNAMODB_LOCK
from devstack.template import ACCOUNT_ID, LocalStack

logger = logging.getLogger(__name__)

_MAX_BACKOFF_SECONDS = 5.0
_SQS_MAX_MESSAGES = 10  # per ReceiveMessage / DeleteMessageBatch / PutEvents call
_PUT_EVENTS_MAX_ENTRIES = 10


class FunctionInvoker(Protocol):
    """What the relays need of :class:`FunctionRegistry`."""

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any: ...


class OneInvocationAtATime:
    """Invokes each function one event at a time, as one Lambda container does.

    Handlers keep per-container state at module level (Powertools' ``BatchProcessor``, say),
    and here every invocation shares one module: a function's SQS batches and scheduled runs
    must not overlap. (Lambda would scale out to more containers; locally they take turns.)
    """

    def __init__(self, functions: FunctionInvoker) -> None:
        self._functions = functions
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        with self._guard:
            lock = self._locks.setdefault(logical_id, threading.Lock())
        with lock:
            return self._functions.invoke(logical_id, event)


class _StopRequestedError(Exception):
    """Raised inside a poll when stop() interrupts a wait; nothing is checkpointed."""


# --------------------------------------------------------------------------------------------
# Event patterns (EventBridge rules, Pipes and Lambda filter criteria share the syntax)
# --------------------------------------------------------------------------------------------

_MISSING: Any = object()


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """Whether ``event`` matches the EventBridge event ``pattern``.

    Supported: exact values (strings, numbers, booleans, null; an array value matches if any
    element does), nested keys, ``$or``, and the ``prefix``, ``suffix``, ``equals-ignore-case``,
    ``wildcard``, ``anything-but``, ``exists`` and ``numeric`` operators. Anything else raises
    ``ValueError`` rather than silently matching.
    """
    document: Mapping[str, Any] = event if isinstance(event, Mapping) else {}
    for key, rule in pattern.items():
        if key == "$or":
            if not any(matches(alternative, document) for alternative in rule):
                return False
            continue
        value = document.get(key, _MISSING)
        if isinstance(rule, Mapping):
            if isinstance(value, list):
                if not any(matches(rule, element) for element in value):
                    return False
            elif not matches(rule, value if isinstance(value, Mapping) else {}):
                return False
        elif isinstance(rule, list):
            if not _matches_any(rule, value):
                return False
        else:
            raise ValueError(f"event pattern field {key!r} must be an array or an object")
    return True


def _matches_any(rules: Sequence[Any], value: Any) -> bool:
    if value is _MISSING:
        return any(isinstance(rule, Mapping) and rule.get("exists") is False for rule in rules)
    values = value if isinstance(value, list) else [value]
    for rule in rules:
        if isinstance(rule, Mapping):
            if "exists" in rule:
                if rule["exists"] is True:
                    return True
                continue
            if any(_matches_operator(rule, element) for element in values):
                return True
        elif any(_equal(rule, element) for element in values):
            return True
    return False


def _equal(expected: Any, actual: Any) -> bool:
    if expected is None or isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, int | float):
        return isinstance(actual, int | float) and float(actual) == float(expected)
    return bool(actual == expected)


def _matches_operator(rule: Mapping[str, Any], value: Any) -> bool:
    ((operator, operand),) = rule.items()
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(str(operand))
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(str(operand))
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == str(operand).casefold()
    if operator == "wildcard":
        regex = ".*".join(re.escape(part) for part in str(operand).split("*"))
        return isinstance(value, str) and re.fullmatch(regex, value, flags=re.DOTALL) is not None
    if operator == "anything-but":
        if isinstance(operand, Mapping):
            return not _matches_operator(operand, value)
        excluded = operand if isinstance(operand, list) else [operand]
        return not any(_equal(item, value) for item in excluded)
    if operator == "numeric":
        return _matches_numeric(list(operand), value)
    raise ValueError(f"event pattern operator {operator!r} is not supported locally")


def _matches_numeric(conditions: list[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    checks: dict[str, Callable[[float, float], bool]] = {
        "=": lambda a, b: a == b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    pairs = zip(conditions[::2], conditions[1::2], strict=True)
    return all(checks[operator](float(value), float(bound)) for operator, bound in pairs)


# --------------------------------------------------------------------------------------------
# JSON paths and input templates (the Pipes/EventBridge subset: $.a.b, $.a[0])
# --------------------------------------------------------------------------------------------


class PathNotFoundError(LookupError):
    pass


_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def json_path(document: Any, path: str) -> Any:
    """The value at ``path`` (``$``, ``$.a.b.c``, ``$.a[0].b``) in ``document``."""
    if not path.startswith("$"):
        raise ValueError(f"JSON path {path!r} must start with '$'")
    value = document
    position = 1
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if step is None:
            raise ValueError(f"JSON path {path!r} is not supported locally")
        key, index = step.groups()
        if key is not None:
            if not isinstance(value, Mapping) or key not in value:
                raise PathNotFoundError(path)
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                raise PathNotFoundError(path)
            value = value[int(index)]
        position = step.end()
    return value


_PLACEHOLDER = re.compile(r'(")?<(\$[^<>\s]*|aws\.pipes\.[a-z.-]+)>(")?')


def render_input_template(
    template: str, event: Any, variables: Mapping[str, Any] | None = None
) -> str:
    """``template`` with each ``<$.path>`` (or reserved ``<aws.pipes...>`` variable) replaced
    by its value: objects, arrays, numbers as JSON; a quoted placeholder takes a string's
    JSON-escaped text. A path that is not in the event is an error, not a silent null."""
    reserved = dict(variables or {})

    def replace(match: re.Match[str]) -> str:
        open_quote, name, close_quote = match.groups()
        if name.startswith("$"):
            value = json_path(event, name)
        elif name in reserved:
            value = reserved[name]
        else:
            raise ValueError(f"input template variable <{name}> is not supported locally")
        if open_quote and close_quote:
            text = value if isinstance(value, str) else json.dumps(value)
            return json.dumps(text)
        return f"{open_quote or ''}{json.dumps(value)}{close_quote or ''}"

    return _PLACEHOLDER.sub(replace, template)


# --------------------------------------------------------------------------------------------
# Background polling
# --------------------------------------------------------------------------------------------


class _Poller:
    """Calls ``poll_once`` on a daemon thread until stopped. A failing poll is logged with its
    traceback and retried with backoff: a crashed loop never dies silently nor spins."""

    name = "poller"

    def __init__(self, *, idle_wait: float) -> None:
        self.idle_wait = idle_wait
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> int:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"relay:{self.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        self._stopping.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("%s did not stop within %.1fs", self.name, timeout)
            self._thread = None

    def _wait(self, seconds: float) -> None:
        """Sleep, unless stop() is called: then abandon the current poll."""
        if self._stopping.wait(seconds):
            raise _StopRequestedError

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                handled = self.poll_once()
            except _StopRequestedError:
                return
            except Exception:
                failures += 1
                delay = min(_MAX_BACKOFF_SECONDS, max(self.idle_wait, 0.1) * 2 ** min(failures, 6))
                logger.exception(
                    "%s: poll failed (%d in a row); retrying in %.1fs", self.name, failures, delay
                )
                self._stopping.wait(delay)
                continue
            failures = 0
            if not handled:
                self._stopping.wait(self.idle_wait)


# --------------------------------------------------------------------------------------------
# Pipes: DynamoDB stream -> event bus
# --------------------------------------------------------------------------------------------


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


class PipeRelay(_Poller):
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
            delay = min(_MAX_BACKOFF_SECONDS, self.retry_delay * 2 ** (attempt - 1))
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
            queue_url = _queue_url(self._sqs, self.spec.dead_letter_arn)
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


# --------------------------------------------------------------------------------------------
# SQS event sources -> functions
# --------------------------------------------------------------------------------------------


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


class SqsPoller(_Poller):
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
        self.queue_url = _queue_url(self._sqs, source.queue_arn)
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


def _queue_url(sqs: Any, queue_arn: str) -> str:
    *_, account, name = queue_arn.split(":")
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


# --------------------------------------------------------------------------------------------
# Schedules -> functions
# --------------------------------------------------------------------------------------------


class UnsupportedScheduleError(ValueError):
    pass


_RATE = re.compile(r"rate\(\s*(\d+)\s+(second|minute|hour|day)(s?)\s*\)")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate(expression: str) -> float:
    """Seconds between runs of ``rate(N unit)``. ``cron(...)`` is not run on a timer locally;
    ``seconds`` is accepted as a local convenience (AWS's smallest unit is the minute)."""
    text = expression.strip()
    if text.startswith("cron("):
        raise UnsupportedScheduleError(
            f"{text}: cron schedules are not timed locally; pass an interval override "
            "(Relays(schedule_interval_override=...)) or call ScheduleRunner.run_once"
        )
    match = _RATE.fullmatch(text)
    if match is None:
        raise UnsupportedScheduleError(f"{text!r} is not a rate(N unit) expression")
    value, unit, plural = int(match.group(1)), match.group(2), match.group(3)
    if value <= 0:
        raise UnsupportedScheduleError(f"{text}: the rate must be positive")
    if (value == 1) == bool(plural):
        raise UnsupportedScheduleError(
            f"{text}: AWS wants rate(1 {unit}) and rate(N {unit}s), so this would not deploy"
        )
    return float(value * _UNIT_SECONDS[unit])


@dataclass(frozen=True)
class ScheduleSpec:
    """One function's ``Type: Schedule`` or ``ScheduleV2`` event, resolved."""

    function: str
    event_name: str
    expression: str
    rule_arn: str
    enabled: bool
    input: str | None  # the event's Input: sent instead of the scheduled event when set

    @property
    def rate_seconds(self) -> float | None:
        try:
            return parse_rate(self.expression)
        except UnsupportedScheduleError:
            return None


def schedule_specs(stack: LocalStack) -> list[ScheduleSpec]:
    specs: list[ScheduleSpec] = []
    for function, resource in stack.functions().items():
        events = (resource.get("Properties") or {}).get("Events") or {}
        for event_name, event in events.items():
            kind = event.get("Type")
            if kind not in {"Schedule", "ScheduleV2"}:
                continue
            properties = stack.resolve(event.get("Properties") or {})
            expression = properties.get("Schedule") or properties.get("ScheduleExpression")
            name = properties.get("Name") or stack.default_name(f"{function}{event_name}")
            rule_arn = (
                f"arn:aws:events:{stack.region}:{ACCOUNT_ID}:rule/{name}"
                if kind == "Schedule"
                else f"arn:aws:scheduler:{stack.region}:{ACCOUNT_ID}:schedule/"
                f"{properties.get('GroupName', 'default')}/{name}"
            )
            state = str(properties.get("State", "ENABLED")).upper()
            specs.append(
                ScheduleSpec(
                    function=function,
                    event_name=event_name,
                    expression=str(expression),
                    rule_arn=rule_arn,
                    enabled=bool(properties.get("Enabled", True)) and state == "ENABLED",
                    input=properties.get("Input"),
                )
            )
    return specs


class ScheduleRunner:
    """Invokes scheduled functions with EventBridge's scheduled event, every interval:
    the template's rate divided by ``speedup``, or ``interval_override`` for every schedule
    (cron ones included). The first run comes one interval after start, as in AWS."""

    def __init__(
        self,
        stack: LocalStack,
        functions: FunctionInvoker,
        *,
        speedup: float = 1.0,
        interval_override: float | None = None,
    ) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be positive")
        self.schedules = schedule_specs(stack)
        self.speedup = speedup
        self.interval_override = interval_override
        self._region = stack.region
        self._functions = functions
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._counts_lock = threading.Lock()
        self.runs: dict[tuple[str, str], int] = {}

    def interval(self, schedule: ScheduleSpec) -> float | None:
        if self.interval_override is not None:
            return self.interval_override
        rate = schedule.rate_seconds
        return None if rate is None else rate / self.speedup

    def scheduled_event(self, schedule: ScheduleSpec) -> dict[str, Any]:
        if schedule.input is not None:
            event: dict[str, Any] = json.loads(schedule.input)
            return event
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT_ID,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self._region,
            "resources": [schedule.rule_arn],
            "detail": {},
        }

    def run_once(self, function: str, event_name: str | None = None) -> Any:
        """Invoke ``function`` as its schedule would, now; returns the handler's result."""
        return self._fire(self._schedule(function, event_name))

    def _schedule(self, function: str, event_name: str | None) -> ScheduleSpec:
        for schedule in self.schedules:
            if schedule.function == function and event_name in {None, schedule.event_name}:
                return schedule
        raise KeyError(f"{function} has no schedule event {event_name or ''}".rstrip())

    def _fire(self, schedule: ScheduleSpec) -> Any:
        with self._counts_lock:
            key = (schedule.function, schedule.event_name)
            self.runs[key] = self.runs.get(key, 0) + 1
        return self._functions.invoke(schedule.function, self.scheduled_event(schedule))

    def start(self) -> None:
        if self._threads:
            return
        self._stopping.clear()
        for schedule in self.schedules:
            interval = self.interval(schedule)
            if not schedule.enabled:
                continue
            if interval is None:
                logger.warning(
                    "schedule %s.%s (%s) is not timed locally: cron needs an interval "
                    "override; ScheduleRunner.run_once still invokes it",
                    schedule.function,
                    schedule.event_name,
                    schedule.expression,
                )
                continue
            thread = threading.Thread(
                target=self._run,
                args=(schedule, interval),
                name=f"relay:schedule {schedule.function}.{schedule.event_name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def request_stop(self) -> None:
        self._stopping.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("%s did not stop within %.1fs", thread.name, timeout)
        self._threads = []

    def _run(self, schedule: ScheduleSpec, interval: float) -> None:
        while not self._stopping.wait(interval):
            try:
                self._fire(schedule)
            except Exception:
                logger.exception(
                    "scheduled run of %s.%s failed", schedule.function, schedule.event_name
                )


# --------------------------------------------------------------------------------------------
# All of it
# --------------------------------------------------------------------------------------------


class Relays:
    """Every pipe, SQS event source and schedule of the template, on daemon threads."""

    def __init__(
        self,
        stack: LocalStack,
        functions: FunctionInvoker,
        *,
        poll_interval: float = 0.2,
        sqs_visibility_override: int | None = None,
        schedule_interval_override: float | None = None,
        schedule_speedup: float = 1.0,
        sqs_wait_time_seconds: int = 1,
    ) -> None:
        self.poll_interval = poll_interval
        functions = OneInvocationAtATime(functions)
        self.pipes = [
            PipeRelay(spec, region=stack.region, poll_interval=poll_interval)
            for spec in pipe_specs(stack)
        ]
        self.pollers = [
            SqsPoller(
                source,
                functions,
                region=stack.region,
                wait_time_seconds=sqs_wait_time_seconds,
                visibility_timeout_override=sqs_visibility_override,
            )
            for source in sqs_event_sources(stack)
            if source.enabled
        ]
        self.schedules = ScheduleRunner(
            stack,
            functions,
            speedup=schedule_speedup,
            interval_override=schedule_interval_override,
        )

    def start(self) -> Relays:
        for component in (*self.pipes, *self.pollers):
            component.start()
        self.schedules.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        # Ask everyone first, then wait: the stop takes one receive wait, not the sum of them.
        for component in (*self.pipes, *self.pollers):
            component.request_stop()
        self.schedules.request_stop()
        for component in (*self.pipes, *self.pollers):
            component.stop(timeout)
        self.schedules.stop(timeout)

    def __enter__(self) -> Relays:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every stream is caught up and every consumed queue is empty with no
        batch in hand; False if that did not happen within ``timeout`` seconds. Needs
        ``start()``. Schedules are not waited for."""
        deadline = time.monotonic() + timeout
        while True:
            # Queues idle, then a stream poll begun after that found nothing, then queues
            # still idle: no handler wrote a record the pipe has not seen, nothing in flight.
            if (
                self._consumers_idle()
                and self._pipes_caught_up(deadline)
                and self._consumers_idle()
            ):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(self.poll_interval, remaining))

    def _consumers_idle(self) -> bool:
        return all(poller.is_idle() for poller in self.pollers)

    def _pipes_caught_up(self, deadline: float) -> bool:
        """Wait for each pipe to finish a poll that started now and found nothing new."""
        marks = [(pipe, pipe.cycle_mark()) for pipe in self.pipes]
        while not all(pipe.quiet_since(mark) for pipe, mark in marks):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(0.02, remaining))
        return True


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_from_epoch(value: Any) -> str | None:
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
