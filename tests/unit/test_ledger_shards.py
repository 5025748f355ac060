"""The ledger shard of a payment: part of the stored data's format, so it must never change."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from payments.store.models import (
    LEDGER_SHARDS,
    LEGACY_LEDGER_SHARD,
    ledger_partition,
    ledger_partitions,
    ledger_shard,
)


@pytest.mark.parametrize("payment_id", ["pay_0001", "pay_abc", "pay_zzz", "pay_" + "9" * 60])
def test_the_shard_is_blake2b_of_the_payment_id_mod_the_shard_count(payment_id: str) -> None:
    # Computed independently here: a change of algorithm would strand stored balances.
    digest = hashlib.blake2b(payment_id.encode(), digest_size=8).digest()
    assert ledger_shard(payment_id) == int.from_bytes(digest, "big") % 32
    assert LEDGER_SHARDS == 32


def test_payments_spread_evenly_over_the_shards() -> None:
    shards = Counter(ledger_shard(f"pay_{n:06d}") for n in range(32_000))
    assert set(shards) == set(range(LEDGER_SHARDS))
    assert max(shards.values()) < 1.15 * min(shards.values())


def test_partitions_are_the_shards_and_the_pre_shard_partition() -> None:
    partitions = ledger_partitions("ten_1")
    assert partitions[0] == "LEDGER#ten_1" == ledger_partition("ten_1", LEGACY_LEDGER_SHARD)
    assert partitions[1:] == [f"LEDGER#ten_1#{n:02d}" for n in range(32)]
    with pytest.raises(ValueError, match="no ledger shard"):
        ledger_partition("ten_1", 32)
