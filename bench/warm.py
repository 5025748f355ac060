"""Warm handler overhead per invocation: the real handler called many times in one process,
every AWS call and provider HTTP request answered in-process (bench/replay.py).

Each path runs in a fresh interpreter with its function's Lambda environment (`python -m
bench.warm PATH OUT ITERATIONS`, started by :func:`run_warm`):

1. moto (in-process, ``mock_aws``) gets the template's resources, the provider sandboxes the
   path needs are started in-process, and a tenant with its credentials and payments is made
   through the services;
2. the handler is loaded as the devstack loads it and invoked once (the container's first
   invocation: clients, settings, secrets and tokens are fetched and cached), then once more
   while every outside call is recorded, as a warm container makes them;
3. that second invocation is replayed ``ITERATIONS`` times (after a few untimed ones), each
   timed with the thread's CPU clock (time.thread_time_ns), the event rebuilt (and re-signed)
   before the clock starts;
4. the recorded calls are then answered by the stub alone, without the handler, as many
   times; the median of that is the stub's own CPU per invocation, subtracted from each
   handler sample. What remains is our code, Powertools, pydantic, pynamodb, the stripe
   SDK's request code and the logging, per warm invocation.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    REGION,
    ROOT,
    BenchError,
    bench_functions,
    lambda_environment,
    summary,
    template_environment,
)

EVENTS = ROOT / "events"
WARMUP_INVOCATIONS = 20
RUN_TIMEOUT = 900
# Nothing listens on port 9: where sandbox callbacks and webhooks would go, they fail.
DEAD_END = "http://127.0.0.1:9"
WEBHOOK_SECRET = "whsec_bench_0123456789abcdefghijklmnopqrstuv"  # noqa: S105 - a local test value
FAKE_SECRET_KEY = "sk_test_bench_0123456789abcdefghij"  # noqa: S105 - never leaves the process


@dataclass
class WarmPath:
    """One benchmarked path: the function it runs in and what a success answers."""

    name: str
    function: str  # folder in functions/
    logical_id: str
    expected_status: int
    sandboxes: tuple[str, ...] = ()
    description: str = ""


PATHS = {
    "webhook": WarmPath(
        "webhook",
        "webhook_stripe",
        "WebhookStripeFunction",
        200,
        description="Stripe checkout.session.completed, signed, for a pending payment: verify, "
        "capture with its ledger entry",
    ),
    "checkout": WarmPath(
        "checkout",
        "checkout",
        "CheckoutFunction",
        201,
        ("stripe",),
        "POST /v1/checkout (events/checkout/create.json), a returning customer's e-mail, a new "
        "Idempotency-Key",
    ),
    "stk_push": WarmPath(
        "stk_push",
        "stk_push",
        "StkPushFunction",
        202,
        ("daraja",),
        "POST /v1/mpesa/stk-push (events/stk_push/create.json), Daraja token cached",
    ),
    "status": WarmPath(
        "status",
        "status",
        "StatusFunction",
        200,
        description="GET /v1/payments/{id} (events/status/get_payment.json)",
    ),
}


def _sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def _as_tenant(event: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    event["requestContext"]["authorizer"]["tenant_id"] = tenant_id
    return event


def _with_key(event: dict[str, Any], key: str) -> dict[str, Any]:
    event["headers"]["Idempotency-Key"] = key
    event["multiValueHeaders"]["Idempotency-Key"] = [key]
    return event


# --- scenarios: (run inside the path's own process, under moto) ------------------------------


@dataclass
class Scenario:
    """Two events: the container's first invocation, and the warm one that is measured."""

    first: Callable[[], dict[str, Any]]
    warm: Callable[[], dict[str, Any]]
    check: Callable[[dict[str, Any]], None] = field(default=lambda _: None)


def _webhook_scenario(sandboxes: dict[str, Any]) -> Scenario:
    from bench.stripe_events import function_url_event, session_completed
    from payments.domain.states import PaymentStatus
    from payments.services.credentials import set_provider_credentials
    from payments.services.tenants import create_tenant
    from payments.services.transitions import apply_transition, create_payment
    from payments.store import repositories

    tenant_id = create_tenant("Bench Salon").tenant_id
    set_provider_credentials(
        tenant_id, "stripe", {"secret_key": FAKE_SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}
    )
    sample = _sample("webhook_stripe/checkout_session_completed.json")
    bodies: list[tuple[str, bytes]] = []
    for number in range(2):
        payment = create_payment(
            tenant_id=tenant_id,
            payable_type="booking",
            payable_id=f"bk_bench_{number}",
            amount=4500,
            currency="USD",
            provider="stripe",
            description="Massage",
        )
        session_id = f"cs_test_bench_{number}"
        apply_transition(
            tenant_id=tenant_id,
            payment_id=payment.payment_id,
            requested=PaymentStatus.PENDING,
            source="api",
            changes={"provider_ref": session_id},
        )
        body = session_completed(
            event_id=f"evt_bench_{number}",
            session_id=session_id,
            payment_id=payment.payment_id,
            tenant_id=tenant_id,
            amount=4500,
            currency="USD",
            intent_id=f"pi_bench_{number}",
        )
        bodies.append((payment.payment_id, body))

    def event(number: int) -> Callable[[], dict[str, Any]]:
        return lambda: function_url_event(sample, tenant_id, bodies[number][1], WEBHOOK_SECRET)

    def captured(_: dict[str, Any]) -> None:
        payment = repositories.get_payment(tenant_id, bodies[1][0])
        if payment is None or payment.status != PaymentStatus.SUCCEEDED:
            raise BenchError("the recorded webhook did not capture its payment")

    return Scenario(event(0), event(1), captured)


