"""Provider adapters behind one registry; each adapter module is imported only when used, so a
function loads the SDK of the provider it talks to and no other."""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

_ADAPTERS = {
    "stripe": "payments.providers.stripe:StripeProvider",
}


def known_providers() -> frozenset[str]:
    return frozenset(_ADAPTERS)


@cache
def get_provider(name: str) -> Any:
    """The adapter instance for ``name`` (one per container)."""
    try:
        module_name, _, class_name = _ADAPTERS[name].partition(":")
    except KeyError:
        raise LookupError(f"unknown provider {name!r}") from None
    return getattr(importlib.import_module(module_name), class_name)()
