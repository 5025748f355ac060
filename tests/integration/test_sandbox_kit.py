"""The sandbox kit over real sockets: routing, admin endpoints and switches, hosted pages, and
outbound delivery with retries, chaos, signing hooks and a chosen source address."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from devstack.http_server import MAX_BODY_BYTES, Response
from devstack.sandboxes.kit import (
    Delivery,
    Json,
    Outbox,
    Request,
    Router,
    Sandbox,
    SandboxError,
    SwitchError,
    Switches,
    arrange,
)
from devstack.sandboxes.kit.pages import action_forms, html_response
from devstack.sandboxes.kit.routing import NoRouteError
from devstack.sandboxes.kit.switches import check_loopback_address
from tests.integration.helpers import served_locally


@dataclass
class _Chaos(Switches):
    lost: bool = False
    duplicates: int = 0
    delay_seconds: float = 0
    source: str = ""


class _Error(SandboxError):
    def body(self) -> Json:
        return {"errorCode": f"E{self.status}", "errorMessage": self.message}


class _Toy(Sandbox):
    """A provider of the smallest kind: one API route, one page, chaos switches."""

    server_name = "ToySandbox/1.0"

    def __init__(self) -> None:
        super().__init__()
        self.chaos = _Chaos()
        self.acted: list[tuple[str, str]] = []
        self.router.add("GET", "/api/items/{id}", self._item)
        self.router.add("GET", "/api/files/{rest:path}", lambda r: self.json(200, r.params))
        self.router.add("GET", "/api/crash", self._crash)
        self.admin("POST", "/_sandbox/echo", lambda _r, payload: payload, status=201)
        self.admin_switches("/_sandbox/chaos", lambda: self.chaos)
        self.accounts = {"acct_1": _Chaos()}
        self.admin_switches_of("/_sandbox/accounts/{id}/chaos", self._account_chaos)
        self.hosted_page("/phone", self._show, self._act, ["pay", "cancel"])

    def error(self, status: int, message: str, *, field: str | None = None) -> SandboxError:
        return _Error(status, f"{field}: {message}" if field else message)

    def _account_chaos(self, request: Request) -> _Chaos:
        found = self.accounts.get(request.params["id"])
        if found is None:
            raise _Error(404, "No such account")
        return found

    def _item(self, request: Request) -> Response:
        return self.json(200, {"id": request.params["id"]})

    def _crash(self, _request: Request) -> Response:
        raise RuntimeError("boom")

    def _show(self, object_id: str) -> Response:
        return html_response(200, action_forms("/phone", object_id, [("pay", "Pay <now>")]))

    def _act(self, object_id: str, action: str) -> Response:
        self.acted.append((object_id, action))
        return self.json(200, {"done": action})


@pytest.fixture
def toy() -> Iterator[_Toy]:
    with _Toy() as sandbox:
        yield sandbox


def test_routes_match_by_method_and_pattern_and_decode_their_parameters(toy: _Toy) -> None:
    assert requests.get(f"{toy.base_url}/api/items/a%20b", timeout=5).json() == {"id": "a b"}
    nested = requests.get(f"{toy.base_url}/api/files/x/y.txt", timeout=5)
    assert nested.json() == {"rest": "x/y.txt"}
    missing = requests.get(f"{toy.base_url}/api/nothing", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["errorCode"] == "E404"
    crashed = requests.get(f"{toy.base_url}/api/crash", timeout=5)
    assert (crashed.status_code, crashed.json()["errorCode"]) == (500, "E500")


def test_a_path_with_other_methods_names_them() -> None:
    router: Router[str] = Router()
    router.add("POST", "/v1/things", "create")
    router.add("DELETE", "/v1/things", "delete")
    request = Request("GET", "/v1/things", "", {}, b"")
    with pytest.raises(NoRouteError) as raised:
        router.match(request)
    assert raised.value.allowed == ["POST", "DELETE"]
    with pytest.raises(NoRouteError) as unknown:
        router.match(Request("GET", "/v1/other", "", {}, b""))
    assert unknown.value.allowed == []


def test_admin_endpoints_take_json_objects_and_answer_in_the_providers_shape(toy: _Toy) -> None:
    echoed = requests.post(f"{toy.base_url}/_sandbox/echo", json={"a": 1}, timeout=5)
    assert (echoed.status_code, echoed.json()) == (201, {"a": 1})
    empty = requests.post(f"{toy.base_url}/_sandbox/echo", timeout=5)
    assert empty.json() == {}
    for bad in (b"{nope", b"[1, 2]"):
        refused = requests.post(f"{toy.base_url}/_sandbox/echo", data=bad, timeout=5)
        assert (refused.status_code, refused.json()["errorCode"]) == (400, "E400")


def test_chaos_switches_are_checked_by_type_and_reset(toy: _Toy) -> None:
    url = f"{toy.base_url}/_sandbox/chaos"
    changed = requests.post(url, json={"duplicates": 2, "delay_seconds": 0.5}, timeout=5)
    assert changed.json() == {"lost": False, "duplicates": 2, "delay_seconds": 0.5, "source": ""}
    assert toy.chaos.duplicates == 2
    for bad in ({"lost": "yes"}, {"duplicates": 1.5}, {"duplicates": -1}, {"source": 7}, {"x": 1}):
        refused = requests.post(url, json=bad, timeout=5)
        assert refused.status_code == 400, bad
        assert refused.json()["errorMessage"].startswith(f"{next(iter(bad))}: ")
    assert requests.get(url, timeout=5).json()["duplicates"] == 2
    reset = requests.post(f"{url}/reset", timeout=5)
    assert reset.json() == {"lost": False, "duplicates": 0, "delay_seconds": 0, "source": ""}
    assert toy.chaos == _Chaos()


def test_switches_picked_by_the_request_are_each_their_own(toy: _Toy) -> None:
    url = f"{toy.base_url}/_sandbox/accounts/acct_1/chaos"
    changed = requests.post(url, json={"lost": True}, timeout=5)
    assert changed.json()["lost"] is True
    assert toy.accounts["acct_1"].lost
    assert toy.chaos == _Chaos()
    refused = requests.post(url, json={"lost": 1}, timeout=5)
    assert (refused.status_code, refused.json()["errorMessage"]) == (
        400,
        "lost: lost must be a boolean",
    )
    assert requests.post(f"{url}/reset", timeout=5).json()["lost"] is False
    unknown = requests.get(f"{toy.base_url}/_sandbox/accounts/nobody/chaos", timeout=5)
    assert (unknown.status_code, unknown.json()["errorMessage"]) == (404, "No such account")


def test_a_source_address_switch_takes_loopback_addresses_only() -> None:
    for value in ("127.0.0.7", "::1", "", None, 7):
        check_loopback_address("source", value)  # the type check refuses 7, not this one
    for value in ("10.1.2.3", "51.89.194.21", "localhost"):
        with pytest.raises(SwitchError) as raised:
            check_loopback_address("source", value)
        assert raised.value.name == "source"


@dataclass
class _Optional(Switches):
    after_seconds: float | None = None


def test_an_optional_number_switch_takes_null_or_a_number() -> None:
    switches = _Optional()
    switches.update({"after_seconds": 0.5})
    assert switches.after_seconds == 0.5
    switches.update({"after_seconds": None})
    assert switches.as_dict() == {"after_seconds": None}
    for bad in ("1", -1, True):
        with pytest.raises(SwitchError, match="after_seconds must be a number >= 0"):
            switches.update({"after_seconds": bad})


def test_a_refused_update_changes_no_switch() -> None:
    chaos = _Chaos()
    with pytest.raises(SwitchError) as raised:
        chaos.update({"duplicates": 3, "lost": "no"})
    assert raised.value.name == "lost"
    assert chaos.duplicates == 0


def test_hosted_pages_show_buttons_that_post_their_action(toy: _Toy) -> None:
    page = requests.get(f"{toy.base_url}/phone/ws_CO_1", timeout=5)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert 'action="/phone/ws_CO_1/pay"' in page.text
    assert "Pay &lt;now&gt;" in page.text
    pressed = requests.post(f"{toy.base_url}/phone/ws_CO_1/cancel", timeout=5)
    assert pressed.json() == {"done": "cancel"}
    assert toy.acted == [("ws_CO_1", "cancel")]
    assert requests.post(f"{toy.base_url}/phone/ws_CO_1/steal", timeout=5).status_code == 404


# --------------------------------------------------------------------------- outbound delivery


@dataclass
class _Receiver:
    """A loopback endpoint that records what reaches it and answers ``statuses`` in turn."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[str, dict[str, str], bytes, float]] = field(default_factory=list)
    max_body_bytes: int = MAX_BODY_BYTES
    lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> Response:
        with self.lock:
            self.received.append((client_ip, headers, body, time.monotonic()))
            status = self.statuses.pop(0) if self.statuses else 200
        return Response(status, b"{}")

    def refuse_body(self, status: int) -> Response:
        return Response(status, b"{}")