def _checkout_scenario(sandboxes: dict[str, Any]) -> Scenario:
    from devstack.stack import connect_stripe
    from payments.services.tenants import create_tenant

    tenant_id = create_tenant("Bench Salon").tenant_id
    connect_stripe(tenant_id, sandboxes["stripe"], f"{DEAD_END}/WebhookStripeFunction")
    sample = _as_tenant(_sample("checkout/create.json"), tenant_id)

    def event(key: str) -> Callable[[], dict[str, Any]]:
        return lambda: _with_key(json.loads(json.dumps(sample)), key)

    def pending(response: dict[str, Any]) -> None:
        if json.loads(response["body"]).get("status") != "pending":
            raise BenchError(f"the recorded checkout is not pending: {response['body']}")

    return Scenario(event("bench-first"), event("bench-warm"), pending)


def _stk_push_scenario(sandboxes: dict[str, Any]) -> Scenario:
    from devstack.sandboxes.daraja import Settings
    from devstack.stack import mpesa_credential_values
    from payments.services.credentials import set_provider_credentials
    from payments.services.tenants import create_tenant

    daraja = sandboxes["daraja"]
    daraja.settings = Settings(no_answer_delay_seconds=3600)  # the prompts stay open
    tenant_id = create_tenant("Bench Hotspot").tenant_id
    app = daraja.create_app(shortcode="600999")
    set_provider_credentials(tenant_id, "mpesa", mpesa_credential_values(app))
    sample = _as_tenant(_sample("stk_push/create.json"), tenant_id)

    def event(key: str, phone: str) -> Callable[[], dict[str, Any]]:
        def build() -> dict[str, Any]:
            built = _with_key(json.loads(json.dumps(sample)), key)
            body = json.loads(built["body"])
            body["phone_number"] = phone
            built["body"] = json.dumps(body)
            return built

        return build

    def pending(response: dict[str, Any]) -> None:
        if json.loads(response["body"]).get("status") != "pending":
            raise BenchError(f"the recorded STK push is not pending: {response['body']}")

    return Scenario(
        event("bench-first", "254708374149"), event("bench-warm", "254708374150"), pending
    )


def _status_scenario(sandboxes: dict[str, Any]) -> Scenario:
    from payments.domain.payment import Customer
    from payments.services.tenants import create_tenant
    from payments.services.transitions import create_payment

    tenant_id = create_tenant("Bench Salon").tenant_id
    payment_id = create_payment(
        tenant_id=tenant_id,
        payable_type="booking",
        payable_id="bk_bench",
        amount=2500,
        currency="KES",
        provider="stripe",
        description="Haircut",
        customer=Customer(email="customer@example.com"),
    ).payment_id
    sample = _as_tenant(_sample("status/get_payment.json"), tenant_id)
    sample["path"] = f"/v1/payments/{payment_id}"
    sample["pathParameters"] = {"payment_id": payment_id}

    def event() -> dict[str, Any]:
        built: dict[str, Any] = json.loads(json.dumps(sample))
        return built

    def found(response: dict[str, Any]) -> None:
        if json.loads(response["body"]).get("payment_id") != payment_id:
            raise BenchError(f"the recorded status read is not the payment: {response['body']}")

    return Scenario(event, event, found)


SCENARIOS: dict[str, Callable[[dict[str, Any]], Scenario]] = {
    "webhook": _webhook_scenario,
    "checkout": _checkout_scenario,
    "stk_push": _stk_push_scenario,
    "status": _status_scenario,
}


# --- in the path's process -------------------------------------------------------------------


