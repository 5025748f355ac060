"""Provider access tokens shared by every container: one item per credential set
(``PROVIDERTOKEN#<digest>``), the token encrypted, and a lease so that one container refreshes
while the others wait. It has the shape of ``payments.providers.tokens.SharedTokenStore``, which
the services that make an adapter give it.

Each step is one conditional write, atomic in DynamoDB: a lease is taken only if no unexpired
lease is held and the stored token is missing, due or the one being replaced; a token is
published only by the lease's holder. The token is encrypted by the ``encrypt``/``decrypt``
given (our KMS key, bound to the item's key by the encryption context), so the table never
holds it in the clear. Items expire through the table's TTL a day after their token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, UpdateError

from payments.store.models import ProviderTokenItem

ITEM_TYPE = "provider_token"
KEEP_AFTER_EXPIRY = timedelta(days=1)

Encrypt = Callable[[str, dict[str, str]], str]
Decrypt = Callable[[str, dict[str, str]], str]


@dataclass(frozen=True, slots=True)
class SharedToken:
    value: str
    use_until: float  # epoch seconds
    token_id: str


def _context(key: str) -> dict[str, str]:
    return {"purpose": "provider_token", "token_key": key}


def _conditional(update: Callable[[], object]) -> bool:
    try:
        update()
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


class DynamoTokenStore:
    """The shared token store on the payments table."""

    def __init__(self, encrypt: Encrypt, decrypt: Decrypt) -> None:
        self._encrypt = encrypt
        self._decrypt = decrypt

    def read(self, key: str) -> SharedToken | None:
        try:
            item = ProviderTokenItem.get(*ProviderTokenItem.key(key), consistent_read=True)
        except DoesNotExist:
            return None
        if not item.token_ciphertext or item.use_until is None or not item.token_id:
            return None
        value = self._decrypt(item.token_ciphertext, _context(key))
        return SharedToken(value, float(item.use_until), item.token_id)

    def lease(self, key: str, *, holder: str, now: float, seconds: float, replacing: str) -> bool:
        item = ProviderTokenItem(*ProviderTokenItem.key(key))
        free = ProviderTokenItem.lease_until.does_not_exist() | (
            ProviderTokenItem.lease_until < now
        )
        due = ProviderTokenItem.use_until.does_not_exist() | (ProviderTokenItem.use_until <= now)
        if replacing:
            due = due | (ProviderTokenItem.token_id == replacing)
        return _conditional(
            lambda: item.update(
                actions=[
                    ProviderTokenItem.item_type.set(ITEM_TYPE),
                    ProviderTokenItem.lease_holder.set(holder),
                    ProviderTokenItem.lease_until.set(now + seconds),
                ],
                condition=free & due,
            )
        )

    def publish(
        self, key: str, *, value: str, use_until: float, token_id: str, holder: str
    ) -> bool:
        item = ProviderTokenItem(*ProviderTokenItem.key(key))
        expires = datetime.fromtimestamp(use_until, UTC) + KEEP_AFTER_EXPIRY
        return _conditional(
            lambda: item.update(
                actions=[
                    ProviderTokenItem.token_ciphertext.set(self._encrypt(value, _context(key))),
                    ProviderTokenItem.token_id.set(token_id),
                    ProviderTokenItem.use_until.set(use_until),
                    ProviderTokenItem.ttl.set(expires),
                    ProviderTokenItem.lease_holder.remove(),
                    ProviderTokenItem.lease_until.remove(),
                ],
                condition=ProviderTokenItem.lease_holder == holder,
            )
        )

    def release(self, key: str, *, holder: str) -> None:
        item = ProviderTokenItem(*ProviderTokenItem.key(key))
        _conditional(
            lambda: item.update(
                actions=[
                    ProviderTokenItem.lease_holder.remove(),
                    ProviderTokenItem.lease_until.remove(),
                ],
                condition=ProviderTokenItem.lease_holder == holder,
            )
        )
