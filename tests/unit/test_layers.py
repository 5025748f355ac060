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
# idempotency), the use cases, settings, errors, domain types for its signatures, and the
# queue consumers' partial batch responses.
ALLOWED = (
    "payments.http",
    "payments.api_models",
    "payments.idempotency",
    "payments.services",
    "payments.config",
    "payments.errors",
    "payments.domain",
    "payments.observability",
    "payments.logs",
    "payments.batch",
)
# Storage, provider adapters and AWS clients belong behind the services.
FORBIDDEN_EXTERNAL = ("boto3", "botocore", "pynamodb", "stripe")
# Logs, metrics and tracing are decided once, in payments.observability: a handler that made its
# own Logger, Metrics or Tracer would log, measure or trace differently from the others.
OBSERVABILITY_OWN = (
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.tracing",
    "aws_xray_sdk",
)
OBSERVABILITY_NAMES = {"Logger", "Metrics", "Tracer", "single_metric", "EphemeralMetrics"}


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


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_handlers_log_and_measure_only_through_the_observability_module(handler: Path) -> None:
    tree = ast.parse(handler.read_text(encoding="utf-8"))
    assert [name for name in _imports(handler) if _within(name, OBSERVABILITY_OWN)] == []
    powertools_names = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("aws_lambda_powertools")
        for alias in node.names
    }
    assert powertools_names & OBSERVABILITY_NAMES == set()
    entry = next(
        node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "handler"
    )
    # The entry point is wrapped by observed(...) and by nothing else.
    decorators = [ast.unparse(decorator) for decorator in entry.decorator_list]
    assert len(decorators) == 1, decorators
    assert decorators[0].startswith("observed("), decorators


def test_only_the_observability_module_makes_loggers_metrics_or_tracers() -> None:
    package = ROOT / "layers/shared/payments"
    makers = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("aws_lambda_powertools")
        and {alias.name for alias in node.names} & OBSERVABILITY_NAMES
    }
    assert makers == {"observability.py", "logs.py"}
