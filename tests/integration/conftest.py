"""Integration tests: the real handlers and services against moto, with the template's tables."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import botocore.client
import pytest
from moto import mock_aws

from devstack.lambdas import FunctionRegistry
from devstack.moto_support import serialize_dynamodb, undo_only_touched_items
from devstack.provision import provision
from devstack.sandboxes.daraja import ChaosSettings, DarajaSandbox, Settings
from devstack.template import LocalStack, load_template
from payments.config import reset_settings
from tests.integration.botocore_models import share_loaded_models
from tests.integration.moto_state import MotoSnapshot

if TYPE_CHECKING:
    from tests.integration.test_callbacks import Merchant


@dataclass(frozen=True)
class ProvisionedAccount:
    """The moto account with every template resource, built once per test session."""

    stack: LocalStack
    snapshot: MotoSnapshot

    def stack_copy(self) -> LocalStack:
        """The stack as provisioned, for one test to read or change on its own."""
        return replace(
            self.stack,
            template=copy.deepcopy(self.stack.template),
            parameters=dict(self.stack.parameters),
            physical_ids=dict(self.stack.physical_ids),
            attributes=dict(self.stack.attributes),
        )


@pytest.fixture(scope="session", autouse=True)
def _botocore_models_parsed_once() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        share_loaded_models(patch)
        yield


@pytest.fixture(scope="session")
def provisioned_account() -> ProvisionedAccount:
    serialize_dynamodb()
    undo_only_touched_items()
    with mock_aws():
        stack = provision(LocalStack(load_template()))
        snapshot = MotoSnapshot.take()
    return ProvisionedAccount(stack=stack, snapshot=snapshot)


@pytest.fixture
def aws(
    monkeypatch: pytest.MonkeyPatch, provisioned_account: ProvisionedAccount
) -> Iterator[LocalStack]:
    """A moto account holding every resource template.yaml declares and nothing else: the
    session's provisioned account restored as it was right after provisioning."""
    serialize_dynamodb()
    undo_only_touched_items()
    with mock_aws():
        provisioned_account.snapshot.restore()
        stack = provisioned_account.stack_copy()
        for name, value in stack.environment().items():
            monkeypatch.setenv(name, value)
        reset_settings()
        yield stack
    reset_settings()


@pytest.fixture
def functions(aws: LocalStack) -> FunctionRegistry:
    return FunctionRegistry(aws)


class AwsCallCounter:
    """Counts AWS API calls made through botocore (any client, pynamodb's included): by
    operation name (calling the counter), and by ``service:Operation`` (``by_action``)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.actions: list[str] = []

    def __call__(self) -> Counter[str]:
        return Counter(self.calls)

    def by_action(self) -> Counter[str]:
        """The calls as IAM names them, e.g. ``dynamodb:GetItem``, ``kms:Decrypt``."""
        return Counter(self.actions)

    def record(self, service: str, operation_name: str) -> None:
        self.calls.append(operation_name)
        self.actions.append(f"{service}:{operation_name}")

    def reset(self) -> None:
        self.calls.clear()
        self.actions.clear()


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch, aws: LocalStack) -> AwsCallCounter:
    counter = AwsCallCounter()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        counter.record(self.meta.service_model.service_name, operation_name)
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


# --- merchant callback endpoints on localhost (test_callbacks.py's Merchant) ---------------


@pytest.fixture
def merchants() -> Iterator[list[Merchant]]:
    """The local merchant endpoints a test starts; stopped after it."""
    started: list[Merchant] = []
    yield started
    for merchant in started:
        merchant.stop()


@pytest.fixture
def local_callbacks(aws: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """Callbacks to localhost allowed, retries on a fast clock, short attempt timeouts."""
    monkeypatch.setenv("ALLOW_LOCAL_CALLBACK_URLS", "true")
    monkeypatch.setenv("CALLBACK_RETRY_TIME_SCALE", "0.00001")  # three days in ~2.6 s
    monkeypatch.setenv("CALLBACK_TIMEOUT_SECONDS", "0.5")
    reset_settings()
    return aws
