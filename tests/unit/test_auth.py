from __future__ import annotations

import pytest

from payments.services.auth import bearer_key


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Authorization": "Bearer pk_abc"}, "pk_abc"),
        ({"authorization": "bearer   pk_abc  "}, "pk_abc"),
        ({"AUTHORIZATION": "Bearer pk_abc"}, "pk_abc"),
        ({"Authorization": "Basic cGs6eA=="}, None),
        ({"Authorization": "Bearer "}, None),
        ({"Authorization": "pk_abc"}, None),
        ({"Authorization": "Bearer " + "x" * 257}, None),
        ({}, None),
        (None, None),
    ],
)
def test_bearer_key_parsing(headers: dict[str, str] | None, expected: str | None) -> None:
    assert bearer_key(headers) == expected
