"""Provider access tokens (OAuth client credentials) fetched at most once per credential set
per token lifetime, across every container.

Some providers (Daraja) invalidate a token when a newer one is issued, so two containers that
each fetch their own keep knocking each other's token out. :class:`TokenBroker` keeps a copy per
container and, given a :class:`SharedTokenStore` (the payments table, through
``payments.store.provider_tokens``; passed in by the caller, or installed once for the process
with :func:`install_shared_store` by the services, since providers do not import the store),
coordinates containers: whoever finds no usable token takes a short lease, fetches,
publishes the token and drops the lease; the others wait for the lease and re-read. A token the
provider refused is replaced only if it is still the stored one, so a refusal seen by many
containers at once causes one fetch.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from payments.providers.base import ProviderUnreachableError

REFRESH_MARGIN_SECONDS = 60.0  # at most; a short-lived token keeps half its lifetime
LEASE_SECONDS = 15.0  # longer than one token request may take (its timeout and retries)
POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    # Epoch seconds: the token's expiry less a margin (a request sent with it must still arrive
    # while it is valid), so a refresh starts before it lapses.
    use_until: float
    token_id: str  # this issue of the token, to replace exactly it when it is refused


class StoredToken(Protocol):
    """A token as the shared store holds it (the store has its own type: it imports nothing of
    the providers)."""

    @property
    def value(self) -> str: ...

    @property
    def use_until(self) -> float: ...

    @property
    def token_id(self) -> str: ...


class SharedTokenStore(Protocol):
    """Tokens shared by every container, keyed by a digest of the credential set."""

    def read(self, key: str) -> StoredToken | None: ...

    def lease(self, key: str, *, holder: str, now: float, seconds: float, replacing: str) -> bool:
        """Take the right to fetch ``key``'s token for ``seconds``: only when no one holds an
        unexpired lease, and the stored token is missing, past its ``use_until``, or is the one
        with id ``replacing`` (empty: none)."""
        ...

    def publish(
        self, key: str, *, value: str, use_until: float, token_id: str, holder: str
    ) -> bool:
        """Store the token and drop ``holder``'s lease; False if the lease was lost meanwhile."""
        ...

    def release(self, key: str, *, holder: str) -> None:
        """Drop ``holder``'s lease without a token (the fetch failed)."""
        ...


# Fetches a new token: its value and lifetime in seconds.
Fetch = Callable[[], tuple[str, float]]

_installed: Callable[[], SharedTokenStore] | None = None


def install_shared_store(factory: Callable[[], SharedTokenStore] | None) -> None:
    """The shared store every broker made without one of its own uses (made when first
    needed); None: each container keeps its tokens to itself."""
    global _installed
    _installed = factory


class TokenBroker:
    """One container's view of the tokens: its own copy, and the shared store when given."""

    def __init__(
        self,
        shared: SharedTokenStore | None = None,
        *,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        lease_seconds: float = LEASE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._shared = shared
        self._margin = refresh_margin
        self._lease_seconds = lease_seconds
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._sleep = sleep
        self._local: dict[str, AccessToken] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @property
    def shared(self) -> SharedTokenStore | None:
        if self._shared is None and _installed is not None:
            self._shared = _installed()
        return self._shared

    def token(self, key: str, fetch: Fetch, *, rejected: AccessToken | None = None) -> AccessToken:
        """A usable token for ``key`` other than ``rejected`` (one the provider just refused)."""
        with self._lock(key):  # one thread per key in this container asks; the rest reuse
            local = self._local.get(key)
            if local is not None and self._usable(local, rejected):
                return local
            token = self._shared_token(key, fetch, rejected) if self.shared else None
            if token is None:
                token = self._fetch(fetch)
            self._local[key] = token
            return token

    def _shared_token(
        self, key: str, fetch: Fetch, rejected: AccessToken | None
    ) -> AccessToken | None:
        shared = self.shared
        assert shared is not None
        give_up_at = self._clock() + 2 * self._lease_seconds
        while True:
            found = shared.read(key)
            stored = AccessToken(found.value, found.use_until, found.token_id) if found else None
            if stored is not None and self._usable(stored, rejected):
                return stored
            holder = secrets.token_hex(8)
            replacing = rejected.token_id if rejected is not None else ""
            now = self._clock()
            if shared.lease(
                key,
                holder=holder,
                now=now,
                seconds=self._lease_seconds,
                replacing=replacing,
            ):
                try:
                    token = self._fetch(fetch)
                except BaseException:
                    shared.release(key, holder=holder)
                    raise
                # Lost only if the fetch outlived the lease: the token is still good to use.
                shared.publish(
                    key,
                    value=token.value,
                    use_until=token.use_until,
                    token_id=token.token_id,
                    holder=holder,
                )
                return token
            if now >= give_up_at:
                raise ProviderUnreachableError(
                    "another container's token request did not finish; retry"
                )
            self._sleep(self._poll_seconds)

    def _fetch(self, fetch: Fetch) -> AccessToken:
        value, lifetime = fetch()
        margin = min(self._margin, lifetime / 2)
        return AccessToken(value, self._clock() + lifetime - margin, secrets.token_hex(8))

    def _usable(self, token: AccessToken, rejected: AccessToken | None) -> bool:
        if rejected is not None and token.value == rejected.value:
            return False
        return token.use_until > self._clock()

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())
