"""Loads and invokes the real function handlers in-process, as Lambda would."""

from __future__ import annotations

import importlib.util
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack.log_context import run_invocation
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
    """The template's functions as Lambda runs them: warm containers, one request each at a time.

    Lambda never runs two invocations in one container at once, and handlers rely on it (the
    Powertools resolver keeps the current request on the module's ``app``). So concurrent
    invocations of one function get separate containers: each is its own load of the handler
    module, reused for later invocations once it is idle (a warm start).
    """

    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack
        self._idle: dict[str, list[Handler]] = {}
        self._loaded: dict[str, int] = {}
        self._lock = threading.Lock()

    def handler(self, logical_id: str) -> Handler:
        """A warm handler of ``logical_id`` (to inspect its module; it stays in the pool)."""
        handler = self._acquire(logical_id)
        self._release(logical_id, handler)
        return handler

    def _acquire(self, logical_id: str) -> Handler:
        """A handler no other invocation is using: an idle container, or a new one."""
        with self._lock:
            idle = self._idle.setdefault(logical_id, [])
            if idle:
                return idle.pop()
            instance = self._loaded.get(logical_id, 0)
            self._loaded[logical_id] = instance + 1
        return load_handler(self._stack, logical_id, instance)

    def _release(self, logical_id: str, handler: Handler) -> None:
        with self._lock:
            self._idle.setdefault(logical_id, []).append(handler)

    def containers(self, logical_id: str) -> int:
        """How many containers of ``logical_id`` were started so far."""
        with self._lock:
            return self._loaded.get(logical_id, 0)

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        context = LocalLambdaContext(function_name=self._stack.default_name(logical_id))
        handler = self._acquire(logical_id)
        try:
            return run_invocation(handler, event, context)  # its own log keys, as in Lambda
        finally:
            self._release(logical_id, handler)


def load_handler(stack: LocalStack, logical_id: str, instance: int = 0) -> Handler:
    """Import ``CodeUri/<module>.py`` under a name of its own and return its handler."""
    module_name, _, attribute = stack.function_handler(logical_id).rpartition(".")
    path = stack.function_code_dir(logical_id) / f"{module_name.replace('.', '/')}.py"
    unique_name = f"_function_{logical_id}" + (f"_{instance}" if instance else "")
    spec = importlib.util.spec_from_file_location(unique_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique_name] = module
    spec.loader.exec_module(module)
    handler: Handler = getattr(module, attribute)
    return handler
