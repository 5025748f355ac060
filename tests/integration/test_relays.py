"""The local event path, played from the template against moto: table stream -> pipe -> bus ->
rule -> SQS -> function (with partial batch failures and the DLQ), and schedules."""

from __future__ import annotations

import json
import logging
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.lambdas import FunctionRegistry
from devstack.provision import provision
from devstack.relays import (
    OneInvocationAtATime,
    PathNotFoundError,
    PipeRelay,
    Relays,
    ScheduleRunner,
    SqsPoller,
    UnsupportedScheduleError,
    json_path,
    matches,
    parse_rate,
    pipe_specs,
    render_input_template,
    sqs_event_sources,
)
from devstack.template import LocalStack
from payments.domain.states import PaymentStatus
from payments.services.transitions import apply_transition
from payments.store.state_change import CommitOutcome, InboxRecord
from tests.integration.helpers import items_of_type, new_payment, new_tenant

S = PaymentStatus


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _sqs() -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def _drain_queue(queue_url: str) -> list[dict[str, Any]]:
    """Every message in the queue (received and deleted)."""
    sqs = _sqs()
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _events_in(stack: LocalStack, queue: str) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in _drain_queue(stack.physical_ids[queue])]


def _counts(queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = _sqs().get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    values = attributes["Attributes"]
    return (
        int(values["ApproximateNumberOfMessages"]),
        int(values["ApproximateNumberOfMessagesNotVisible"]),
    )


def _outbox_relay(stack: LocalStack) -> PipeRelay:
    [spec] = pipe_specs(stack)
    return PipeRelay(spec, region=stack.region, poll_interval=0.01, retry_delay=0)


def _envelopes_by_event_id() -> dict[str, str]:
    return {str(item["event_id"]): str(item["envelope"]) for item in items_of_type("outbox")}


def _eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# --------------------------------------------------------------------------------------------
# stream -> pipe -> bus -> rules -> queues, with the real template and the real services
# --------------------------------------------------------------------------------------------


def test_the_template_pipe_is_read_as_deployed(aws: LocalStack) -> None:
    [spec] = pipe_specs(aws)
    assert spec.logical_id == "OutboxPipe"
    assert spec.stream_arn == aws.attributes[("PaymentsTable", "StreamArn")]
    assert spec.event_bus_name == aws.physical_ids["PaymentsEventBus"]
    assert spec.source == "payments"
    assert spec.detail_type == "$.dynamodb.NewImage.event_type.S"
    assert spec.input_template == '{"envelope": <$.dynamodb.NewImage.envelope>}'
    assert spec.starting_position == "TRIM_HORIZON"
    assert spec.filters == (
        {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"item_type": {"S": ["outbox"]}}}},
    )
    assert (spec.batch_size, spec.maximum_retry_attempts) == (10, 10)
    assert spec.dead_letter_arn == aws.attributes[("OutboxPipeDLQ", "Arn")]


def test_outbox_items_reach_the_callback_queue_as_eventbridge_events(aws: LocalStack) -> None:
    tenant_id = new_tenant()
    payment = new_payment(tenant_id)
    apply_transition(
        tenant_id=tenant_id, payment_id=payment.payment_id, requested=S.SUCCEEDED, source="test"
    )
    relay = _outbox_relay(aws)

    relay.poll_once()

    envelopes = _envelopes_by_event_id()
    assert len(envelopes) == 2
    events = _events_in(aws, "CallbackQueue")
    # In stream order; every other item those changes wrote (tenant, payment, history, journal,
    # balances) was filtered out by the pipe.
    assert [event["detail-type"] for event in events] == ["payment.created", "payment.succeeded"]
    for event in events:
        envelope = json.loads(event["detail"]["envelope"]["S"])
        assert event["source"] == "payments"
        assert event["detail"] == {"envelope": {"S": envelopes[envelope["id"]]}}
        assert envelope["type"] == event["detail-type"]
        assert envelope["data"]["payment"]["payment_id"] == payment.payment_id
        # moto's rule delivery leaves out "account" (real EventBridge sends it).
        assert {"version", "id", "time", "region", "resources"} <= set(event)
    assert relay.published == 2
    assert relay.filtered_out == relay.records_read - 2 > 0
    # Caught up: a second poll publishes nothing again.
    assert relay.poll_once() == 0
    assert _events_in(aws, "CallbackQueue") == []


