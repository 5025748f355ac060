"""Ethereum addresses and ERC-1400 token contracts as a trade names them.

An address is ``0x`` + 40 hex digits. Mixed case is an EIP-55 checksum: the i-th letter is upper
case exactly when the i-th hex digit of keccak-256(lower-case address) is 8 or more, so a
mistyped mixed-case address is refused. All-lower and all-upper addresses carry no checksum and
are accepted as they are (EIP-55).
"""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class InvalidAddressError(ValueError):
    pass


def keccak256_hex(data: bytes) -> str:
    from Crypto.Hash import keccak

    return keccak.new(digest_bits=256, data=data).hexdigest()


def checksum_address(address: str) -> str:
    """The EIP-55 form of ``address`` (any case)."""
    if not _ADDRESS.fullmatch(address):
        raise InvalidAddressError("an address is 0x followed by 40 hex digits")
    lower = address[2:].lower()
    digest = keccak256_hex(lower.encode("ascii"))
    return "0x" + "".join(
        char.upper() if char.isalpha() and int(digest[i], 16) >= 8 else char
        for i, char in enumerate(lower)
    )


def checked_address(address: str) -> str:
    """``address`` when it is well formed and, if mixed-case, its EIP-55 checksum holds."""
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
        raise InvalidAddressError("an address is 0x followed by 40 hex digits")
    body = address[2:]
    if body == body.lower() or body == body.upper():
        return address
    if checksum_address(address) != address:
        raise InvalidAddressError("the address's mixed case is not a valid EIP-55 checksum")
    return address
