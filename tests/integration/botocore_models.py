"""botocore's service models read from disk once per test run, not once per session object.

Every new botocore session gets its own ``Loader``, whose cache starts empty: its first client
of each service parses that service's JSON model again (100-200 ms for one service, endpoints
and partitions included). Code under test makes such sessions often: Powertools builds a new
``SecretsProvider`` (a new boto3 session) after every ``parameters.clear_caches()``, which
``write_provider_secret`` calls. With :func:`share_loaded_models`, loaders with the same search
path and extras share one cache, as all clients of one session already do: what a loader
caches is the parsed content of files that do not change during the run.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import botocore.loaders
import botocore.session
import pytest

_ORIGINAL_CREATE_LOADER = botocore.loaders.create_loader


class _SharedLoaderCache(MutableMapping[Any, Any]):
    """One loader's ``_cache``, kept in a store shared by every loader that looks in the same
    places: the key includes the search path and extras types as they are at each lookup
    (boto3 appends its own data directory to its session's loader after making it)."""

    def __init__(self, loader: botocore.loaders.Loader, store: dict[Any, Any]) -> None:
        self._loader = loader
        self._store = store

    def _scoped(self, key: Any) -> tuple[Any, ...]:
        return (tuple(self._loader.search_paths), tuple(self._loader.extras_types), key)

    def __contains__(self, key: object) -> bool:
        return self._scoped(key) in self._store

    def __getitem__(self, key: Any) -> Any:
        return self._store[self._scoped(key)]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._store[self._scoped(key)] = value

    def __delitem__(self, key: Any) -> None:
        del self._store[self._scoped(key)]

    def _mine(self) -> list[Any]:
        prefix = self._scoped(None)[:2]
        return [key[2] for key in list(self._store) if key[:2] == prefix]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._mine())

    def __len__(self) -> int:
        return len(self._mine())


def share_loaded_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every botocore session created from now on share parsed models (until undone)."""
    store: dict[Any, Any] = {}

    def create_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
        loader = _ORIGINAL_CREATE_LOADER(search_path_string)
        loader._cache = _SharedLoaderCache(loader, store)
        return loader

    # botocore.session imported the function by name: that is the one sessions call.
    monkeypatch.setattr(botocore.session, "create_loader", create_loader)
