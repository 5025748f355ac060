"""What every benchmark shares: paths, the quick switch, summaries of samples, the functions of
`functions/` with their template ids, and the environment Lambda gives each of them."""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
LAYER_DIR = ROOT / "layers" / "shared"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PYTHON = sys.executable
REGION = "us-east-1"
# Lambda's name of a function is <stack>-<LogicalId>-<suffix>; this one is stable.
BENCH_STACK_NAME = "payments-bench"
# Function URLs in the resolved environment (a value only: nothing is called there).
FUNCTION_URLS_BASE = "https://bench.lambda-url.us-east-1.on.aws"


class BenchError(RuntimeError):
    """A benchmark could not measure what it claims to (or found lost/doubled money)."""


def quick_from_env() -> bool:
    return os.environ.get("BENCH_QUICK", "").strip().lower() in {"1", "true", "yes"}


def summary(samples: Sequence[float], digits: int = 3) -> dict[str, Any]:
    """Median, min and max of ``samples`` (rounded) and how many there were."""
    if not samples:
        raise BenchError("no samples to summarise")
    return {
        "median": round(statistics.median(samples), digits),
        "min": round(min(samples), digits),
        "max": round(max(samples), digits),
        "n": len(samples),
    }


@dataclass(frozen=True)
class BenchFunction:
    """One folder of `functions/` and, when the template declares it, its logical id."""

    name: str
    directory: Path
    logical_id: str | None
    memory_mb: int


def bench_functions() -> list[BenchFunction]:
    """Every function in `functions/` (a folder with an app.py), by name."""
    from devstack.template import load_template

    template = load_template()
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    by_dir: dict[Path, tuple[str, int]] = {}
    for logical_id, spec in (template.get("Resources") or {}).items():
        if spec.get("Type") != "AWS::Serverless::Function":
            continue
        properties = spec.get("Properties") or {}
        code_dir = (ROOT / str(properties.get("CodeUri", ""))).resolve()
        memory = int(properties.get("MemorySize") or globals_.get("MemorySize") or 128)
        by_dir[code_dir] = (logical_id, memory)
    found: list[BenchFunction] = []
    for app in sorted(FUNCTIONS_DIR.glob("*/app.py")):
        directory = app.parent.resolve()
        logical_id, memory = by_dir.get(directory, (None, int(globals_.get("MemorySize") or 128)))
        found.append(BenchFunction(directory.name, directory, logical_id, memory))
    if not found:
        raise BenchError(f"no functions found under {FUNCTIONS_DIR}")
    return found


def template_environment(logical_id: str | None, stack: Any | None = None) -> dict[str, str]:
    """The template's Globals environment plus the function's own, resolved against ``stack``
    (a devstack.template.LocalStack; provisioned, or None for names only).

    Without a provisioned stack every resource resolves to a stable name of its own (enough
    for settings that are read, never called, at import). A value that cannot be resolved
    locally is left out, as it would make no difference to what is imported.
    """
    from devstack.template import LocalStack, load_template

    if stack is None:
        stack = LocalStack(load_template(), stack_name=BENCH_STACK_NAME, region=REGION)
        stack.function_urls_base = FUNCTION_URLS_BASE
        for name in stack.resources:
            stack.physical_ids.setdefault(name, stack.default_name(name))
    globals_ = (stack.template.get("Globals") or {}).get("Function") or {}
    sources = [globals_]
    if logical_id is not None:
        sources.append(stack.functions()[logical_id].get("Properties") or {})
    variables: dict[str, str] = {}
    for source in sources:
        for name, value in ((source.get("Environment") or {}).get("Variables") or {}).items():
            try:
                variables[name] = str(stack.resolve(value))
            except KeyError:
                continue
    return variables


def lambda_environment(function: BenchFunction) -> dict[str, str]:
    """What Lambda's python runtime sets for a function (no credentials, no endpoint), plus the
    template's variables. HOME-less, so no ~/.aws file of this machine is read."""
    name = f"{BENCH_STACK_NAME}-{function.logical_id or function.name}"
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "LAMBDA_TASK_ROOT": str(function.directory),
        "_HANDLER": "app.handler",
        # Not this machine's AWS configuration: Lambda has none.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **template_environment(function.logical_id),
    }
