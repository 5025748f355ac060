"""Merchant callbacks end to end under moto: fan-out, Standard Webhooks signatures (verified
with the reference library), per-endpoint retries, 410, DLQ and replay, secret rotation."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
import standardwebhooks
import typer

from devstack.lambdas import FunctionRegistry
from devstack.template import LocalStack
from payments.config import get_settings
from tests.conftest import load_event
from tests.integration.helpers import new_tenant


@dataclass
class Merchant:
    """A merchant endpoint on localhost that answers from a script and verifies nothing."""

    statuses: list[int] = field(default_factory=list)  # answered in order, then 204
    delay: float = 0.0
    delays: list[float] = field(default_factory=list)  # per answer, in order, then ``delay``
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"

    def start(self) -> Merchant:
        merchant = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                merchant.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(merchant.delays.pop(0) if merchant.delays else merchant.delay)
                status = merchant.statuses.pop(0) if merchant.statuses else 204
                self.send_response(status)
                if status in (429, 503):
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()


def _api(functions: FunctionRegistry, tenant: str, method: str, path: str, body: Any = None) -> Any:
    event = load_event("status/get_payment.json")
    event.update(httpMethod=method, path=path, resource=path, pathParameters=None)
    event["body"] = json.dumps(body) if body is not None else None
    event["headers"]["Content-Type"] = "application/json"
    if "?" in path:
        path, query = path.split("?", 1)
        event["path"] = path
        event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&"))
    event["requestContext"]["authorizer"]["tenant_id"] = tenant
    response = functions.invoke("CallbacksApiFunction", event)
    return response["statusCode"], json.loads(response["body"] or "null")


def _publish(tenant: str, event_id: str, event_type: str = "payment.succeeded") -> dict[str, Any]:
    """What EventBridge puts on the callback queue for one outbox event (see template.yaml)."""
    envelope = {
        "id": event_id,
        "type": event_type,
        "tenant_id": tenant,
        "occurred_at": "2026-11-23T10:00:00.000Z",
        "data": {"payment": {"payment_id": "pay_1", "payable_type": "booking", "amount": 4500}},
    }
    bus_event = {
        "version": "0",
        "id": "eb-1",
        "detail-type": event_type,
        "source": "payments",
        "detail": {"envelope": {"S": json.dumps(envelope)}},
    }
    boto3.client("sqs").send_message(
        QueueUrl=get_settings().callback_queue_url, MessageBody=json.dumps(bus_event)
    )
    return envelope


def _pump(functions: FunctionRegistry, *, seconds: float = 20.0) -> None:
    """Play Lambda's SQS integration until the callback queue stays empty for a moment."""
    sqs = boto3.client("sqs")
    url = get_settings().callback_queue_url
    deadline, idle_since = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5).get("Messages", [])
        if not messages:
            counts = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessagesDelayed",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            waiting = any(int(value) for value in counts.values())
            idle_since = None if waiting else (idle_since or time.monotonic())
            if idle_since is not None and time.monotonic() - idle_since > 0.5:
                return
            time.sleep(0.1)
            continue
        idle_since = None
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                }
                for m in messages
            ]
        }
        result = functions.invoke("CallbackFunction", event)
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _register(functions: FunctionRegistry, tenant: str, url: str, **extra: Any) -> dict[str, Any]:
    status, endpoint = _api(
        functions, tenant, "POST", "/v1/callbacks/endpoints", {"url": url, **extra}
    )
    assert status == 201, endpoint
    assert endpoint["secret"].startswith("whsec_")
    return dict(endpoint)


def _verify(secret: str, headers: dict[str, str], body: bytes) -> Any:
    return standardwebhooks.Webhook(secret).verify(body, headers)


def test_a_failing_endpoint_gets_the_event_on_the_fourth_attempt_once(
    local_callbacks: LocalStack, functions: FunctionRegistry, merchants: list[Merchant]
) -> None:
    tenant = new_tenant()
    flaky = Merchant(statuses=[500, 500, 500]).start()
    steady = Merchant().start()
    merchants += [flaky, steady]
    flaky_endpoint = _register(functions, tenant, flaky.url)
    steady_endpoint = _register(functions, tenant, steady.url, event_types=["payment.succeeded"])
    envelope = _publish(tenant, "evt_a1")
    _pump(functions)
    assert len(flaky.received) == 4
    assert len(steady.received) == 1  # never re-sent while the flaky one retried
    headers, body = flaky.received[-1]
    payload = _verify(flaky_endpoint["secret"], headers, body)
    assert payload == {
        "type": "payment.succeeded",
        "timestamp": envelope["occurred_at"],
        "data": envelope["data"],
    }
    assert headers["webhook-id"] == "evt_a1"
    assert _verify(steady_endpoint["secret"], *steady.received[0])["type"] == "payment.succeeded"
    status, deliveries = _api(
        functions,
        tenant,
        "GET",
        f"/v1/callbacks/deliveries?event_id=evt_a1&endpoint_id={flaky_endpoint['endpoint_id']}",
    )
    assert status == 200
    assert deliveries["next_cursor"] is None  # the documented page, whole (schemathesis held it)
    [delivery] = deliveries["data"]
    assert delivery["status"] == "delivered"
    assert delivery["created_at"].endswith("Z")
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in delivery["attempts"]] == [
        (1, 500, "retry"),
        (2, 500, "retry"),
        (3, 500, "retry"),
        (4, 204, "delivered"),
    ]
    assert all(a["latency_ms"] >= 0 for a in delivery["attempts"])
    # The same bus event again (EventBridge and SQS deliver at least once): nothing new.
    _publish(tenant, "evt_a1")
    _pump(functions)
    assert (len(flaky.received), len(steady.received)) == (4, 1)


