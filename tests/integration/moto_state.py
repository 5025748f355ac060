"""moto's in-memory AWS saved once and put back before each test, in place of re-creating it.

Provisioning the template's resources in a fresh moto account takes seconds (every table,
queue, bus, rule, key and usage plan through botocore); copying moto's own objects back takes
milliseconds. :meth:`MotoSnapshot.take` copies every backend that exists (moto keeps one per
service, account and region in its ``BackendDict`` registries); :meth:`restore` makes those
backends again from the copy and leaves every other one unmade, so the next request finds
exactly what a fresh ``mock_aws()`` plus provisioning would hold: the same resources, with
empty tables, streams and queues, and none of the secrets, keys, API keys or stacks made since.
"""

from __future__ import annotations

import copy
import gc
import threading
from dataclasses import dataclass
from typing import Any

from moto.core.base_backend import (
    AccountSpecificBackend,
    BackendDict,
    BaseBackend,
    backend_lock,
)
from moto.sqs.models import Queue


@dataclass(frozen=True)
class _SavedBackend:
    backends: BackendDict[Any]
    account_id: str
    region: str
    # The objects the state was copied from: references to them inside any saved state
    # (moto's models point at their own and other backends) are re-pointed at the new ones.
    origin: BaseBackend
    origin_account: AccountSpecificBackend[Any]
    state: dict[str, Any]


class MotoSnapshot:
    """Every moto backend's state at one moment; :meth:`restore` puts it back."""

    def __init__(self, saved: list[_SavedBackend], registries: list[BackendDict[Any]]) -> None:
        self._saved = saved
        self._registries = registries

    @classmethod
    def take(cls) -> MotoSnapshot:
        with backend_lock:
            # Every service's registry, used or not: a copy refers to them, never duplicates.
            registries = [o for o in gc.get_objects() if isinstance(o, BackendDict)]
            live = [
                (backends, account_id, account, region, backend)
                for backends in _in_use()
                for account_id, account in backends.items()
                for region, backend in account.items()
            ]
            memo = _identity([*registries, *(e[2] for e in live), *(e[4] for e in live)])
            memo.update(_fresh_locks(e[4].__dict__ for e in live))
            states = copy.deepcopy([e[4].__dict__ for e in live], memo)
            saved = [
                _SavedBackend(backends, account_id, region, backend, account, state)
                for (backends, account_id, account, region, backend), state in zip(
                    live, states, strict=True
                )
            ]
            return cls(saved, registries)

    def restore(self) -> None:
        """Forget every backend, then make the saved ones again from fresh copies."""
        with backend_lock:
            for backends in _in_use():
                backends.clear()
            _in_use().clear()
            memo = _identity(self._registries)
            made: list[BaseBackend] = []
            for saved in self._saved:
                # Indexing a BackendDict makes (and registers as in use) the account's
                # container; the backend is made bare, its state is the copy made below.
                account = saved.backends[saved.account_id]
                backend_type = type(saved.origin)
                backend = backend_type.__new__(backend_type)
                account[saved.region] = backend
                memo[id(saved.origin)] = backend
                memo[id(saved.origin_account)] = account
                made.append(backend)
            memo.update(_fresh_locks(saved.state for saved in self._saved))
            states = copy.deepcopy([saved.state for saved in self._saved], memo)
            for backend, state in zip(made, states, strict=True):
                backend.__dict__ = state


def _in_use() -> list[BackendDict[Any]]:
    """moto's list of the registries holding a backend (what ``mock_aws`` resets)."""
    registries: list[BackendDict[Any]] = BackendDict._instances  # type: ignore[misc]
    return registries


def _identity(objects: list[Any]) -> dict[int, Any]:
    """A deepcopy memo under which these objects are referenced by a copy, not copied."""
    return {id(shared): shared for shared in objects}


def _fresh_locks(states: Any) -> dict[int, Any]:
    """A new lock for every copied SQS queue (the only moto model here holding one: its
    long-poll condition): a lock cannot be copied, and copies must not share one."""
    memo: dict[int, Any] = {}
    for state in states:
        queues = state.get("queues")
        for queue in queues.values() if isinstance(queues, dict) else ():
            if isinstance(queue, Queue):
                memo[id(queue._messages_lock)] = threading.Condition()
    return memo
