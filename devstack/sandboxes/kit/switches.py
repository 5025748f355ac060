"""Chaos switches: a dataclass of knobs a test flips over ``/_sandbox/chaos``, checked by type."""

from __future__ import annotations

import ipaddress
import types
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Union, get_args, get_origin, get_type_hints

from devstack.sandboxes.kit.routing import Json


class SwitchError(ValueError):
    """A chaos update names an unknown switch or gives one a value of the wrong kind."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


@dataclass
class Switches:
    """Subclass with ``bool``, ``str``, ``int`` and ``float`` fields (numbers >= 0); a field
    typed ``X | None`` (``float | None``: "off" when null) also takes ``None``."""

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a partial update (e.g. a JSON body), checking every name and type first."""
        kinds = get_type_hints(type(self))
        known = {item.name for item in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise SwitchError(name, f"Unknown chaos setting: {name}")
            _check(name, kinds[name], value)
        for name, value in changes.items():
            setattr(self, name, value)

    def reset(self) -> None:
        """Every switch back to its default."""
        default = type(self)()
        for item in fields(default):
            setattr(self, item.name, getattr(default, item.name))

    def as_dict(self) -> Json:
        return asdict(self)


def check_loopback_address(name: str, value: Any) -> None:
    """For a source-address switch: a non-empty string must be an address in 127.0.0.0/8
    (deliveries only ever come from loopback); anything else is left to the type check."""
    if not isinstance(value, str) or not value:
        return
    try:
        loopback = ipaddress.ip_address(value).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SwitchError(name, f"{name} must be an address in 127.0.0.0/8 (or empty)")


def _optional(kind: Any) -> Any | None:
    """``X`` of a field typed ``X | None`` (or ``Optional[X]``); None for any other type."""
    if get_origin(kind) not in (Union, types.UnionType):
        return None
    others = [arg for arg in get_args(kind) if arg is not type(None)]
    return others[0] if len(others) == 1 and len(get_args(kind)) == 2 else None


def _check(name: str, kind: Any, value: Any) -> None:
    inner = _optional(kind)
    if inner is not None:
        if value is None:
            return
        kind = inner
    if kind is bool:
        if not isinstance(value, bool):
            raise SwitchError(name, f"{name} must be a boolean")
    elif kind is str:
        if not isinstance(value, str):
            raise SwitchError(name, f"{name} must be a string")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SwitchError(name, f"{name} must be an integer >= 0")
    elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise SwitchError(name, f"{name} must be a number >= 0")
