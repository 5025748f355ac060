"""The devstack's HTTP server (gateway, function URLs, sandboxes) under a burst of connections."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator

import pytest

from devstack.http_server import LocalServer, Response

CONCURRENT = 64


class _SlowEcho:
    """Answers each POST with its body, a little slowly, as a handler calling AWS does."""

    max_body_bytes = 1024

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> Response:
        time.sleep(0.05)
        return Response(200, body)

    def refuse_body(self, status: int) -> Response:
        return Response(status, b'{"error": {"code": "invalid_body", "message": "bad body"}}')


@pytest.fixture
def port() -> Iterator[int]:
    server = LocalServer(_SlowEcho(), "127.0.0.1", 0, name="BurstTest/1.0")
    yield int(server.start().rsplit(":", 1)[1])
    server.stop()


def test_64_concurrent_connections_are_all_answered(port: int) -> None:
    start = threading.Barrier(CONCURRENT)
    answers: dict[int, bytes] = {}
    errors: list[str] = []

    def post(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start.wait()  # every connection is opened at the same moment
        try:
            body = f'{{"delivery": {number}}}'.encode()
            connection.request("POST", "/hook", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            answers[number] = response.read()
        except OSError as error:  # ConnectionResetError, refused, timeouts...
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(number,)) for number in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert answers == {number: f'{{"delivery": {number}}}'.encode() for number in range(CONCURRENT)}