@pytest.fixture
def receiver() -> Iterator[tuple[_Receiver, str]]:
    target = _Receiver()
    with served_locally(target) as url:
        yield target, f"{url}/hooks?tenant=t1"


def _outbox(
    finished: list[tuple[str, bool]],
    *,
    retry_backoff: tuple[float, ...] = (),
    source_address: str | None = None,
) -> Outbox[str]:
    return Outbox(
        "test-deliveries",
        lambda delivery, delivered: finished.append((delivery.context, delivered)),
        retry_backoff=retry_backoff,
        source_address=source_address,
    )


def test_deliveries_are_signed_at_each_attempt_and_retried_until_a_2xx(
    receiver: tuple[_Receiver, str],
) -> None:
    target, url = receiver
    target.statuses = [500, 302]
    finished: list[tuple[str, bool]] = []
    outbox = _outbox(finished, retry_backoff=(0.05, 0.05, 0.05))
    attempts = iter(range(1, 10))
    try:
        outbox.dispatch(
            [
                Delivery(
                    "q",
                    url,
                    b'{"n": 1}',
                    "evt_1",
                    {"Content-Type": "application/json"},
                    lambda body: {"X-Signature": f"{len(body)}:{next(attempts)}"},
                )
            ]
        )
        assert outbox.wait_idle(5)
    finally:
        outbox.stop()
    assert [headers["X-Signature"] for _, headers, _, _ in target.received] == [
        "8:1",
        "8:2",
        "8:3",
    ]
    assert {body for _, _, body, _ in target.received} == {b'{"n": 1}'}
    assert finished == [("evt_1", True)]


