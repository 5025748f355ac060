"""Shared test set-up: no real AWS credentials or hosts are ever used."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

# Before anything imports boto3: fake credentials, a fixed region, no tracing.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "payments-tests",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)


def load_event(name: str, **replacements: Any) -> dict[str, Any]:
    """An `events/` sample, with top-level or dotted keys replaced."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    for dotted, value in replacements.items():
        target = event
        *parents, leaf = dotted.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return event
