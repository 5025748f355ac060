"""Unit tests are pure: any attempt to open a socket fails the test."""

from __future__ import annotations

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network() -> object:
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture(autouse=True)
def _container_local_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """No table to share provider tokens through: importing the services installs one."""
    from payments.providers import tokens

    monkeypatch.setattr(tokens, "_installed", None)
