from __future__ import annotations

import socket

import pytest

from devstack.stack import PortInUseError, _ensure_free


def test_a_busy_port_fails_fast_with_advice() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(PortInUseError, match="--free-ports"):
            _ensure_free("127.0.0.1", port)
    _ensure_free("127.0.0.1", 0)  # 0 means "any free port": nothing to check
