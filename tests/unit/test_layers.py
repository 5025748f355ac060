"""DESIGN's dependency direction for the handlers: functions -> services (and the edge).

The payments package's own layers are held by import-linter (`make lint`, pyproject.toml);
the handlers are files, not a package, so this test reads their imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))
# What a handler may import of ours: the edge (resolver, request helpers, response models,
# idempotency), the use cases, settings, errors, and domain types for its signatures.
ALLOWED = (
    "payments.http",
    "payments.api_models",
    "payments.idempotency",
    "payments.services",
    "payments.config",
    "payments.errors",
    "payments.domain",
)
# Storage, provider adapters and AWS clients belong behind the services.
FORBIDDEN_EXTERNAL = ("boto3", "botocore", "pynamodb", "stripe")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_every_function_is_checked() -> None:
    assert len(HANDLERS) >= 10


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_handlers_reach_storage_providers_and_aws_only_through_services(handler: Path) -> None:
    ours = [name for name in _imports(handler) if name.split(".")[0] == "payments"]
    assert [name for name in ours if not _within(name, ALLOWED)] == []
    assert [name for name in _imports(handler) if _within(name, FORBIDDEN_EXTERNAL)] == []
