"""Devstack throughput: signed Stripe webhooks into the running devstack, with money checked.

1. `python -m devstack --free-ports` is started as `make dev` runs it (a process of its own,
   its own process group, stopped with Ctrl-C's SIGINT), with the checkout budget raised
   (RATE_LIMIT_CHECKOUT) so that making the payments is not refused; the API's usage plan is
   left as it is and its 429s are waited out.
2. Open payments are made through the API with the demo key (POST /v1/checkout, USD, each its
   own amount); their sessions are read from the embedded AWS as `payctl --local` reads it, and
   the tenant's webhook secret the same way (it is never printed).
3. A warm-up round delivers the first ``warmup_payments`` of them (the containers start, the
   rate is estimated with the table about as full as in the run), more payments are made if
   the rest would not last ``duration`` with a margin, then ``concurrency``
   threads deliver one `checkout.session.completed` per payment to the webhook function URL
   for ``duration`` seconds, each signed with the stripe SDK's routine; every ``REDELIVER_EVERY``
   th delivery is followed by an exact re-delivery (same bytes, same signature) of one just sent
   or about to be sent, so some race their original. A non-2xx answer is retried, as Stripe
   retries, up to ``ATTEMPTS`` times.
4. Then the data: `payctl --local ledger verify` must pass; every payment whose delivery was
   answered 2xx must be `succeeded`, captured for its amount, with exactly one journal entry
   debiting Stripe clearing by its amount (none: lost; more: doubled); payments never delivered
   must have none; the journal's captured total must equal the delivered payments' amounts.
   Any lost, doubled, phantom or undeliverable payment fails the benchmark (BenchError).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.common import PYTHON, ROOT, BenchError
from bench.stripe_events import delivery_headers, session_completed

STARTUP_TIMEOUT = 180
REDELIVER_EVERY = 10  # one exact re-delivery per ten deliveries
ATTEMPTS = 5
RETRY_PAUSE_SECONDS = 0.5
CREATE_THREADS = 4
# Payments made per payment the warm-up's second round says the run will consume.
POOL_MARGIN = 1.5
# Amounts differ from payment to payment (1000 + n * step mod 9000), so that a capture booked
# on the wrong payment shows in the totals.
AMOUNT_STEP = 7919
STRIPE_CLEARING = "provider_clearing:stripe"
CURRENCY = "USD"


@dataclass
class OpenPayment:
    number: int
    payment_id: str
    amount: int
    session_id: str = ""
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delivered: bool = False  # some delivery of its event was answered 2xx
    failed: bool = False  # some delivery kept failing after every attempt


@dataclass
class RunningDevStack:
    process: subprocess.Popen[bytes]
    state_file: Path
    info: dict[str, Any]

    def payctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own payctl
            [
                str(Path(PYTHON).parent / "payctl"),
                "--local",
                "--state-file",
                str(self.state_file),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=ROOT,
        )


@contextmanager
def running_devstack(folder: Path) -> Iterator[RunningDevStack]:
    state_file, log_file = folder / "state.json", folder / "devstack.log"
    environment = {
        **os.environ,
        "RATE_LIMIT_CHECKOUT": json.dumps({"capacity": 1_000_000, "window_seconds": 60}),
    }
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        environment.pop(name, None)
    with log_file.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [PYTHON, "-m", "devstack", "--free-ports", "--state-file", str(state_file)],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        printed = ""
        while "Press Ctrl-C to stop." not in printed:
            if process.poll() is not None or time.monotonic() > deadline:
                # Not the banner (it holds the demo key): only how it ended.
                tail = [line for line in printed.splitlines() if "KEY=" not in line][-30:]
                raise BenchError("the devstack did not start:\n" + "\n".join(tail))
            time.sleep(0.2)
            printed = log_file.read_text(encoding="utf-8", errors="replace")
        yield RunningDevStack(process, state_file, json.loads(state_file.read_text("utf-8")))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


@contextmanager
def local_aws(stack: RunningDevStack) -> Iterator[None]:
    """This process's payments package pointed at the devstack's embedded AWS, as payctl's
    --local does; the environment is restored afterwards."""
    from payctl.main import target_environment
    from payments.config import reset_settings

    saved = dict(os.environ)
    os.environ.update(target_environment(None, True, stack.state_file, None))
    reset_settings()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()


def _create_payments(
    stack: RunningDevStack, first: int, count: int, amount_step: int
) -> list[OpenPayment]:
    """``count`` checkouts through the API with the demo key, on a few threads."""
    base, key = stack.info["api_base_url"], stack.info["api_key"]
    made: list[OpenPayment] = []
    numbers = iter(range(first, first + count))
    lock = threading.Lock()
    errors: list[str] = []

    def work() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        while not errors:
            with lock:
                number = next(numbers, None)
            if number is None:
                return
            amount = 1000 + (number * amount_step) % 9000  # USD 10.00 to 99.99
            body = {
                "payable_type": "bench",
                "payable_id": f"wh_{number}",
                "amount": amount,
                "currency": CURRENCY,
                "description": "Throughput benchmark",
                "success_url": "http://127.0.0.1/thanks",
            }
            while True:
                response = session.post(
                    f"{base}/v1/checkout",
                    json=body,
                    headers={"Idempotency-Key": f"bench-throughput-{number}"},
                    timeout=60,
                )
                if response.status_code != 429:
                    break
                time.sleep(float(response.headers.get("Retry-After") or 1))
            if response.status_code != 201:
                errors.append(f"checkout {number}: {response.status_code} {response.text[:300]}")
                return
            with lock:
                made.append(OpenPayment(number, response.json()["payment_id"], amount))

    threads = [threading.Thread(target=work, daemon=True) for _ in range(CREATE_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise BenchError(f"making the payments failed: {errors[0]}")
    made.sort(key=lambda p: p.number)
    return made


def _prepare_events(payments: list[OpenPayment], tenant_id: str) -> None:
    from payments.store import repositories

    for payment in payments:
        stored = repositories.get_payment(tenant_id, payment.payment_id)
        if stored is None or not stored.provider_ref or stored.status.value != "pending":
            raise BenchError(f"{payment.payment_id} is not a pending checkout")
        payment.session_id = stored.provider_ref
        payment.body = session_completed(
            event_id=f"evt_bench_{payment.number}",
            session_id=stored.provider_ref,
            payment_id=payment.payment_id,
            tenant_id=tenant_id,
            amount=payment.amount,
            currency=CURRENCY,
            intent_id=f"pi_bench_{payment.number}",
        )


def _plan(payments: list[OpenPayment], concurrency: int) -> list[tuple[OpenPayment, bool]]:
    """Deliveries in order: each payment once, and after every REDELIVER_EVERY-th an exact
    re-delivery of the event just queued or of one queued a little earlier (lag 0, 1 or
    ``concurrency``: racing its original, or just after it)."""
    planned: list[tuple[OpenPayment, bool]] = []
    lags = (0, 1, concurrency)
    for index, payment in enumerate(payments):
        planned.append((payment, False))
        if index % REDELIVER_EVERY == REDELIVER_EVERY - 1:
            lag = lags[(index // REDELIVER_EVERY) % len(lags)]
            planned.append((payments[max(0, index - lag)], True))
    return planned


@dataclass
class RoundResult:
    seconds: float
    deliveries: int  # answered 2xx
    redeliveries: int
    attempts: int
    retried: int
    latencies_ms: list[float]
    exhausted: bool


def _deliver(
    url: str,
    secret: str,
    planned: list[tuple[OpenPayment, bool]],
    concurrency: int,
    duration: float | None,
) -> RoundResult:
    """Send ``planned`` on ``concurrency`` threads until done or ``duration`` is over."""
    lock = threading.Lock()
    queue = iter(planned)
    latencies: list[float] = []
    counts = {"deliveries": 0, "redeliveries": 0, "attempts": 0, "retried": 0}
    exhausted = False
    started = time.monotonic()
    deadline = started + duration if duration is not None else math.inf

    def work() -> None:
        nonlocal exhausted
        session = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                item = next(queue, None)
                if item is None:
                    exhausted = True
                    return
                payment, again = item
                if not payment.headers:  # signed when first sent; a re-delivery reuses it
                    payment.headers = delivery_headers(payment.body, secret)
                headers = dict(payment.headers)
            for attempt in range(1, ATTEMPTS + 1):
                sent = time.perf_counter()
                try:
                    response = session.post(url, data=payment.body, headers=headers, timeout=60)
                    status = response.status_code
                except requests.RequestException:
                    status = 0
                elapsed = (time.perf_counter() - sent) * 1000
                with lock:
                    latencies.append(elapsed)
                    counts["attempts"] += 1
                    if 200 <= status < 300:
                        payment.delivered = True
                        counts["redeliveries" if again else "deliveries"] += 1
                        break
                    counts["retried"] += 1
                if attempt == ATTEMPTS:
                    with lock:
                        payment.failed = True
                    break
                time.sleep(RETRY_PAUSE_SECONDS)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    return RoundResult(
        seconds,
        counts["deliveries"],
        counts["redeliveries"],
        counts["attempts"],
        counts["retried"],
        latencies,
        exhausted,
    )


def _table_items() -> int:
    """Items in the payments table now (moto's TransactWriteItems copies the whole table once
    per item it writes, so the devstack slows down as the table grows)."""
    import boto3

    from payments.config import get_settings

    client = boto3.client("dynamodb")
    kwargs: dict[str, Any] = {"TableName": get_settings().payments_table_name, "Select": "COUNT"}
    items = 0
    while True:
        page = client.scan(**kwargs)
        items += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return round(ordered[index], 1)


def _check_money(stack: RunningDevStack, payments: list[OpenPayment]) -> dict[str, Any]:
    """Lost, doubled and phantom captures, against the journal and the payments."""
    from payments.store import repositories
    from payments.store.mapping import stored_amount

    tenant_id = stack.info["tenant_id"]
    captures: dict[str, list[int]] = {}
    for entry in repositories.journal_entries(tenant_id):
        debited = sum(
            int(stored_amount(line.currency, line.debit))
            for line in entry.lines
            if line.account == STRIPE_CLEARING and line.currency == CURRENCY
        )
        if debited:
            captures.setdefault(entry.payment_id, []).append(debited)
    ours = {payment.payment_id for payment in payments}
    lost, doubled, wrong, phantom = [], [], [], []
    for payment in payments:
        stored = repositories.get_payment(tenant_id, payment.payment_id)
        entries = captures.get(payment.payment_id, [])
        if not payment.delivered:
            if entries:
                phantom.append(payment.payment_id)
            continue
        if len(entries) > 1 or (stored is not None and stored.amount_captured > payment.amount):
            doubled.append(payment.payment_id)
        elif (
            not entries
            or stored is None
            or stored.status.value != "succeeded"
            or stored.amount_captured != payment.amount
        ):
            lost.append(payment.payment_id)
        elif entries != [payment.amount]:
            wrong.append(payment.payment_id)
    phantom += sorted(set(captures) - ours)
    expected = sum(p.amount for p in payments if p.delivered)
    captured = sum(sum(amounts) for amounts in captures.values())
    return {
        "payments_delivered": sum(p.delivered for p in payments),
        "lost": len(lost),
        "doubled": len(doubled),
        "wrong_amount": len(wrong),
        "phantom": len(phantom),
        "expected_captured_minor_units": expected,
        "ledger_captured_minor_units": captured,
        "examples": (lost + doubled + wrong + phantom)[:5],
    }


def run_throughput(
    duration: float, concurrency: int = 4, warmup_payments: int = 20, first_pool: int = 80
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-devstack-") as folder,
        running_devstack(Path(folder)) as stack,
        local_aws(stack),
    ):
        from payments.services.credentials import provider_credentials

        tenant_id = stack.info["tenant_id"]
        url = f"{stack.info['function_urls_base']}/WebhookStripeFunction/{tenant_id}"
        secret = provider_credentials(tenant_id, "stripe").require("webhook_secret")
        created_at = time.monotonic()
        made = _create_payments(stack, 0, warmup_payments + first_pool, AMOUNT_STEP)
        _prepare_events(made, tenant_id)
        creation_rate = len(made) / (time.monotonic() - created_at)
        warmup, pool = made[:warmup_payments], made[warmup_payments:]
        # Two warm-up rounds: in the first the containers start (their first invocations
        # understate the rate two- to threefold), the second's rate says how many payments
        # the run needs.
        half = len(warmup) // 2
        starting = _deliver(url, secret, _plan(warmup[:half], concurrency), concurrency, None)
        first = _deliver(url, secret, _plan(warmup[half:], concurrency), concurrency, None)
        rate = (first.deliveries + first.redeliveries) / first.seconds
        distinct_share = REDELIVER_EVERY / (REDELIVER_EVERY + 1)
        needed = math.ceil(rate * duration * POOL_MARGIN * distinct_share)
        if needed > len(pool):
            more = _create_payments(stack, len(made), needed - len(pool), AMOUNT_STEP)
            _prepare_events(more, tenant_id)
            pool += more
        items_before = _table_items()
        run = _deliver(url, secret, _plan(pool, concurrency), concurrency, duration)
        if run.exhausted:
            raise BenchError(
                f"the {len(pool)} payments made for the run were used up after "
                f"{run.seconds:.1f} s of {duration} s; run again"
            )
        verified = stack.payctl("ledger", "verify")
        money = _check_money(stack, warmup + pool)
        items_after = _table_items()
    everyone = warmup + pool
    result = {
        "duration_s": round(run.seconds, 1),
        "concurrency": concurrency,
        "redelivery_every": REDELIVER_EVERY,
        "payments_made": len(everyone),
        "checkouts_per_s_while_making": round(creation_rate, 1),
        "warmup_webhooks_per_s": round(rate, 1),
        "webhooks_per_s": round((run.deliveries + run.redeliveries) / run.seconds, 1),
        "captures_per_s": round(run.deliveries / run.seconds, 1),
        "webhooks": run.deliveries + run.redeliveries,
        "redeliveries": run.redeliveries,
        "retried_attempts": run.retried + first.retried + starting.retried,
        "failed_deliveries": sum(p.failed and not p.delivered for p in everyone),
        "payments_table_items": {"before_run": items_before, "after_run": items_after},
        "latency_ms": {
            "p50": _percentile(run.latencies_ms, 0.50),
            "p99": _percentile(run.latencies_ms, 0.99),
            "max": _percentile(run.latencies_ms, 1.0),
            "n": len(run.latencies_ms),
        },
        "ledger_verify": {
            "exit_status": verified.returncode,
            "output": verified.stdout.strip().splitlines()[-1:]
            + verified.stderr.strip().splitlines()[:5],
        },
        "money": money,
    }
    problems = []
    if verified.returncode != 0:
        problems.append("payctl ledger verify failed")
    for name in ("lost", "doubled", "wrong_amount", "phantom"):
        if money[name]:
            problems.append(f"{money[name]} {name}")
    if money["ledger_captured_minor_units"] != money["expected_captured_minor_units"]:
        problems.append("the ledger's captured total differs from the delivered payments'")
    if result["failed_deliveries"]:
        problems.append(
            f"{result['failed_deliveries']} deliveries failed after {ATTEMPTS} attempts"
        )
    result["problems"] = problems
    return result
