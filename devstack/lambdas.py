"""Loads and invokes the real function handlers in-process, as Lambda would."""

from __future__ import annotations

import importlib.util
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack.template import ACCOUNT_ID, LocalStack

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    timeout_ms: int = 10_000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


class FunctionRegistry:
    """Handlers of the template's functions, each module loaded once (a warm container)."""

    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()

    def handler(self, logical_id: str) -> Handler:
        with self._lock:
            if logical_id not in self._handlers:
                self._handlers[logical_id] = load_handler(self._stack, logical_id)
            return self._handlers[logical_id]

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        context = LocalLambdaContext(function_name=self._stack.default_name(logical_id))
        return self.handler(logical_id)(event, context)


def load_handler(stack: LocalStack, logical_id: str) -> Handler:
    """Import ``CodeUri/<module>.py`` under a name of its own and return its handler."""
    module_name, _, attribute = stack.function_handler(logical_id).rpartition(".")
    path = stack.function_code_dir(logical_id) / f"{module_name.replace('.', '/')}.py"
    unique_name = f"_function_{logical_id}"
    spec = importlib.util.spec_from_file_location(unique_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique_name] = module
    spec.loader.exec_module(module)
    handler: Handler = getattr(module, attribute)
    return handler
