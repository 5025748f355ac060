"""The callback URL guard: which addresses a callback may go to, decided on one DNS lookup whose
every answer is checked (the resolver here is a fake; no socket is ever opened)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from payments.config import reset_settings
from payments.services import callbacks
from payments.services.callbacks import InvalidEndpointUrlError, check_endpoint_url

Resolver = Callable[..., list[tuple[Any, ...]]]


def _answers(*addresses: str) -> Resolver:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port),
            )
            for address in addresses
        ]

    return getaddrinfo


@pytest.fixture
def resolve(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    def answer(*addresses: str) -> None:
        monkeypatch.setattr(socket, "getaddrinfo", _answers(*addresses))

    return answer


@pytest.fixture
def local_development(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ALLOW_LOCAL_CALLBACK_URLS", "true")
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Any:
    reset_settings()
    yield
    reset_settings()


@pytest.mark.parametrize(
    ("answers", "refusal"),
    [
        (["169.254.169.254"], "metadata service"),
        (["fd00:ec2::254"], "metadata service"),
        (["169.254.10.1"], "link-local"),
        (["fe80::1"], "link-local"),
        (["fe80::1%eth0"], "link-local"),
        (["::ffff:169.254.1.1"], "link-local"),
        (["10.0.0.5"], "non-public"),
        (["::ffff:10.0.0.5"], "non-public"),
        (["172.16.3.4"], "non-public"),
        (["192.168.1.1"], "non-public"),
        (["100.64.0.1"], "non-public"),  # carrier-grade NAT
        (["127.0.0.1"], "non-public"),
        (["::1"], "non-public"),
        (["0.0.0.0"], "non-public"),  # noqa: S104 (an answer, not a bind)
        (["fc00::5"], "non-public"),
        (["93.184.216.34", "10.0.0.5"], "non-public"),  # every answer counts, not the first
    ],
)
def test_every_answer_must_be_public(
    resolve: Callable[..., None], answers: list[str], refusal: str
) -> None:
    resolve(*answers)
    with pytest.raises(InvalidEndpointUrlError, match=refusal):
        check_endpoint_url("https://merchant.example/hooks")


def test_an_approved_url_carries_the_addresses_it_was_approved_for(
    resolve: Callable[..., None],
) -> None:
    resolve("93.184.216.34", "2606:2800:220:1::1", "93.184.216.34", "::ffff:93.184.216.35")
    approved = check_endpoint_url("https://Merchant.Example:8443/hooks/cb?shop=1#frag")
    assert (approved.scheme, approved.host, approved.port, approved.target) == (
        "https",
        "merchant.example",
        8443,
        "/hooks/cb?shop=1",
    )
    assert [str(a) for a in approved.addresses] == [
        "93.184.216.34",
        "2606:2800:220:1::1",
        "93.184.216.35",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "http://merchant.example/hooks",
        "https://merchant.example:0/hooks",
        "https://merchant.example:99999/hooks",
        "https://merchant.example/h\u00e9",
        "https://merchant.example/a b",
        "https://merchant.example/\r\nX-Injected: 1",
    ],
)
def test_malformed_or_plain_http_urls_are_refused_before_any_lookup(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    def no_lookup(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no DNS lookup for a URL refused on its face")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    with pytest.raises(InvalidEndpointUrlError):
        check_endpoint_url(url)


@pytest.mark.usefixtures("local_development")
@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9001/", "http://localhost:9001/2018-06-01/runtime/invocation/next"],
)
def test_the_lambda_runtime_api_is_refused_even_in_local_development(
    resolve: Callable[..., None], url: str
) -> None:
    resolve("127.0.0.1")
    with pytest.raises(InvalidEndpointUrlError, match="Lambda runtime API"):
        check_endpoint_url(url)


@pytest.mark.usefixtures("local_development")
def test_the_runtime_api_lambda_names_is_refused_wherever_it_is(
    resolve: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9123")
    reset_settings()
    resolve("127.0.0.1")
    with pytest.raises(InvalidEndpointUrlError, match="Lambda runtime API"):
        check_endpoint_url("http://localhost:9123/")
    assert check_endpoint_url("http://localhost:9124/").port == 9124


@pytest.mark.usefixtures("local_development")
@pytest.mark.parametrize(
    ("answers", "refusal"),
    [
        (["169.254.169.254"], "metadata service"),
        (["169.254.1.1"], "link-local"),
        (["fe80::1"], "link-local"),
        (["10.0.0.5"], "non-loopback"),
        (["127.0.0.1", "192.168.1.9"], "non-loopback"),
    ],
)
def test_local_development_allows_loopback_only(
    resolve: Callable[..., None], answers: list[str], refusal: str
) -> None:
    resolve(*answers)
    with pytest.raises(InvalidEndpointUrlError, match=refusal):
        check_endpoint_url("http://localhost:8080/hooks")


@pytest.mark.usefixtures("local_development")
def test_local_development_approves_loopback(resolve: Callable[..., None]) -> None:
    resolve("127.0.0.1", "::1")
    approved = check_endpoint_url("http://localhost:8080/hooks")
    assert [str(a) for a in approved.addresses] == ["127.0.0.1", "::1"]
    assert (approved.scheme, approved.port) == ("http", 8080)


def test_localhost_stays_refused_outside_local_development(resolve: Callable[..., None]) -> None:
    resolve("127.0.0.1")
    with pytest.raises(InvalidEndpointUrlError, match="https"):
        check_endpoint_url("http://localhost:8080/hooks")
    with pytest.raises(InvalidEndpointUrlError, match="non-public"):
        check_endpoint_url("https://localhost:8080/hooks")


def test_a_refused_attempt_opens_no_connection(resolve: Callable[..., None]) -> None:
    resolve("169.254.169.254")
    # Sockets are disabled in unit tests: reaching the connect would fail differently.
    result = callbacks._post("https://merchant.example/hooks", {}, b"{}")
    assert (result.status_code, result.error) == (
        None,
        "merchant.example resolves to a metadata service address",
    )
