"""Record one real invocation's outside calls, then answer them from the recording.

Three entry points are replaced, and nothing else:

- ``botocore.client.BaseClient._make_api_call``: every AWS call of every client (boto3's,
  pynamodb's, Powertools'), so the whole call (parameter serialisation, signing, HTTP, parsing)
  is stubbed;
- the ``request`` method of the stripe SDK's default HTTP client class: the SDK's own request
  building, retries and response parsing still run, only the transport is stubbed;
- ``urllib.request.urlopen``: the Daraja adapter's transport.

In ``record`` mode each call goes through (to moto and the in-process provider sandboxes) and
its answer, or the exception it raised, is kept. In ``replay`` mode an invocation gets the
answers of the recorded one, call for call by key (``dynamodb.Query``, ``stripe POST
/v1/checkout/sessions``...) and in order; a call the recording lacks gets the last answer
recorded for its key by any invocation (a cache refresh), and a recorded call left unanswered
makes the replay fail: the handler took another path than the one recorded.
"""

from __future__ import annotations

import copy
import email.message
import io
import pickle
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import botocore.client
import stripe._http_client as stripe_http

from bench.common import BenchError


@dataclass
class RecordedCall:
    kind: str  # "aws" or "http"
    key: str
    # The entry point's arguments (to call the stub alone with them).
    args: tuple[Any, ...]
    # A pickled answer, or the exception raised.
    answer: bytes | None
    error: BaseException | None


@dataclass(frozen=True)
class _HttpAnswer:
    status: int
    body: bytes
    headers: list[tuple[str, str]]
    reason: str


class _Reply(io.BytesIO):
    """What urlopen returns, for the parts a client reads."""

    def __init__(self, url: str, answer: _HttpAnswer) -> None:
        super().__init__(answer.body)
        self.url = url
        self.status = self.code = answer.status
        self.reason = answer.reason
        self.headers = self.msg = _message(answer.headers)

    def getcode(self) -> int:
        return self.status

    def geturl(self) -> str:
        return self.url

    def info(self) -> email.message.Message:
        return self.headers


def _message(headers: list[tuple[str, str]]) -> email.message.Message:
    message = email.message.Message()
    for name, value in headers:
        message[name] = value
    return message


def _url_key(method: str, url: str) -> str:
    return f"{method.upper()} {urllib.parse.urlsplit(url).path}"