def test_each_attempt_keeps_its_answer(receiver: tuple[_Receiver, str]) -> None:
    target, url = receiver
    target.statuses = [500, 400]
    done: list[Delivery[str]] = []
    outbox: Outbox[str] = Outbox(
        "test", lambda delivery, _delivered: done.append(delivery), retry_backoff=(0.05, 0.05)
    )
    try:
        outbox.dispatch([Delivery("q", url, b"{}", "evt_1")])
        outbox.dispatch([Delivery("other", "http://127.0.0.1:9/x", b"{}", "evt_2")])
        assert outbox.wait_idle(5)
    finally:
        outbox.stop()
    answers = {delivery.context: delivery.answers for delivery in done}
    assert answers == {"evt_1": [500, 400, 200], "evt_2": [None, None, None]}


def test_a_delivery_that_keeps_failing_is_given_up(receiver: tuple[_Receiver, str]) -> None:
    target, url = receiver
    target.statuses = [503, 503]
    finished: list[tuple[str, bool]] = []
    outbox = _outbox(finished, retry_backoff=(0.05,))
    try:
        outbox.dispatch([Delivery("q", url, b"{}", "evt_1")])
        assert outbox.wait_idle(5)
    finally:
        outbox.stop()
    assert len(target.received) == 2
    assert finished == [("evt_1", False)]


def test_chaos_duplicates_delays_and_loses_deliveries(receiver: tuple[_Receiver, str]) -> None:
    target, url = receiver
    finished: list[tuple[str, bool]] = []
    outbox = _outbox(finished)
    try:
        assert outbox.dispatch([Delivery("q", url, b"1", "a")], lost=True) == []
        sent_at = time.monotonic()
        queued = outbox.dispatch(
            [Delivery("q", url, b"1", "a"), Delivery("q", url, b"2", "b")],
            duplicates=1,
            delay=0.3,
        )
        assert [delivery.context for delivery in queued] == ["a", "b", "a", "b"]
        assert outbox.wait_idle(5)
    finally:
        outbox.stop()
    assert [body for _, _, body, _ in target.received] == [b"1", b"2", b"1", b"2"]
    assert min(arrival for *_, arrival in target.received) - sent_at >= 0.3
    assert sorted(finished) == [("a", True), ("a", True), ("b", True), ("b", True)]


def test_arrange_reverses_and_shuffles_with_the_duplicates_mixed_in() -> None:
    assert arrange([1, 2, 3], reverse=True) == [3, 2, 1]
    shuffled = arrange([1, 2, 3], duplicates=2, shuffle=True)
    assert sorted(shuffled) == [1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_deliveries_come_from_the_configured_source_address(
    receiver: tuple[_Receiver, str],
) -> None:
    target, url = receiver
    finished: list[tuple[str, bool]] = []
    outbox = _outbox(finished, source_address="127.0.0.2")
    try:
        outbox.dispatch([Delivery("q", url, b"{}", "first")])
        assert outbox.wait_idle(5)
        outbox.source_address = "127.0.0.3"  # switched live
        outbox.dispatch([Delivery("q", url, b"{}", "second")])
        assert outbox.wait_idle(5)
    finally:
        outbox.stop()
    assert [client_ip for client_ip, *_ in target.received] == ["127.0.0.2", "127.0.0.3"]


def test_only_loopback_urls_are_delivered_to() -> None:
    finished: list[tuple[str, bool]] = []
    outbox = _outbox(finished)
    try:
        outbox.dispatch([Delivery("q", "http://192.0.2.1/hooks", b"{}", "far")])
        assert outbox.wait_idle(5)
    finally:
        outbox.stop()
    assert finished == [("far", False)]


def test_work_scheduled_later_counts_as_outstanding() -> None:
    outbox = _outbox([])
    ran = threading.Event()
    try:
        outbox.later(0.2, ran.set)
        assert not outbox.wait_idle(0.05)
        assert outbox.wait_idle(5)
        assert ran.is_set()
    finally:
        outbox.stop()


def test_work_scheduled_later_can_be_cancelled_before_it_runs() -> None:
    outbox = _outbox([])
    ran = threading.Event()
    try:
        cancel = outbox.later(30, ran.set)
        assert not outbox.wait_idle(0.05)
        assert cancel() is True
        assert outbox.wait_idle(0.5)
        assert cancel() is False  # once only
        done = outbox.later(0, ran.set)
        assert outbox.wait_idle(5)
        assert ran.is_set()
        assert done() is False  # it ran: nothing to cancel
    finally:
        outbox.stop()