def test_410_disables_the_endpoint(
    local_callbacks: LocalStack, functions: FunctionRegistry, merchants: list[Merchant]
) -> None:
    tenant = new_tenant()
    gone = Merchant(statuses=[410]).start()
    merchants.append(gone)
    endpoint = _register(functions, tenant, gone.url)
    _publish(tenant, "evt_g1")
    _pump(functions)
    _publish(tenant, "evt_g2")
    _pump(functions)
    assert len(gone.received) == 1
    _, listed = _api(functions, tenant, "GET", "/v1/callbacks/endpoints")
    [shown] = listed["data"]
    assert (shown["endpoint_id"], shown["enabled"]) == (endpoint["endpoint_id"], False)
    assert "410" in shown["disabled_reason"]
    assert "secret" not in shown


def test_an_exhausted_schedule_lands_in_the_dlq_and_replay_delivers_it(
    local_callbacks: LocalStack, functions: FunctionRegistry, merchants: list[Merchant]
) -> None:
    tenant = new_tenant()
    down = Merchant(statuses=[500] * 10).start()
    merchants.append(down)
    endpoint = _register(functions, tenant, down.url)
    _publish(tenant, "evt_d1")
    _pump(functions, seconds=60)
    assert len(down.received) == 10
    _, deliveries = _api(functions, tenant, "GET", "/v1/callbacks/deliveries?event_id=evt_d1")
    assert deliveries["data"][0]["status"] == "failed"
    dlq = boto3.client("sqs").get_queue_attributes(
        QueueUrl=get_settings().callback_dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert dlq["Attributes"]["ApproximateNumberOfMessages"] == "1"
    # The merchant is back; the operator re-drives the DLQ with `payctl callbacks replay`.
    from typer.testing import CliRunner

    from payctl.main import callbacks_replay

    runner_app = typer.Typer()
    runner_app.command()(callbacks_replay)
    result = CliRunner().invoke(runner_app, [])
    assert (result.exit_code, result.output) == (0, "replayed 1 delivery(ies)\n")
    _pump(functions)
    assert len(down.received) == 11
    assert _verify(endpoint["secret"], *down.received[-1])["type"] == "payment.succeeded"
    _, deliveries = _api(functions, tenant, "GET", "/v1/callbacks/deliveries?event_id=evt_d1")
    assert deliveries["data"][0]["status"] == "delivered"


def test_timeouts_and_retry_after_are_retried(
    local_callbacks: LocalStack, functions: FunctionRegistry, merchants: list[Merchant]
) -> None:
    tenant = new_tenant()
    slow = Merchant(delays=[1.0]).start()  # the first answer comes too late
    busy = Merchant(statuses=[429]).start()
    merchants += [slow, busy]
    _register(functions, tenant, slow.url)
    _register(functions, tenant, busy.url)
    _publish(tenant, "evt_t1")
    _pump(functions)
    _, deliveries = _api(functions, tenant, "GET", "/v1/callbacks/deliveries?event_id=evt_t1")
    assert all(d["status"] == "delivered" for d in deliveries["data"])
    histories = [
        [(a["status_code"], a["error"] is not None) for a in d["attempts"]]
        for d in deliveries["data"]
    ]
    assert [(429, False), (204, False)] in histories  # Retry-After honoured, then delivered
    timed_out = [h for h in histories if h[0] == (None, True)]  # the timeout, recorded
    assert timed_out
    assert timed_out[0][-1] == (204, False)


def test_both_secrets_sign_during_a_rotation(
    local_callbacks: LocalStack, functions: FunctionRegistry, merchants: list[Merchant]
) -> None:
    tenant = new_tenant()
    merchant = Merchant().start()
    merchants.append(merchant)
    endpoint = _register(functions, tenant, merchant.url)
    status, rotated = _api(
        functions,
        tenant,
        "POST",
        f"/v1/callbacks/endpoints/{endpoint['endpoint_id']}/rotate-secret",
    )
    assert status == 200
    assert rotated["secret"] != endpoint["secret"]
    _publish(tenant, "evt_r1")
    _pump(functions)
    headers, body = merchant.received[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert _verify(endpoint["secret"], headers, body)["type"] == "payment.succeeded"  # old
    assert _verify(rotated["secret"], headers, body)["type"] == "payment.succeeded"  # new
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        _verify("whsec_" + "A" * 44, headers, body)


@pytest.mark.parametrize(
    "url",
    [
        "http://merchant.example.com/hook",  # not https
        "https://10.0.0.5/hook",  # private
        "https://169.254.169.254/latest/meta-data",  # instance metadata
        "https://[::1]/hook",
        "https://user:pass@example.com/hook",
        "ftp://example.com/hook",
    ],
)
def test_endpoint_urls_cannot_reach_private_networks(
    aws: LocalStack, functions: FunctionRegistry, url: str
) -> None:
    status, body = _api(functions, new_tenant(), "POST", "/v1/callbacks/endpoints", {"url": url})
    assert (status, body["error"]["code"]) == (422, "invalid_endpoint_url")


def test_unknown_event_types_and_foreign_deliveries_are_refused(
    local_callbacks: LocalStack, functions: FunctionRegistry, merchants: list[Merchant]
) -> None:
    tenant, other = new_tenant("a"), new_tenant("b")
    merchant = Merchant().start()
    merchants.append(merchant)
    status, body = _api(
        functions,
        tenant,
        "POST",
        "/v1/callbacks/endpoints",
        {"url": merchant.url, "event_types": ["payment.teleported"]},
    )
    assert (status, body["error"]["code"]) == (422, "invalid_value")
    _register(functions, tenant, merchant.url)
    _publish(tenant, "evt_f1")
    _pump(functions)
    _, deliveries = _api(functions, tenant, "GET", "/v1/callbacks/deliveries?event_id=evt_f1")
    delivery_id = deliveries["data"][0]["delivery_id"]
    status, body = _api(functions, other, "POST", f"/v1/callbacks/deliveries/{delivery_id}/retry")
    assert (status, body["error"]["code"]) == (404, "delivery_not_found")
    status, _ = _api(functions, tenant, "POST", f"/v1/callbacks/deliveries/{delivery_id}/retry")
    assert status == 202
    _pump(functions)
    assert len(merchant.received) == 2  # a manual retry re-sends, on purpose


def test_a_worker_that_dies_mid_attempt_does_not_strand_the_delivery(
    local_callbacks: LocalStack, functions: FunctionRegistry, merchants: list[Merchant]
) -> None:
    from datetime import timedelta

    from payments.services.callbacks import deliver, delivery_id_for
    from payments.store import callbacks as store

    tenant = new_tenant()
    merchant = Merchant().start()
    merchants.append(merchant)
    endpoint = _register(functions, tenant, merchant.url)
    delivery_id = delivery_id_for(tenant, "evt_crash", endpoint["endpoint_id"])
    _publish(tenant, "evt_crash")
    # The fan-out runs, then a worker claims the first attempt and dies before sending.
    sqs = boto3.client("sqs")
    [message] = sqs.receive_message(QueueUrl=get_settings().callback_queue_url)["Messages"]
    record = {
        "messageId": "m",
        "receiptHandle": "r",
        "body": message["Body"],
        "attributes": {},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }
    functions.invoke("CallbackFunction", {"Records": [record]})
    sqs.delete_message(
        QueueUrl=get_settings().callback_queue_url, ReceiptHandle=message["ReceiptHandle"]
    )
    delivery = store.get_delivery(delivery_id)
    assert delivery is not None
    assert store.claim_attempt(delivery, timedelta(seconds=60)) == 1
    # While that claim is live, a duplicate task backs off instead of sending.
    task = {
        "task": "deliver",
        "delivery_id": delivery_id,
        "attempts_made": 0,
        "not_before": "2026-01-01T00:00:00Z",
    }
    assert deliver(task) == "claimed_elsewhere"
    assert merchant.received == []
    # Once the lease has lapsed, the retried task takes the next attempt and delivers.
    delivery = store.get_delivery(delivery_id)
    assert delivery is not None
    delivery.update(actions=[type(delivery).claimed_until.set(delivery.created_at)])
    assert deliver(task) == "delivered"
    assert len(merchant.received) == 1
    _pump(functions)  # the original task, still queued, finds the delivery done
    assert len(merchant.received) == 1


def test_a_duplicated_event_does_not_start_a_second_retry_chain(
    local_callbacks: LocalStack, functions: FunctionRegistry, merchants: list[Merchant]
) -> None:
    tenant = new_tenant()
    flaky = Merchant(statuses=[500, 500]).start()
    merchants.append(flaky)
    _register(functions, tenant, flaky.url)
    _publish(tenant, "evt_dup")
    _publish(tenant, "evt_dup")  # the bus and SQS deliver at least once
    _pump(functions)
    _, deliveries = _api(functions, tenant, "GET", "/v1/callbacks/deliveries?event_id=evt_dup")
    [delivery] = deliveries["data"]
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 204]
    assert len(flaky.received) == 3
