"""Each function imports only what its own path needs (cold starts pay for every import)."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache

import pytest

from tests.conftest import ROOT

PROBE = """
import importlib.util, json, sys
sys.path.insert(0, {layer!r})
spec = importlib.util.spec_from_file_location("app", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted(sys.modules)))
"""

QUEUE_CONSUMER_NOT = {
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes",
    "asyncio",
    "payments.http",
    "payments.api_models",
}
# Modules that belong to other functions' paths, to tooling, or to SDKs a function never calls.
NOT_FOR = {
    "checkout": {
        "payments.services.webhooks",
        "payments.services.provider_events",
        "payments.services.refunds",
        "payments.services.status",
        "payments.services.ledger_check",
        "payments.services.auth",
        "aws_xray_sdk",
        "typer",
        "rich",
        "moto",
        "devstack",
        "requests_mock",
    },
    "webhook_stripe": {
        "payments.services.checkout",
        "payments.services.customers",
        "payments.idempotency",
        "payments.http",
        "payments.services.status",
        "payments.services.ledger_check",
        "aws_xray_sdk",
    },
    "authorizer": {"stripe", "payments.providers.stripe", "payments.services.transitions"},
    # Queue consumers answer partial batches with payments.batch: Powertools' batch package
    # imports asyncio and every event data class of Powertools.
    "callback": QUEUE_CONSUMER_NOT,
    "notify": QUEUE_CONSUMER_NOT,
    "health": {"stripe", "pynamodb", "payments.store.repositories"},
    # The docs function serves a committed file: no handler, no data access, no generator.
    # A plain read never pays for the refresh path (the provider pipeline, credentials).
    "status": {
        "payments.services.sweeper",
        "payments.services.provider_events",
        "payments.services.transitions",
        "payments.services.credentials",
        "stripe",
    },
    "docs": {
        "stripe",
        "pynamodb",
        "boto3",
        "payments.store",
        "payments.services",
        "payments.providers",
        "scripts",
    },
}
# What only the docs function and the build-time generator may load: no other function pays for
# the API's own documentation at its cold start. (Powertools' resolver itself imports
# openapi.merge; what it costs is the resolver's, not ours.)
DOCS_ONLY = {
    "aws_lambda_powertools.event_handler.openapi.swagger_ui",
    "scripts.openapi",
}


# No function pays for these at its cold start: tracing is Lambda's own (docs/decisions.md),
# settings are read by our own loader, not pydantic-settings (its sources cost 50-100 ms), and
# tooling never reaches a function.
EVERY_FUNCTION = {
    "aws_xray_sdk",
    "pydantic_settings",
    "typer",
    "rich",
    "moto",
    "devstack",
    "pytest",
}
ALL_FUNCTIONS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))


@cache  # one fresh interpreter per function, whichever tests ask about it
def _loaded(function: str) -> frozenset[str]:
    output = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE.format(
                layer=str(ROOT / "layers/shared"), path=str(ROOT / f"functions/{function}/app.py")
            ),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
    ).stdout
    return frozenset(json.loads(output))


@pytest.mark.parametrize("function", ALL_FUNCTIONS)
def test_functions_import_nothing_they_do_not_use(function: str) -> None:
    loaded = _loaded(function)
    banned_here = EVERY_FUNCTION | NOT_FOR.get(function, set())
    unexpected = {
        name
        for name in loaded
        if any(name == banned or name.startswith(banned + ".") for banned in banned_here)
    }
    assert unexpected == set()


def test_provider_sdks_load_only_when_a_provider_is_used() -> None:
    # The registry imports an adapter on first use: at import time no function holds Stripe.
    for function in ("checkout", "refunds", "webhook_stripe", "status"):
        assert "stripe" not in _loaded(function), function


@pytest.mark.parametrize(
    "function", ["checkout", "refunds", "status", "callbacks_api", "health", "webhook_stripe"]
)
def test_no_function_but_docs_loads_the_api_documentation(function: str) -> None:
    loaded = _loaded(function)
    assert {name for name in loaded if any(name.startswith(d) for d in DOCS_ONLY)} == set()
