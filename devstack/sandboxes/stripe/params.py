"""Stripe's request parameters: form bodies in bracket notation, checked the way Stripe checks."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any, cast
from urllib.parse import urlsplit

from devstack.sandboxes.kit import Json
from devstack.sandboxes.stripe.errors import StripeApiError, invalid, missing

METADATA_MAX_KEYS = 50
METADATA_KEY_MAX_LENGTH = 40
METADATA_VALUE_MAX_LENGTH = 500

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PARAM_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_PARAM_SUBSCRIPT = re.compile(r"\[([^\[\]]*)\]")


def decode_form(pairs: Iterable[tuple[str, str]]) -> Json:
    """Stripe's bracket notation -> nested dicts: ``a[b][0][c]=1`` -> ``{"a": {"b": {"0": ...}}}``.

    Numeric subscripts stay dict keys (``metadata[1]`` is a key); the endpoint that expects an
    array converts them. ``a[]=x`` appends to a list.
    """
    root: Json = {}
    for raw_key, value in pairs:
        match = _PARAM_KEY.fullmatch(raw_key)
        if match is None:
            raise invalid(raw_key, f"Invalid parameter name: {raw_key}")
        path = [match.group(1), *_PARAM_SUBSCRIPT.findall(match.group(2))]
        node: Any = root
        for depth, part in enumerate(path[:-1]):
            wanted: type = list if path[depth + 1] == "" else dict
            if part == "" or not isinstance(node, dict):
                raise invalid(raw_key, f"Invalid parameter name: {raw_key}")
            child = node.setdefault(part, wanted())
            if not isinstance(child, wanted):
                raise invalid(raw_key, f"Conflicting values for parameter {raw_key}")
            node = child
        leaf = path[-1]
        if leaf == "":
            cast(list[Any], node).append(value)
        elif isinstance(node.get(leaf), dict | list):
            raise invalid(raw_key, f"Conflicting values for parameter {raw_key}")
        else:
            node[leaf] = value
    return root


def _as_list(value: Any, param: str) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and all(key.isdigit() for key in value):
        return [value[key] for key in sorted(value, key=int)]
    raise invalid(param, f"Invalid array for {param}")


class Params:
    """A decoded request hash, and its name in bracket notation for the ``param`` of errors."""

    def __init__(self, data: Json, prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}[{key}]" if self.prefix else key

    def reject_unknown(self, supported: Collection[str], ignored: Collection[str] = ()) -> None:
        for key in self.data:
            if key not in supported and key not in ignored:
                raise StripeApiError(
                    400,
                    f"Received unknown parameter: {self.name(key)}",
                    code="parameter_unknown",
                    param=self.name(key),
                )

    def given(self, key: str) -> bool:
        return self.data.get(key) not in (None, "")

    def _raw(self, key: str) -> Any:
        value = self.data.get(key)
        return None if value == "" else value  # an empty string unsets, as in Stripe

    def string(
        self, key: str, *, required: bool = False, max_length: int | None = None
    ) -> str | None:
        value = self._raw(key)
        if value is None:
            if required:
                raise missing(self.name(key))
            return None
        if not isinstance(value, str):
            raise invalid(self.name(key), f"Invalid string: {self.name(key)} must be a string")
        if max_length is not None and len(value) > max_length:
            raise invalid(
                self.name(key),
                f"Invalid string: {self.name(key)} must be at most {max_length} characters",
            )
        return value

    def integer(
        self,
        key: str,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        text = self.string(key, required=required)
        if text is None:
            return None
        if re.fullmatch(r"-?[0-9]+", text) is None:
            raise invalid(self.name(key), f"Invalid integer: {text}", "parameter_invalid_integer")
        value = int(text)
        if minimum is not None and value < minimum:
            raise invalid(self.name(key), f"This value must be greater than or equal to {minimum}.")
        if maximum is not None and value > maximum:
            raise invalid(self.name(key), f"This value must be less than or equal to {maximum}.")
        return value

    def boolean(self, key: str) -> bool | None:
        text = self.string(key)
        if text is None:
            return None
        if text not in ("true", "false"):
            raise invalid(self.name(key), f"Invalid boolean: {text}")
        return text == "true"

    def choice(self, key: str, choices: Collection[str], *, required: bool = False) -> str | None:
        value = self.string(key, required=required)
        if value is not None and value not in choices:
            raise invalid(
                self.name(key),
                f"Invalid {self.name(key)}: must be one of {', '.join(sorted(choices))}",
            )
        return value

    def nested(self, key: str) -> Params:
        value = self._raw(key)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise invalid(self.name(key), f"Invalid object: {self.name(key)} must be a hash")
        return Params(value, self.name(key))

    def hashes(self, key: str) -> list[Params] | None:
        value = self._raw(key)
        if value is None:
            return None
        result = []
        for index, item in enumerate(_as_list(value, self.name(key))):
            item_name = f"{self.name(key)}[{index}]"
            if not isinstance(item, dict):
                raise invalid(item_name, f"Invalid object: {item_name} must be a hash")
            result.append(Params(item, item_name))
        return result

    def strings(self, key: str) -> list[str] | None:
        value = self._raw(key)
        if value is None:
            return None
        result = []
        for index, item in enumerate(_as_list(value, self.name(key))):
            if not isinstance(item, str):
                raise invalid(f"{self.name(key)}[{index}]", "Invalid string")
            result.append(item)
        return result

    def metadata(self, key: str = "metadata") -> dict[str, str]:
        value = self._raw(key)
        if value is None:
            return {}
        name = self.name(key)
        if not isinstance(value, dict):
            raise invalid(name, f"Invalid object: {name} must be a hash of strings")
        if len(value) > METADATA_MAX_KEYS:
            raise invalid(
                name,
                f"Invalid metadata: metadata can have up to {METADATA_MAX_KEYS} keys, "
                f"but you passed in {len(value)} keys.",
            )
        for meta_key, meta_value in value.items():
            meta_name = f"{name}[{meta_key}]"
            if len(meta_key) > METADATA_KEY_MAX_LENGTH:
                raise invalid(
                    meta_name,
                    f"Metadata key length can't exceed {METADATA_KEY_MAX_LENGTH} characters.",
                )
            if not isinstance(meta_value, str):
                raise invalid(meta_name, "Invalid string: metadata values must be strings")
            if len(meta_value) > METADATA_VALUE_MAX_LENGTH:
                raise invalid(
                    meta_name,
                    f"Metadata values can have up to {METADATA_VALUE_MAX_LENGTH} characters, but "
                    f"you passed in a value that is {len(meta_value)} characters.",
                )
        return {meta_key: meta_value for meta_key, meta_value in value.items() if meta_value}

    def url(self, key: str, *, required: bool = False) -> str | None:
        value = self.string(key, required=required, max_length=5000)
        if value is not None:
            check_url(value, self.name(key))
        return value

    def email(self, key: str) -> str | None:
        value = self.string(key, max_length=512)
        if value is not None and _EMAIL.fullmatch(value) is None:
            raise invalid(self.name(key), f"Invalid email address: {value}", "email_invalid")
        return value


def check_url(value: str, param: str) -> None:
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or any(char.isspace() or ord(char) < 0x20 for char in value)
    ):
        raise invalid(param, f"Not a valid URL: {param}", "url_invalid")
