"""Makes moto's DynamoDB as atomic as the real one under concurrent requests.

moto runs each request in the caller's thread (``mock_aws``) or in a server thread per request
(``ThreadedMotoServer``) and its ``TransactWriteItems`` checks conditions, writes, and on
failure restores a copy of the table, with no lock: two concurrent transactions can both pass
their conditions, or one's rollback can erase the other's write. Real DynamoDB serializes
them. Serializing every DynamoDB action behind one lock gives tests and the devstack the real
semantics, so concurrency tests exercise our code, not moto's races.

:func:`undo_only_touched_items` makes the same transactions cheap: moto deep-copies every table a
transaction names, once per item, before the first write, so that it can put the copy back on
failure; the cost grows with the table and was the devstack's throughput limit. Saving only the
items the transaction touches, and the length of each table's stream, is the same rollback.
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
from moto.dynamodb.models.dynamo_type import DynamoType
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


_TouchedKey = tuple[Table, DynamoType, DynamoType | None]


class _NoTableCopies:
    """What ``moto.dynamodb.models`` sees as the ``copy`` module: within a transaction, the
    rollback "copy" of a table is the table itself (its rollback assignment is then a no-op
    and :func:`undo_only_touched_items` undoes the writes); everything else is ``copy``."""

    def __init__(self) -> None:
        self._transaction = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        active = getattr(self._transaction, "active", False)
        if active and memo is None and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self._transaction.active = True
        try:
            yield
        finally:
            self._transaction.active = False


def _touched_key(backend: DynamoDBBackend, operation: dict[str, Any]) -> _TouchedKey | None:
    """The table and key one transaction item writes, or None where moto will refuse it
    before writing (an unknown table, a malformed item: moto raises its own error)."""
    if len(operation) != 1:
        return None
    [(kind, op)] = operation.items()
    table = backend.tables.get(op.get("TableName", ""))
    if table is None or kind not in {"Put", "Update", "Delete"}:
        return None
    key = op.get("Item") if kind == "Put" else op.get("Key")
    try:
        hash_value = DynamoType(key[table.hash_key_attr])  # type: ignore[index]
        range_value = (
            DynamoType(key[table.range_key_attr])  # type: ignore[index]
            if table.range_key_attr is not None
            else None
        )
    except (KeyError, TypeError):
        return None
    return table, hash_value, range_value


def _current(table: Table, hash_value: DynamoType, range_value: DynamoType | None) -> Any:
    if range_value is None:
        return table.items.get(hash_value)
    return table.items.get(hash_value, {}).get(range_value)


def _put_back(
    table: Table, hash_value: DynamoType, range_value: DynamoType | None, saved: Any
) -> None:
    if range_value is None:
        if saved is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = saved
        return
    items = table.items[hash_value]
    if saved is None:
        items.pop(range_value, None)
        if not items:
            del table.items[hash_value]
    else:
        items[range_value] = saved


def undo_only_touched_items() -> None:
    """Idempotently make moto's ``TransactWriteItems`` save, for its rollback, the items it
    touches and each table's stream length instead of deep copies of whole tables: what a
    transaction does, refuses and undoes is unchanged (tests/integration/test_moto_support.py)."""
    # The module's own global, read by its transact_write_items as ``copy.deepcopy``.
    namespace = vars(dynamodb_models)
    if isinstance(namespace["copy"], _NoTableCopies):
        return
    copies = _NoTableCopies()
    namespace["copy"] = copies
    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        saved: dict[tuple[int, DynamoType, DynamoType | None], tuple[_TouchedKey, Any]] = {}
        streams: dict[int, tuple[list[Any], int]] = {}
        for operation in transact_items[:100] if isinstance(transact_items, list) else ():
            touched = _touched_key(self, operation) if isinstance(operation, dict) else None
            if touched is None:
                continue
            table, hash_value, range_value = touched
            # The first occurrence wins: moto refuses a second write of one key anyway.
            slot = (id(table), hash_value, range_value)
            if slot not in saved:
                saved[slot] = (touched, copy.deepcopy(_current(*touched)))
            if table.stream_shard is not None and id(table) not in streams:
                records = table.stream_shard.items
                streams[id(table)] = (records, len(records))
        try:
            with copies.transaction():
                original(self, transact_items)
        except BaseException:
            for (table, hash_value, range_value), item in saved.values():
                _put_back(table, hash_value, range_value, item)
            for records, length in streams.values():
                del records[length:]
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
