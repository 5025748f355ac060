"""Makes moto's DynamoDB as atomic as the real one under concurrent requests.

moto runs each request in the caller's thread (``mock_aws``) or in a server thread per request
(``ThreadedMotoServer``) and its ``TransactWriteItems`` checks conditions, writes, and on
failure restores a copy of the table, with no lock: two concurrent transactions can both pass
their conditions, or one's rollback can erase the other's write. Real DynamoDB serializes
them. Serializing every DynamoDB action behind one lock gives tests and the devstack the real
semantics, so concurrency tests exercise our code, not moto's races.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

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