def test_only_the_notify_rule_events_reach_the_notify_queue(aws: LocalStack) -> None:
    tenant_id = new_tenant()
    payment = new_payment(tenant_id)
    apply_transition(
        tenant_id=tenant_id, payment_id=payment.payment_id, requested=S.SUCCEEDED, source="test"
    )

    _outbox_relay(aws).poll_once()

    [event] = _events_in(aws, "NotifyQueue")
    assert event["detail-type"] == "payment.succeeded"
    assert json.loads(event["detail"]["envelope"]["S"])["type"] == "payment.succeeded"


def test_non_outbox_items_and_outbox_updates_are_not_published(aws: LocalStack) -> None:
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(
        aws.physical_ids["PaymentsTable"]
    )
    table.put_item(
        Item={"pk": "PAY#x", "sk": "PAY", "item_type": "payment", "event_type": "payment.created"}
    )
    outbox = {
        "pk": "OUTBOX#evt_1",
        "sk": "OUTBOX",
        "item_type": "outbox",
        "event_type": "payment.created",
        "envelope": json.dumps({"id": "evt_1", "type": "payment.created", "text": 'a "quote"'}),
    }
    table.put_item(Item=outbox)
    table.put_item(Item={**outbox, "event_type": "payment.failed"})  # MODIFY: not an INSERT
    relay = _outbox_relay(aws)

    assert relay.poll_once() == 3

    [event] = _events_in(aws, "CallbackQueue")
    assert event["detail-type"] == "payment.created"
    assert event["detail"] == {"envelope": {"S": outbox["envelope"]}}
    assert (relay.published, relay.filtered_out) == (1, 2)


def test_an_outbox_item_of_a_rolled_back_transaction_is_never_published(aws: LocalStack) -> None:
    """moto applies a failing transaction's puts to the live stream shard, then swaps the
    whole table (shard included) for a copy. The relay must see neither the phantom record nor
    lose the stream afterwards."""
    tenant_id = new_tenant()
    inbox = InboxRecord(
        provider="stripe",
        event_id="evt_same",
        tenant_id=tenant_id,
        event_type="checkout.session.completed",
        payload="{}",
    )
    first, second = (
        new_payment(tenant_id, payable_id="bk_1"),
        new_payment(tenant_id, payable_id="bk_2"),
    )
    relay = _outbox_relay(aws)
    relay.poll_once()
    _drain_queue(aws.physical_ids["CallbackQueue"])

    applied = apply_transition(
        tenant_id=tenant_id,
        payment_id=first.payment_id,
        requested=S.SUCCEEDED,
        source="provider",
        inbox=inbox,
    )
    # The same provider event again, for another payment: its inbox record already exists,
    # so nothing of this change (its payment.succeeded included) commits.
    duplicate = apply_transition(
        tenant_id=tenant_id,
        payment_id=second.payment_id,
        requested=S.SUCCEEDED,
        source="provider",
        inbox=inbox,
    )
    later = new_payment(tenant_id, payable_id="bk_3")
    relay.poll_once()

    assert (applied.outcome, duplicate.outcome) == (
        CommitOutcome.COMMITTED,
        CommitOutcome.DUPLICATE,
    )
    published = [
        (event["detail-type"], json.loads(event["detail"]["envelope"]["S"])["data"]["payment"])
        for event in _events_in(aws, "CallbackQueue")
    ]
    assert [(kind, data["payment_id"]) for kind, data in published] == [
        ("payment.succeeded", first.payment_id),
        ("payment.created", later.payment_id),
    ]


