"""No hot item in a tenant's ledger: captures of different payments write disjoint items (the
payment's ledger shard), balances and `ledger verify` read every shard, and a ledger written
before sharding (one partition per tenant) still verifies and still counts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import botocore.client
import pytest

from devstack.lambdas import FunctionRegistry
from devstack.template import LocalStack
from payments.services.ledger_check import verify_tenant_ledger
from payments.store import repositories
from payments.store.models import (
    LEGACY_LEDGER_SHARD,
    AccountBalanceItem,
    JournalEntryItem,
    JournalLineMap,
    ledger_shard,
    utc_key_time,
)
from tests.integration.helpers import new_tenant
from tests.integration.stripe_fixtures import (
    OpenCheckout,
    configure_stripe,
    open_checkout,
    session_completed,
    signed_delivery,
)

Key = tuple[str, str]


@pytest.fixture
def transaction_keys(aws: LocalStack, monkeypatch: pytest.MonkeyPatch) -> list[set[Key]]:
    """The (pk, sk) of every item each TransactWriteItems call writes or checks."""
    written: list[set[Key]] = []
    lock = threading.Lock()
    original = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "TransactWriteItems":
            keys = set()
            for action in params["TransactItems"]:
                ((kind, body),) = action.items()
                item = body["Item"] if kind == "Put" else body["Key"]
                keys.add((item["pk"]["S"], item["sk"]["S"]))
            with lock:
                written.append(keys)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return written


def _checkouts_on_two_shards(tenant: str) -> tuple[OpenCheckout, OpenCheckout]:
    """Two open payments of one tenant whose ids fall in different ledger shards (two random
    ids share a shard once in 32 times: that pair is what sharding cannot separate)."""
    first = open_checkout(tenant, amount=5000, suffix="a")
    for attempt in range(20):
        second = open_checkout(tenant, amount=1200, suffix=f"b{attempt}")
        if ledger_shard(second.payment_id) != ledger_shard(first.payment_id):
            return first, second
    raise AssertionError("twenty payments in one ledger shard")


def test_two_concurrent_captures_of_one_tenant_write_disjoint_items(
    aws: LocalStack, functions: FunctionRegistry, transaction_keys: list[set[Key]]
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    first, second = _checkouts_on_two_shards(tenant)
    transaction_keys.clear()
    deliveries = [signed_delivery(tenant, session_completed(c)) for c in (first, second)]
    answers: list[int] = []
    start = threading.Barrier(2)

    def capture(delivery: dict[str, Any]) -> None:
        start.wait()
        answers.append(functions.invoke("WebhookStripeFunction", delivery)["statusCode"])

    threads = [threading.Thread(target=capture, args=(d,)) for d in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [200, 200]
    captures = [
        keys for keys in transaction_keys if any(sk.startswith("BALANCE#") for _, sk in keys)
    ]
    assert len(captures) == 2
    assert captures[0] & captures[1] == set()
    # Each wrote its journal entry and balances in its own payment's shard, nothing tenant-wide.
    for checkout in (first, second):
        shard = f"LEDGER#{tenant}#{ledger_shard(checkout.payment_id):02d}"
        ledger = {
            key
            for keys in captures
            for key in keys
            if key[0].startswith("LEDGER#") and shard == key[0]
        }
        assert {sk.split("#")[0] for _, sk in ledger} == {"ENTRY", "BALANCE"}
    assert all(pk != f"LEDGER#{tenant}" for keys in captures for pk, _ in keys), (
        "nothing in the tenant-wide partition"
    )
    report = verify_tenant_ledger(tenant)
    assert report.ok, report.discrepancies
    assert (report.entries, report.accounts) == (2, 2)
    assert repositories.tenant_balances(tenant) == {
        ("merchant_sales", "USD"): (0, 6200),
        ("provider_clearing:stripe", "USD"): (6200, 0),
    }


def _legacy_capture(tenant: str, payment_id: str, amount: int) -> None:
    """A capture as the ledger stored it before sharding: the tenant's one partition."""
    now = datetime.now(UTC)
    pk, sk = JournalEntryItem.key(tenant, LEGACY_LEDGER_SHARD, utc_key_time(now), "je_legacy1")
    assert pk == f"LEDGER#{tenant}"
    JournalEntryItem(
        pk,
        sk,
        item_type="journal_entry",
        entry_id="je_legacy1",
        tenant_id=tenant,
        payment_id=payment_id,
        description="payment captured",
        lines=[
            JournalLineMap(
                account="provider_clearing:stripe",
                currency="USD",
                debit=Decimal(amount),
                credit=Decimal(0),
            ),
            JournalLineMap(
                account="merchant_sales", currency="USD", debit=Decimal(0), credit=Decimal(amount)
            ),
        ],
        created_at=now,
    ).save()
    for account, debits, credits in (
        ("provider_clearing:stripe", amount, 0),
        ("merchant_sales", 0, amount),
    ):
        bpk, bsk = AccountBalanceItem.key(tenant, LEGACY_LEDGER_SHARD, account, "USD")
        AccountBalanceItem(
            bpk,
            bsk,
            item_type="account_balance",
            tenant_id=tenant,
            account=account,
            currency="USD",
            debits=Decimal(debits),
            credits=Decimal(credits),
        ).save()


def test_a_ledger_written_before_sharding_verifies_with_new_captures_and_counts_in_balances(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    _legacy_capture(tenant, "pay_before_shards", 700)
    assert verify_tenant_ledger(tenant).ok
    checkout = open_checkout(tenant, amount=5000)
    delivery = signed_delivery(tenant, session_completed(checkout))
    assert functions.invoke("WebhookStripeFunction", delivery)["statusCode"] == 200
    report = verify_tenant_ledger(tenant)
    assert report.ok, report.discrepancies
    assert (report.entries, report.accounts) == (2, 2)
    assert repositories.tenant_balances(tenant)[("merchant_sales", "USD")] == (0, 5700)
    # A wrong legacy balance is still found, and named with its partition.
    AccountBalanceItem(
        *AccountBalanceItem.key(tenant, LEGACY_LEDGER_SHARD, "merchant_sales", "USD")
    ).update(actions=[AccountBalanceItem.credits.add(1)])
    (problem,) = verify_tenant_ledger(tenant).discrepancies
    assert problem.account == "merchant_sales"
    assert problem.problem.endswith(f"(in LEDGER#{tenant})")


def test_a_wrong_shard_is_not_hidden_by_another_shard_wrong_the_other_way(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    first, second = _checkouts_on_two_shards(tenant)
    for checkout in (first, second):
        delivery = signed_delivery(tenant, session_completed(checkout))
        assert functions.invoke("WebhookStripeFunction", delivery)["statusCode"] == 200
    for checkout, change in ((first, 1), (second, -1)):
        key = AccountBalanceItem.key(
            tenant, ledger_shard(checkout.payment_id), "merchant_sales", "USD"
        )
        AccountBalanceItem(*key).update(actions=[AccountBalanceItem.credits.add(change)])
    # The tenant's sums are right again; each shard is not.
    assert repositories.tenant_balances(tenant)[("merchant_sales", "USD")] == (0, 6200)
    assert len(verify_tenant_ledger(tenant).discrepancies) == 2
