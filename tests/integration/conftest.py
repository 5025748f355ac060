"""Integration tests: the real handlers and services against moto, with the template's tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import botocore.client
import pytest
from moto import mock_aws

from devstack.lambdas import FunctionRegistry
from devstack.moto_support import serialize_dynamodb
from devstack.provision import provision
from devstack.sandboxes.daraja import ChaosSettings, DarajaSandbox, Settings
from devstack.template import LocalStack, load_template
from payments.config import reset_settings


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    """A fresh moto account holding every resource template.yaml declares."""
    serialize_dynamodb()
    with mock_aws():
        stack = provision(LocalStack(load_template()))
        for name, value in stack.environment().items():
            monkeypatch.setenv(name, value)
        reset_settings()
        yield stack
    reset_settings()


@pytest.fixture
def functions(aws: LocalStack) -> FunctionRegistry:
    return FunctionRegistry(aws)


class AwsCallCounter:
    """Counts AWS API calls made through botocore (any client, pynamodb's included)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self) -> Counter[str]:
        return Counter(self.calls)

    def reset(self) -> None:
        self.calls.clear()


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch, aws: LocalStack) -> AwsCallCounter:
    counter = AwsCallCounter()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        counter.calls.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return counter


# Nothing listens on port 9: Daraja sandbox callbacks to it fail, and tests deliver the body.
MPESA_WEBHOOK_BASE = "http://127.0.0.1:9/WebhookMpesaFunction/"


@pytest.fixture(scope="module")
def daraja_sandbox() -> Iterator[DarajaSandbox]:
    with DarajaSandbox() as running:
        yield running


@pytest.fixture
def daraja(
    aws: LocalStack, daraja_sandbox: DarajaSandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DarajaSandbox]:
    """The Daraja sandbox as M-PESA's API (and where pushes say callbacks go), its settings and
    chaos switches fresh for each test; "no answer" ends a push after 0.2 s."""
    monkeypatch.setenv("PROVIDER_API_BASE_MPESA", daraja_sandbox.base_url)
    monkeypatch.setenv("PROVIDER_WEBHOOK_URL_MPESA", MPESA_WEBHOOK_BASE)
    reset_settings()
    daraja_sandbox.settings = Settings(no_answer_delay_seconds=0.2)
    daraja_sandbox.chaos = ChaosSettings()
    yield daraja_sandbox
    daraja_sandbox.settings, daraja_sandbox.chaos = Settings(), ChaosSettings()