class CallStub:
    def __init__(self) -> None:
        self.mode = "off"
        self.recorded: list[RecordedCall] = []
        self._queues: dict[str, deque[RecordedCall]] = {}
        self._last: dict[str, RecordedCall] = {}
        self.extra_calls = 0

    # --- modes ------------------------------------------------------------------------------

    def record(self) -> list[RecordedCall]:
        """Start a new recording; returns the list that fills up."""
        self.mode = "record"
        self.recorded = []
        return self.recorded

    def replay(self, invocation: list[RecordedCall]) -> None:
        """Answer the next calls from ``invocation``'s recording."""
        self.mode = "replay"
        queues: dict[str, deque[RecordedCall]] = {}
        for call in invocation:
            queues.setdefault(call.key, deque()).append(call)
        self._queues = queues

    def unanswered(self) -> list[str]:
        return [call.key for queue in self._queues.values() for call in queue]

    # --- answering --------------------------------------------------------------------------

    def _keep(self, call: RecordedCall) -> None:
        self.recorded.append(call)
        self._last[call.key] = call

    def _next(self, key: str) -> RecordedCall:
        queue = self._queues.get(key)
        if queue:
            return queue.popleft()
        self.extra_calls += 1
        try:
            return self._last[key]
        except KeyError:
            raise BenchError(f"a call no recording has: {key}") from None

    def _answer(self, call: RecordedCall) -> Any:
        if call.error is not None:
            raise copy.copy(call.error)
        assert call.answer is not None
        return pickle.loads(call.answer)  # noqa: S301 - our own recording, this process

    # --- the replaced entry points ----------------------------------------------------------

    def aws(self, original: Callable[..., Any], client: Any, operation: str, params: Any) -> Any:
        key = f"{client.meta.service_model.service_name}.{operation}"
        if self.mode == "replay":
            return self._answer(self._next(key))
        if self.mode != "record":
            return original(client, operation, params)
        args = (client, operation, params)
        try:
            result = original(client, operation, params)
        except Exception as error:
            self._keep(RecordedCall("aws", key, args, None, error))
            raise
        self._keep(RecordedCall("aws", key, args, pickle.dumps(result), None))
        return result

    def stripe_request(
        self,
        original: Callable[..., Any],
        client: Any,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        **kwargs: Any,
    ) -> Any:
        key = f"stripe {_url_key(method, url)}"
        if self.mode == "replay":
            return self._answer(self._next(key))
        if self.mode != "record":
            return original(client, method, url, headers, post_data, **kwargs)
        args = (client, method, url, headers, post_data)
        result = original(client, method, url, headers, post_data, **kwargs)
        # (body, status, headers): the SDK's case-insensitive headers are kept as they are.
        self._keep(RecordedCall("http", key, args, pickle.dumps(result), None))
        return result

    def urlopen(self, original: Callable[..., Any], request: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(request, urllib.request.Request):
            method, url = request.get_method(), request.full_url
        else:
            method, url = ("POST" if args or kwargs.get("data") else "GET"), str(request)
        key = f"urllib {_url_key(method, url)}"
        if self.mode == "replay":
            return self._urlopen_answer(url, self._answer(self._next(key)))
        if self.mode != "record":
            return original(request, *args, **kwargs)
        call_args = (request, *args)
        try:
            with original(request, *args, **kwargs) as response:
                answer = _HttpAnswer(
                    response.status,
                    response.read(),
                    list(response.headers.items()),
                    response.reason,
                )
        except urllib.error.HTTPError as error:
            with error:
                answer = _HttpAnswer(
                    error.code, error.read(), list(error.headers.items()), str(error.reason)
                )
        self._keep(RecordedCall("http", key, call_args, pickle.dumps(answer), None))
        return self._urlopen_answer(url, answer)

    @staticmethod
    def _urlopen_answer(url: str, answer: _HttpAnswer) -> Any:
        """What urlopen gives for ``answer``: a response, or the HTTPError it raises."""
        if answer.status >= 400:
            raise urllib.error.HTTPError(
                url, answer.status, answer.reason, _message(answer.headers), io.BytesIO(answer.body)
            )
        return _Reply(url, answer)

    # --- the stub alone ---------------------------------------------------------------------

    def call_alone(self, call: RecordedCall) -> None:
        """What answering ``call`` costs in replay, without the handler: the same entry point
        with the same arguments, and the answer read as a client reads it."""
        try:
            if call.kind == "aws":
                client, operation, params = call.args
                self.aws(_never, client, operation, params)
            elif call.key.startswith("stripe "):
                client, method, url, headers, post_data = call.args
                self.stripe_request(_never, client, method, url, headers, post_data)
            else:
                with self.urlopen(_never, *call.args) as reply:
                    reply.read()
        except urllib.error.HTTPError as error:
            with error:
                error.read()
        except Exception as error:  # a recorded AWS error, raised as recorded
            if call.error is None:
                raise
            del error


def _never(*_: Any, **__: Any) -> Any:
    raise BenchError("the stub alone must not reach a real call")


@contextmanager
def installed(stub: CallStub) -> Iterator[CallStub]:
    """Route the three entry points through ``stub`` while the block runs."""
    original_aws = botocore.client.BaseClient._make_api_call
    stripe_class = type(stripe_http.new_default_http_client())
    original_stripe = stripe_class.request
    original_urlopen = urllib.request.urlopen

    def aws(client: Any, operation: str, params: Any) -> Any:
        return stub.aws(original_aws, client, operation, params)

    def stripe_request(client: Any, method: str, url: str, headers: Any, *a: Any, **k: Any) -> Any:
        return stub.stripe_request(original_stripe, client, method, url, headers, *a, **k)

    def urlopen(request: Any, *a: Any, **k: Any) -> Any:
        return stub.urlopen(original_urlopen, request, *a, **k)

    botocore.client.BaseClient._make_api_call = aws  # type: ignore[method-assign]
    stripe_class.request = stripe_request  # type: ignore[method-assign]
    urllib.request.urlopen = urlopen
    try:
        yield stub
    finally:
        botocore.client.BaseClient._make_api_call = original_aws  # type: ignore[method-assign]
        stripe_class.request = original_stripe  # type: ignore[method-assign]
        urllib.request.urlopen = original_urlopen