@contextmanager
def _sandboxes(names: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    from devstack.sandboxes.daraja import DarajaSandbox
    from devstack.sandboxes.stripe import StripeSandbox

    makers = {"stripe": StripeSandbox, "daraja": DarajaSandbox}
    with ExitStack() as stack:
        yield {name: stack.enter_context(makers[name]()) for name in names}


def measure_path(path: WarmPath, iterations: int) -> dict[str, Any]:
    from moto import mock_aws

    from bench.replay import CallStub, installed
    from devstack.lambdas import LocalLambdaContext, load_handler
    from devstack.moto_support import serialize_dynamodb
    from devstack.provision import provision
    from devstack.template import LocalStack, load_template
    from payments.config import reset_settings

    serialize_dynamodb()
    with _sandboxes(path.sandboxes) as sandboxes, mock_aws():
        parameters = {}
        if "stripe" in sandboxes:
            parameters["StripeApiBase"] = sandboxes["stripe"].base_url
        if "daraja" in sandboxes:
            parameters["MpesaApiBase"] = sandboxes["daraja"].base_url
        stack = LocalStack(load_template(), region=REGION, parameters=parameters)
        stack.function_urls_base = DEAD_END
        provision(stack)
        os.environ.update(template_environment(path.logical_id, stack))
        reset_settings()
        scenario = SCENARIOS[path.name](sandboxes)
        handler = load_handler(stack, path.logical_id)
        function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]

        def invoke(event: dict[str, Any]) -> dict[str, Any]:
            response: dict[str, Any] = handler(event, LocalLambdaContext(function_name))
            if response.get("statusCode") != path.expected_status:
                raise BenchError(
                    f"{path.name}: answered {response.get('statusCode')}, expected "
                    f"{path.expected_status}: {str(response.get('body'))[:500]}"
                )
            return response

        stub = CallStub()
        with installed(stub):
            stub.record()
            invoke(scenario.first())
            recording = stub.record()
            warm_response = invoke(scenario.warm())
            stub.mode = "off"
            scenario.check(warm_response)
            keys = [call.key for call in recording]
            handler_ns: list[int] = []
            for number in range(WARMUP_INVOCATIONS + iterations):
                event = scenario.warm()
                context = LocalLambdaContext(function_name)
                stub.replay(recording)
                started = time.thread_time_ns()
                response = handler(event, context)
                elapsed = time.thread_time_ns() - started
                if response.get("statusCode") != path.expected_status:
                    raise BenchError(f"{path.name}: a replayed invocation answered {response}")
                if stub.unanswered():
                    raise BenchError(
                        f"{path.name}: the replay took another path; never asked: "
                        f"{stub.unanswered()}"
                    )
                if number >= WARMUP_INVOCATIONS:
                    handler_ns.append(elapsed)
            extra_calls = stub.extra_calls
            stub_ns: list[int] = []
            for _ in range(WARMUP_INVOCATIONS + iterations):
                stub.replay(recording)
                started = time.thread_time_ns()
                for call in recording:
                    stub.call_alone(call)
                stub_ns.append(time.thread_time_ns() - started)
            stub_ns = stub_ns[WARMUP_INVOCATIONS:]
    stub_median = statistics.median(stub_ns)
    return {
        "function": path.function,
        "description": path.description,
        "overhead_us": summary([(h - stub_median) / 1000 for h in handler_ns], 1),
        "handler_us": summary([h / 1000 for h in handler_ns], 1),
        "stub_us": summary([s / 1000 for s in stub_ns], 1),
        "stubbed_calls": {
            "aws": sorted(k for k in keys if not k.startswith(("stripe ", "urllib "))),
            "http": sorted(k for k in keys if k.startswith(("stripe ", "urllib "))),
        },
        # Calls the replay answered beyond the recording (caches expiring meanwhile).
        "unrecorded_calls": extra_calls,
    }


def main(argv: list[str]) -> int:
    name, out_file, iterations = argv[0], Path(argv[1]), int(argv[2])
    result = measure_path(PATHS[name], iterations)
    out_file.write_text(json.dumps(result), encoding="utf-8")
    return 0


# --- the orchestrator ------------------------------------------------------------------------


def run_warm(iterations: int, paths: list[str] | None = None) -> dict[str, Any]:
    """Every path (or those named) in its own interpreter; its logs (stdout) are dropped, as
    Lambda ships them elsewhere."""
    functions = {f.name: f for f in bench_functions()}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as folder:
        for name in paths or list(PATHS):
            path = PATHS[name]
            out = Path(folder) / f"{name}.json"
            environment = {
                **lambda_environment(functions[path.function]),
                # moto's fake account: nothing leaves the process.
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                # No X-Ray daemon or facade segment outside Lambda (see bench/README.md).
                "POWERTOOLS_TRACE_DISABLED": "true",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
            completed = subprocess.run(  # noqa: S603 - our own interpreter and module
                [PYTHON, "-m", "bench.warm", name, str(out), str(iterations)],
                cwd=ROOT,
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                timeout=RUN_TIMEOUT,
                check=False,
            )
            if completed.returncode != 0 or not out.exists():
                raise BenchError(
                    f"warm path {name} failed ({completed.returncode}):\n{completed.stderr[-4000:]}"
                )
            results[name] = json.loads(out.read_text(encoding="utf-8"))
    return {"iterations": iterations, "warmup_invocations": WARMUP_INVOCATIONS, "paths": results}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
