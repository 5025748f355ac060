"""Makes moto's DynamoDB as atomic as the real one under concurrent requests.

moto runs each request in the caller's thread (``mock_aws``) or in a server thread per request
(``ThreadedMotoServer``) and its ``TransactWriteItems`` checks conditions, writes, and on
failure restores a copy of the table, with no lock: two concurrent transactions can both pass
their conditions, or one's rollback can erase the other's write. Real DynamoDB serializes
them. Serializing every DynamoDB action behind one lock gives tests and the devstack the real
semantics, so concurrency tests exercise our code, not moto's races.

:func:`copy_tables_once_per_transaction` makes the same transactions cheaper (for the tests,
which write thousands of them): moto copies a table for the rollback once per transaction
item, and once per table is the same rollback.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
from collections.abc import Iterator
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

# Public: the stream relay reads moto's streams under it too (see devstack/relays.py).
DYNAMODB_LOCK = threading.RLock()


def serialize_dynamodb() -> None:
    """Idempotently wrap moto's DynamoDB dispatch in a process-wide lock."""
    original = DynamoHandler.call_action
    if getattr(original, "_serialized", False):
        return

    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        with DYNAMODB_LOCK:
            return original(self)

    call_action._serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


class _OneCopyPerTable:
    """What ``moto.dynamodb.models`` sees as the ``copy`` module: within a transaction, every
    table is deep-copied once.

    moto's ``TransactWriteItems`` takes its rollback copy of a table once per *item* of the
    transaction, each overwriting the last, all before the first write: identical copies of
    every item, stream record and index of the table, five to ten times per state change.
    One copy per table is the same rollback at a fraction of the cost, which grows with the
    table (a test's concurrent deliveries spent most of their time copying).
    """

    def __init__(self) -> None:
        self._transaction = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        copies: dict[int, Any] | None = getattr(self._transaction, "copies", None)
        if copies is None or memo is not None or not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        if id(value) not in copies:
            copies[id(value)] = copy.deepcopy(value)
        return copies[id(value)]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._transaction.copies = {}
        try:
            yield
        finally:
            del self._transaction.copies


def copy_tables_once_per_transaction() -> None:
    """Idempotently make moto's ``TransactWriteItems`` copy each table once for its rollback
    (see :class:`_OneCopyPerTable`); what a transaction does and undoes is unchanged."""
    # The module's own global, read by its transact_write_items as ``copy.deepcopy``.
    namespace = vars(dynamodb_models)
    if isinstance(namespace["copy"], _OneCopyPerTable):
        return
    copies = _OneCopyPerTable()
    namespace["copy"] = copies
    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with copies.transaction():
            original(self, transact_items)

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
