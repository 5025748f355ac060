"""Each devstack invocation logs with its own Lambda context keys, as each Lambda container does.

Powertools keeps a Logger's keys (``function_name``, ``function_request_id``, ``cold_start``...)
in the formatter of the service's one stdlib logger, a single dict per process. In Lambda a
process runs one invocation at a time, so that is right. The devstack runs every function in one
process, concurrently: an invocation's ``inject_lambda_context(clear_state=True)`` replaced the
keys under every other invocation still running, and a sweep's lines said ``NotifyFunction``
because the outbox relay had started a notification meanwhile. Here the keys live in a
``contextvars`` context per invocation instead.
"""

from __future__ import annotations

import contextvars
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

T = TypeVar("T")

# Per invocation: each formatter's keys (by id), made on first use from the process's keys.
_INVOCATION_KEYS: contextvars.ContextVar[dict[int, dict[str, Any]] | None] = contextvars.ContextVar(
    "devstack_invocation_log_keys", default=None
)


class InvocationLogFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, its keys scoped to the running invocation (if any)."""

    @property  # type: ignore[override]
    def log_format(self) -> dict[str, Any]:
        scoped = _INVOCATION_KEYS.get()
        shared: dict[str, Any] = self.__dict__.setdefault("_process_keys", {})
        if scoped is None:
            return shared
        return scoped.setdefault(id(self), dict(shared))

    @log_format.setter
    def log_format(self, keys: dict[str, Any]) -> None:
        scoped = _INVOCATION_KEYS.get()
        if scoped is None:
            self.__dict__["_process_keys"] = keys
        else:
            scoped[id(self)] = keys


def run_invocation(handler: Callable[[Any, Any], T], event: Any, context: Any) -> T:
    """``handler(event, context)`` with log keys of its own (and the functions' Loggers made to
    keep them so)."""
    _scope_service_logger(os.environ.get("POWERTOOLS_SERVICE_NAME", "service_undefined"))
    return contextvars.copy_context().run(_run_scoped, handler, event, context)


def _run_scoped(handler: Callable[[Any, Any], T], event: Any, context: Any) -> T:
    _INVOCATION_KEYS.set({})
    return handler(event, context)


def _scope_service_logger(service: str) -> None:
    """Every function's ``Logger()`` shares the service logger's one handler: give it ours."""
    handler = getattr(logging.getLogger(service), "powertools_handler", None)
    if not isinstance(handler, logging.Handler) or isinstance(
        handler.formatter, InvocationLogFormatter
    ):
        return
    replacement = InvocationLogFormatter()
    if isinstance(handler.formatter, LambdaPowertoolsFormatter):
        replacement.log_format = dict(handler.formatter.log_format)  # service, sampling_rate
    handler.setFormatter(replacement)
