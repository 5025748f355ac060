"""The sweeper's log lines name the sweeper, even while other functions run in the devstack."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

import payments.services.sweeper as sweeper_service
from devstack.lambdas import FunctionRegistry
from devstack.sandboxes.stripe import StripeSandbox
from devstack.template import LocalStack
from payments.config import reset_settings
from payments.services.checkout import CheckoutInput, start_checkout
from payments.services.credentials import set_provider_credentials
from tests.conftest import load_event
from tests.integration.helpers import new_tenant


class _JsonLines(logging.Handler):
    """What the functions' Powertools handler writes, as parsed JSON lines."""

    def __init__(self, powertools_handler: logging.Handler) -> None:
        super().__init__()
        self._source = powertools_handler
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        formatter = self._source.formatter
        assert formatter is not None
        self.lines.append(json.loads(formatter.format(record)))


@pytest.fixture
def paid_without_webhooks(aws: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Two paid Stripe checkouts whose webhooks never came: the sweeper settles both."""
    with StripeSandbox() as sandbox:
        monkeypatch.setenv("PROVIDER_API_BASE_STRIPE", sandbox.base_url)
        monkeypatch.setenv("SWEEPER_PENDING_AGE_MINUTES", "0")
        reset_settings()
        tenant = new_tenant()
        account = sandbox.create_account()  # no webhook endpoint
        set_provider_credentials(
            tenant, "stripe", {"secret_key": account.secret_key, "webhook_secret": "whsec_x"}
        )
        for number in (1, 2):
            checkout = start_checkout(
                tenant,
                CheckoutInput(
                    payable_type="booking",
                    payable_id=f"bk_log_{number}",
                    amount=3000,
                    currency="USD",
                    description="Pedicure",
                    success_url="https://salon.example.com/paid",
                ),
                f"log-{number}",
            )
            paid = requests.post(
                f"{checkout['checkout_url']}/pay", allow_redirects=False, timeout=10
            )
            assert paid.status_code == 303
        yield tenant


def test_a_sweep_logs_its_own_function_name_while_another_function_runs(
    paid_without_webhooks: str,
    functions: FunctionRegistry,
    aws: LocalStack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    functions.handler("SweeperFunction")  # loaded: the service's Powertools handler exists
    service = logging.getLogger(os.environ["POWERTOOLS_SERVICE_NAME"])
    captured = _JsonLines(service.powertools_handler)  # type: ignore[attr-defined]
    service.addHandler(captured)

    # In the middle of the sweep, another function runs to its end on another thread, as the
    # devstack's relays and servers do: its Lambda context must not leak into the sweep's lines.
    real_credentials = sweeper_service.provider_credentials

    def credentials_while_another_function_runs(tenant_id: str, provider: str) -> Any:
        other = threading.Thread(
            target=functions.invoke,
            args=("StatusFunction", load_event("status/get_payment.json")),
        )
        other.start()
        other.join()
        return real_credentials(tenant_id, provider)

    monkeypatch.setattr(
        sweeper_service, "provider_credentials", credentials_while_another_function_runs
    )
    try:
        report = functions.invoke("SweeperFunction", {"detail-type": "Scheduled Event"})
    finally:
        service.removeHandler(captured)

    assert report["settled"] == {"succeeded": 2}
    sweeper_name = aws.default_name("SweeperFunction")
    # The sweep's own lines, and the state changes it committed (the status read commits none).
    sweep_lines = [
        line
        for line in captured.lines
        if str(line["message"]).startswith("sweep") or line["message"] == "payment state committed"
    ]
    assert [line["message"] for line in sweep_lines] == [
        "payment state committed",
        "sweeper settled a payment",
        "payment state committed",
        "sweeper settled a payment",
        "sweep finished",
    ]
    assert {line["function_name"] for line in sweep_lines} == {sweeper_name}
    assert len({line["function_request_id"] for line in sweep_lines}) == 1
    # The other function's own lines carry its name, not the sweeper's.
    others = [line for line in captured.lines if line not in sweep_lines]
    assert all(line.get("function_name") != sweeper_name for line in others)
