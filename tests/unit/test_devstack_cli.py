"""`make dev`'s command line: which port each server gets."""

from __future__ import annotations

from devstack.__main__ import DEFAULT_PORTS, parse_args


def _ports(*argv: str) -> dict[str, int]:
    args = parse_args(list(argv))
    return {name: getattr(args, f"{name}_port") for name in DEFAULT_PORTS}


def test_without_options_every_server_gets_its_default_port() -> None:
    assert _ports() == DEFAULT_PORTS
    assert DEFAULT_PORTS["api"] == 3000


def test_free_ports_lets_the_system_pick_every_port() -> None:
    assert _ports("--free-ports") == dict.fromkeys(DEFAULT_PORTS, 0)


def test_an_explicit_port_wins_over_free_ports_whatever_the_order() -> None:
    expected = {**dict.fromkeys(DEFAULT_PORTS, 0), "api": 3999, "bookings": 8081}
    assert _ports("--free-ports", "--api-port", "3999", "--bookings-port", "8081") == expected
    assert _ports("--api-port", "3999", "--bookings-port", "8081", "--free-ports") == expected


def test_an_explicit_port_without_free_ports_leaves_the_other_defaults() -> None:
    assert _ports("--pages-port", "0") == {**DEFAULT_PORTS, "pages": 0}
