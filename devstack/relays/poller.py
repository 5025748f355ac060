"""What every relay shares: the function invoker, and a poller that never dies silently."""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 5.0


class FunctionInvoker(Protocol):
    """What the relays need of :class:`FunctionRegistry`."""

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any: ...


class OneInvocationAtATime:
    """Invokes each function one event at a time, as one Lambda container does.

    Handlers keep per-container state at module level (cached settings and clients, say),
    and here every invocation shares one module: a function's SQS batches and scheduled runs
    must not overlap. (Lambda would scale out to more containers; locally they take turns.)
    """

    def __init__(self, functions: FunctionInvoker) -> None:
        self._functions = functions
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        with self._guard:
            lock = self._locks.setdefault(logical_id, threading.Lock())
        with lock:
            return self._functions.invoke(logical_id, event)


class _StopRequestedError(Exception):
    """Raised inside a poll when stop() interrupts a wait; nothing is checkpointed."""


class Poller:
    """Calls ``poll_once`` on a daemon thread until stopped. A failing poll is logged with its
    traceback and retried with backoff: a crashed loop never dies silently nor spins."""

    name = "poller"

    def __init__(self, *, idle_wait: float) -> None:
        self.idle_wait = idle_wait
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> int:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"relay:{self.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        self._stopping.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("%s did not stop within %.1fs", self.name, timeout)
            self._thread = None

    def _wait(self, seconds: float) -> None:
        """Sleep, unless stop() is called: then abandon the current poll."""
        if self._stopping.wait(seconds):
            raise _StopRequestedError

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                handled = self.poll_once()
            except _StopRequestedError:
                return
            except Exception:
                failures += 1
                delay = min(MAX_BACKOFF_SECONDS, max(self.idle_wait, 0.1) * 2 ** min(failures, 6))
                logger.exception(
                    "%s: poll failed (%d in a row); retrying in %.1fs", self.name, failures, delay
                )
                self._stopping.wait(delay)
                continue
            failures = 0
            if not handled:
                self._stopping.wait(self.idle_wait)


def resolve_queue_url(sqs: Any, queue_arn: str) -> str:
    *_, account, name = queue_arn.split(":")
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])