def test_a_failed_put_events_entry_is_retried_not_skipped(
    aws: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id = new_tenant()
    payment = new_payment(tenant_id)
    apply_transition(
        tenant_id=tenant_id, payment_id=payment.payment_id, requested=S.SUCCEEDED, source="test"
    )
    relay = _outbox_relay(aws)
    events_client = relay._events
    real_put_events = events_client.put_events
    calls: list[list[str]] = []

    def first_entry_throttled_once(Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        calls.append([entry["DetailType"] for entry in Entries])
        if len(calls) > 1:
            return dict(real_put_events(Entries=Entries))
        rest = real_put_events(Entries=Entries[1:]) if Entries[1:] else {"Entries": []}
        throttled = {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
        return {"FailedEntryCount": 1, "Entries": [throttled, *rest["Entries"]]}

    monkeypatch.setattr(events_client, "put_events", first_entry_throttled_once)

    relay.poll_once()

    assert calls == [["payment.created", "payment.succeeded"], ["payment.created"]]
    events = _events_in(aws, "CallbackQueue")
    assert sorted(event["detail-type"] for event in events) == [
        "payment.created",
        "payment.succeeded",
    ]
    assert (relay.published, relay.dead_lettered) == (2, 0)


def test_an_entry_failing_past_the_retry_limit_goes_to_the_pipe_dlq(
    aws: LocalStack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    new_payment(new_tenant())
    relay = _outbox_relay(aws)
    attempts: list[int] = []

    def always_failing(Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        attempts.append(len(Entries))
        failure = {"ErrorCode": "InternalFailure", "ErrorMessage": "boom"}
        return {"FailedEntryCount": len(Entries), "Entries": [failure for _ in Entries]}

    monkeypatch.setattr(relay._events, "put_events", always_failing)

    with caplog.at_level(logging.ERROR, logger="devstack.relays"):
        relay.poll_once()

    assert len(attempts) == 1 + 10  # the first try and MaximumRetryAttempts retries
    [message] = _drain_queue(aws.physical_ids["OutboxPipeDLQ"])
    failure = json.loads(message["Body"])
    assert failure["context"]["condition"] == "RetryAttemptsExhausted"
    batch = failure["DDBStreamBatchInfo"]
    assert batch["streamArn"] == aws.attributes[("PaymentsTable", "StreamArn")]
    assert batch["startSequenceNumber"] == batch["endSequenceNumber"]
    assert relay.dead_lettered == 1
    assert "gave up on" in caplog.text
    assert _events_in(aws, "CallbackQueue") == []
    # The record was dealt with: the next poll moves on.
    assert relay.poll_once() == 0


def test_idle_polling_does_not_pile_up_moto_shard_iterators(aws: LocalStack) -> None:
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    relay = _outbox_relay(aws)
    for _ in range(20):
        relay.poll_once()

    assert dynamodbstreams_backends["123456789012"][aws.region].shard_iterators == {}


def test_relays_drain_waits_until_the_outbox_is_on_the_bus(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    relays = Relays(aws, functions, poll_interval=0.05)
    relays.start()
    try:
        tenant_id = new_tenant()
        for n in range(3):
            new_payment(tenant_id, payable_id=f"bk_{n}")
        assert relays.drain(timeout=10)
        [pipe] = relays.pipes
        assert pipe.published == 3
    finally:
        relays.stop()


# --------------------------------------------------------------------------------------------
# SQS event sources and schedules, from a synthetic template with handlers written here
# --------------------------------------------------------------------------------------------

WORKER = """
CALLS = []

def handler(event, context):
    CALLS.append(event)
    bodies = [record["body"] for record in event["Records"]]
    if "raise" in bodies:
        raise RuntimeError("the handler crashed")
    if "bogus" in bodies:
        return {"batchItemFailures": [{"itemIdentifier": "not-a-message-of-this-batch"}]}
    return {
        "batchItemFailures": [
            {"itemIdentifier": record["messageId"]}
            for record in event["Records"]
            if record["body"].startswith("fail")
        ]
    }
"""

SWEEPER = """
CALLS = []

def handler(event, context):
    CALLS.append(event)
    return {"swept": len(CALLS)}
"""


def _function(code_dir: Path, events: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": {"CodeUri": str(code_dir), "Handler": "app.handler", "Events": events},
    }


def _synthetic_template(tmp_path: Path) -> dict[str, Any]:
    for name, code in {"worker": WORKER, "sweeper": SWEEPER}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(textwrap.dedent(code), encoding="utf-8")
    queue_arn = {"Fn::GetAtt": ["WorkQueue", "Arn"]}
    return {
        "Resources": {
            "WorkDLQ": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "WorkQueue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "VisibilityTimeout": 30,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["WorkDLQ", "Arn"]},
                        "maxReceiveCount": 5,
                    },
                },
            },
            "WorkerFunction": _function(
                tmp_path / "worker",
                {
                    "Work": {
                        "Type": "SQS",
                        "Properties": {
                            "Queue": queue_arn,
                            "BatchSize": 10,
                            "FunctionResponseTypes": ["ReportBatchItemFailures"],
                        },
                    }
                },
            ),
            "SweeperFunction": _function(
                tmp_path / "sweeper",
                {"Sweep": {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}}},
            ),
            "ReportFunction": _function(
                tmp_path / "sweeper",
                {"Nightly": {"Type": "Schedule", "Properties": {"Schedule": "cron(0 3 * * ? *)"}}},
            ),
        }
    }


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[LocalStack, FunctionRegistry]]:
    template = _synthetic_template(tmp_path)
    with mock_aws():
        stack = provision(LocalStack(template, stack_name="relays-test"))
        yield stack, FunctionRegistry(stack)


def _calls(functions: FunctionRegistry, logical_id: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = functions.handler(logical_id).__globals__["CALLS"]
    return calls


def _poller(
    local: tuple[LocalStack, FunctionRegistry], visibility_timeout_override: int | None = None
) -> SqsPoller:
    stack, functions = local
    [source] = sqs_event_sources(stack)
    return SqsPoller(
        source,
        functions,
        region=stack.region,
        wait_time_seconds=0,
        visibility_timeout_override=visibility_timeout_override,
    )


def _send(stack: LocalStack, *bodies: str, **attributes: Any) -> None:
    for body in bodies:
        _sqs().send_message(
            QueueUrl=stack.physical_ids["WorkQueue"], MessageBody=body, MessageAttributes=attributes
        )


def test_the_function_gets_lambdas_sqs_event(local: tuple[LocalStack, FunctionRegistry]) -> None:
    stack, functions = local
    _send(
        stack,
        '{"hello": "world"}',
        tenant={"DataType": "String", "StringValue": "ten_1"},
        blob={"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    )

    assert _poller(local).poll_once() == 1

    [event] = _calls(functions, "WorkerFunction")
    [record] = event["Records"]
    assert set(record) >= {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["body"] == '{"hello": "world"}'
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == stack.attributes[("WorkQueue", "Arn")]
    assert record["awsRegion"] == "us-east-1"
    assert set(record["attributes"]) >= {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"] == {
        "tenant": {
            "stringValue": "ten_1",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "blob": {
            "binaryValue": "AAE=",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }


def test_a_partial_batch_failure_deletes_only_the_successes(
    local: tuple[LocalStack, FunctionRegistry],
) -> None:
    stack, functions = local
    _send(stack, "ok-1", "fail-2", "ok-3")

    assert _poller(local).poll_once() == 3

    [event] = _calls(functions, "WorkerFunction")
    assert [record["body"] for record in event["Records"]] == ["ok-1", "fail-2", "ok-3"]
    # Only fail-2 is left, in flight until the queue's 30 s visibility timeout ends.
    assert _counts(stack.physical_ids["WorkQueue"]) == (0, 1)


def test_a_failed_message_comes_back_at_once_with_the_visibility_override(
    local: tuple[LocalStack, FunctionRegistry],
) -> None:
    stack, _ = local
    _send(stack, "ok-1", "fail-2")

    _poller(local, visibility_timeout_override=0).poll_once()

    [message] = _drain_queue(stack.physical_ids["WorkQueue"])
    assert message["Body"] == "fail-2"
    assert message["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_raising_handler_keeps_the_whole_batch(
    local: tuple[LocalStack, FunctionRegistry], caplog: pytest.LogCaptureFixture
) -> None:
    stack, _ = local
    _send(stack, "ok-1", "raise")

    with caplog.at_level(logging.ERROR, logger="devstack.relays"):
        _poller(local).poll_once()

    assert _counts(stack.physical_ids["WorkQueue"]) == (0, 2)
    assert "the handler crashed" in caplog.text


def test_an_unknown_item_identifier_fails_the_whole_batch(
    local: tuple[LocalStack, FunctionRegistry],
) -> None:
    stack, _ = local
    _send(stack, "ok-1", "bogus")

    _poller(local).poll_once()

    assert _counts(stack.physical_ids["WorkQueue"]) == (0, 2)


def test_a_message_failing_every_time_lands_in_the_dlq_after_max_receive_count(
    local: tuple[LocalStack, FunctionRegistry],
) -> None:
    stack, functions = local
    _send(stack, "fail-always")
    poller = _poller(local, visibility_timeout_override=0)

    for _ in range(10):
        poller.poll_once()

    receive_counts = [
        record["attributes"]["ApproximateReceiveCount"]
        for event in _calls(functions, "WorkerFunction")
        for record in event["Records"]
    ]
    assert receive_counts == ["1", "2", "3", "4", "5"]  # RedrivePolicy maxReceiveCount: 5
    [parked] = _drain_queue(stack.physical_ids["WorkDLQ"])
    assert parked["Body"] == "fail-always"
    assert _counts(stack.physical_ids["WorkQueue"]) == (0, 0)


def test_relays_consume_the_queue_in_the_background_and_drain(
    local: tuple[LocalStack, FunctionRegistry],
) -> None:
    stack, functions = local
    relays = Relays(stack, functions, poll_interval=0.05, sqs_visibility_override=0)
    relays.start()
    try:
        _send(stack, *[f"ok-{n}" for n in range(15)], "fail-x")
        assert relays.drain(timeout=20)
    finally:
        started = time.monotonic()
        relays.stop()
        assert time.monotonic() - started < 3  # a 1 s receive wait, not more

    bodies = [r["body"] for e in _calls(functions, "WorkerFunction") for r in e["Records"]]
    assert sorted(b for b in set(bodies) if b.startswith("ok")) == sorted(
        f"ok-{n}" for n in range(15)
    )
    assert bodies.count("fail-x") == 5
    assert [m["Body"] for m in _drain_queue(stack.physical_ids["WorkDLQ"])] == ["fail-x"]


def test_drain_reports_a_queue_that_does_not_empty(
    local: tuple[LocalStack, FunctionRegistry],
) -> None:
    stack, functions = local
    relays = Relays(stack, functions, poll_interval=0.05)  # failed messages wait 30 s
    relays.start()
    try:
        _send(stack, "fail-1")
        assert not relays.drain(timeout=1.5)
    finally:
        relays.stop()


def test_a_crashing_poll_is_logged_and_the_loop_keeps_going(
    local: tuple[LocalStack, FunctionRegistry],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stack, functions = local
    poller = _poller(local)
    real_receive = poller._sqs.receive_message
    failures = iter([ConnectionError("moto went away")])

    def flaky_receive(**kwargs: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_receive(**kwargs)

    monkeypatch.setattr(poller._sqs, "receive_message", flaky_receive)
    _send(stack, "ok-1")
    with caplog.at_level(logging.ERROR, logger="devstack.relays"):
        poller.start()
        try:
            assert _eventually(lambda: len(_calls(functions, "WorkerFunction")) == 1)
        finally:
            poller.stop()

    assert "poll failed" in caplog.text
    assert "moto went away" in caplog.text


def test_a_function_handles_one_event_at_a_time_like_one_container() -> None:
    active: list[str] = []
    overlaps: list[list[str]] = []

    class SlowFunctions:
        def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
            active.append(logical_id)
            if active.count(logical_id) > 1:
                overlaps.append(list(active))
            time.sleep(0.05)
            active.remove(logical_id)

    functions = OneInvocationAtATime(SlowFunctions())
    threads = [
        threading.Thread(target=functions.invoke, args=(name, {}))
        for name in ("CallbackFunction", "CallbackFunction", "SweeperFunction")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert overlaps == []


def test_schedule_run_once_sends_eventbridge_scheduled_event(
    local: tuple[LocalStack, FunctionRegistry],
) -> None:
    stack, functions = local
    runner = ScheduleRunner(stack, functions)

    assert runner.run_once("SweeperFunction") == {"swept": 1}

    [event] = _calls(functions, "SweeperFunction")
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == "123456789012"
    assert event["region"] == "us-east-1"
    assert event["detail"] == {}
    assert event["resources"] == [
        "arn:aws:events:us-east-1:123456789012:rule/relays-test-SweeperFunctionSweep"
    ]
    assert event["time"].endswith("Z")


def test_schedules_run_on_their_interval_until_stopped(
    local: tuple[LocalStack, FunctionRegistry],
) -> None:
    stack, functions = local
    runner = ScheduleRunner(stack, functions, interval_override=0.05)
    runner.start()
    try:
        assert _eventually(lambda: len(_calls(functions, "SweeperFunction")) >= 3)
        # With an override, the cron schedule is timed too.
        assert _eventually(lambda: len(_calls(functions, "ReportFunction")) >= 1)
    finally:
        runner.stop()
    after_stop = len(_calls(functions, "SweeperFunction"))
    time.sleep(0.2)
    assert len(_calls(functions, "SweeperFunction")) == after_stop


def test_schedule_intervals_come_from_the_template_rate(
    local: tuple[LocalStack, FunctionRegistry], caplog: pytest.LogCaptureFixture
) -> None:
    stack, functions = local
    runner = ScheduleRunner(stack, functions, speedup=3000)
    sweep, nightly = sorted(runner.schedules, key=lambda s: s.function, reverse=True)

    assert runner.interval(sweep) == pytest.approx(0.1)  # 5 minutes / 3000
    assert runner.interval(nightly) is None
    with caplog.at_level(logging.WARNING, logger="devstack.relays"):
        runner.start()
        runner.stop()
    assert "cron(0 3 * * ? *)" in caplog.text


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("rate(30 seconds)", 30),
    ],
)
def test_parse_rate(expression: str, seconds: float) -> None:
    assert parse_rate(expression) == seconds


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0/5 * * * ? *)", "cron schedules are not timed locally"),
        ("rate(5 minute)", "would not deploy"),
        ("rate(1 minutes)", "would not deploy"),
        ("rate(0 minutes)", "must be positive"),
        ("every 5 minutes", "not a rate"),
    ],
)
def test_parse_rate_rejects_what_it_cannot_time(expression: str, message: str) -> None:
    with pytest.raises(UnsupportedScheduleError, match=message):
        parse_rate(expression)


# --------------------------------------------------------------------------------------------
# pattern matching, paths and input templates
# --------------------------------------------------------------------------------------------

RECORD: dict[str, Any] = {
    "eventName": "INSERT",
    "dynamodb": {
        "NewImage": {
            "item_type": {"S": "outbox"},
            "event_type": {"S": "payment.succeeded"},
            "amount": {"N": "2500"},
            "envelope": {"S": '{"id": "evt_1", "note": "a \\"quoted\\" word"}'},
        }
    },
    "tags": ["a", "b"],
    "size": 42,
    "nothing": None,
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"eventName": ["INSERT"]}, True),
        ({"eventName": ["MODIFY", "INSERT"]}, True),
        ({"eventName": ["MODIFY"]}, False),
        ({"dynamodb": {"NewImage": {"item_type": {"S": ["outbox"]}}}}, True),
        ({"dynamodb": {"NewImage": {"item_type": {"S": ["payment"]}}}}, False),
        ({"dynamodb": {"NewImage": {"event_type": {"S": [{"prefix": "payment."}]}}}}, True),
        ({"dynamodb": {"NewImage": {"event_type": {"S": [{"prefix": "trade."}]}}}}, False),
        ({"dynamodb": {"NewImage": {"event_type": {"S": [{"suffix": ".succeeded"}]}}}}, True),
        ({"dynamodb": {"NewImage": {"ttl": [{"exists": False}]}}}, True),
        ({"dynamodb": {"NewImage": {"ttl": [{"exists": True}]}}}, False),
        ({"dynamodb": {"NewImage": {"envelope": [{"exists": True}]}}}, True),
        ({"dynamodb": {"OldImage": {"item_type": {"S": [{"exists": False}]}}}}, True),
        ({"dynamodb": {"OldImage": {"item_type": {"S": ["outbox"]}}}}, False),
        ({"eventName": [{"anything-but": ["REMOVE", "MODIFY"]}]}, True),
        ({"eventName": [{"anything-but": "INSERT"}]}, False),
        ({"eventName": [{"equals-ignore-case": "insert"}]}, True),
        ({"tags": ["b"]}, True),
        ({"tags": ["c"]}, False),
        ({"size": [42]}, True),
        ({"size": ["42"]}, False),
        ({"size": [{"numeric": [">", 40, "<=", 42]}]}, True),
        ({"size": [{"numeric": ["<", 40]}]}, False),
        ({"nothing": [None]}, True),
        ({"missing": [None]}, False),
        ({"$or": [{"eventName": ["MODIFY"]}, {"size": [42]}]}, True),
        ({"$or": [{"eventName": ["MODIFY"]}, {"size": [41]}]}, False),
        ({"eventName": ["INSERT"], "size": [41]}, False),
    ],
)
def test_matches(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, RECORD) is expected


def test_matches_refuses_operators_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="cidr"):
        matches({"size": [{"cidr": "10.0.0.0/24"}]}, RECORD)


def test_json_path() -> None:
    assert json_path(RECORD, "$.dynamodb.NewImage.event_type.S") == "payment.succeeded"
    assert json_path(RECORD, "$.tags[1]") == "b"
    assert json_path(RECORD, "$") is RECORD
    with pytest.raises(PathNotFoundError):
        json_path(RECORD, "$.dynamodb.NewImage.nope.S")
    with pytest.raises(PathNotFoundError):
        json_path(RECORD, "$.tags[5]")


def test_input_template_keeps_the_envelope_string_verbatim() -> None:
    rendered = render_input_template('{"envelope": <$.dynamodb.NewImage.envelope>}', RECORD)
    assert json.loads(rendered) == {"envelope": RECORD["dynamodb"]["NewImage"]["envelope"]}


def test_input_template_strings_numbers_and_reserved_variables() -> None:
    rendered = render_input_template(
        '{"type": "<$.dynamodb.NewImage.event_type.S>", "size": <$.size>, '
        '"note": "<$.dynamodb.NewImage.envelope.S>", "pipe": "<aws.pipes.pipe-name>"}',
        RECORD,
        {"aws.pipes.pipe-name": "outbox"},
    )
    assert json.loads(rendered) == {
        "type": "payment.succeeded",
        "size": 42,
        "note": RECORD["dynamodb"]["NewImage"]["envelope"]["S"],
        "pipe": "outbox",
    }
    with pytest.raises(PathNotFoundError):
        render_input_template('{"x": <$.dynamodb.NewImage.nope>}', RECORD)
