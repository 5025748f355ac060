from __future__ import annotations

from decimal import Decimal

import pytest

from payments.domain.ledger import (
    MERCHANT_SALES,
    JournalEntry,
    JournalLine,
    StoredBalance,
    UnbalancedEntryError,
    capture_entry,
    reconcile,
    refund_entry,
)
from payments.money import InvalidAmountError


def _entry(*lines: JournalLine) -> JournalEntry:
    return JournalEntry("je_1", "ten_1", "pay_1", "test", lines)


def test_capture_and_refund_entries_balance_and_cancel_out() -> None:
    capture = capture_entry(
        entry_id="je_1",
        tenant_id="t",
        payment_id="p",
        provider="stripe",
        amount=2500,
        currency="KES",
    )
    refund = refund_entry(
        entry_id="je_2",
        tenant_id="t",
        payment_id="p",
        provider="stripe",
        amount=2500,
        currency="KES",
    )
    net: dict[tuple[str, str], int] = {}
    for entry in (capture, refund):
        for key, (debits, credits) in entry.net_by_account().items():
            net[key] = net.get(key, 0) + int(debits) - int(credits)
    assert net == {("provider_clearing:stripe", "KES"): 0, (MERCHANT_SALES, "KES"): 0}


def test_an_unbalanced_entry_cannot_be_built() -> None:
    with pytest.raises(UnbalancedEntryError, match="does not balance in USD"):
        _entry(JournalLine("a", "USD", debit=100), JournalLine("b", "USD", credit=99))


def test_balance_is_per_currency_not_in_total() -> None:
    with pytest.raises(UnbalancedEntryError, match="does not balance"):
        _entry(JournalLine("a", "USD", debit=100), JournalLine("b", "EUR", credit=100))


def test_a_line_is_a_debit_or_a_credit_and_never_negative() -> None:
    with pytest.raises(UnbalancedEntryError):
        JournalLine("a", "USD", debit=1, credit=1)
    with pytest.raises(UnbalancedEntryError):
        JournalLine("a", "USD")
    with pytest.raises(UnbalancedEntryError):
        JournalLine("a", "USD", debit=-5)


def test_float_amounts_never_get_into_the_ledger() -> None:
    with pytest.raises(InvalidAmountError):
        JournalLine("a", "USD", debit=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidAmountError):
        JournalLine("a", "BTC", debit=0.1)  # type: ignore[arg-type]


def test_crypto_lines_balance_exactly_in_decimal() -> None:
    entry = _entry(
        JournalLine("a", "ETH", debit=Decimal("0.000000000000000001")),
        JournalLine("b", "ETH", credit=Decimal("0.000000000000000001")),
    )
    assert entry.net_by_account()[("a", "ETH")] == (Decimal("0.000000000000000001"), 0)


def test_reconcile_passes_a_clean_ledger() -> None:
    lines = [JournalLine("a", "USD", debit=700), JournalLine("b", "USD", credit=700)]
    balances = [StoredBalance("a", "USD", 700, 0), StoredBalance("b", "USD", 0, 700)]
    assert reconcile([("je_1", lines)], balances) == []


def test_reconcile_finds_a_corrupted_balance_a_missing_one_and_an_orphan() -> None:
    lines = [JournalLine("a", "USD", debit=700), JournalLine("b", "USD", credit=700)]
    balances = [StoredBalance("a", "USD", 701, 0), StoredBalance("c", "USD", 5, 0)]
    problems = {
        (p.account, p.problem.split(" ")[0]) for p in reconcile([("je_1", lines)], balances)
    }
    assert problems == {("a", "balance"), ("b", "journal"), ("c", "balance")}


def test_reconcile_finds_an_unbalanced_stored_entry() -> None:
    # Stored data bypasses the constructor: reconcile re-checks each entry.
    lines = [JournalLine("a", "USD", debit=700), JournalLine("b", "USD", credit=600)]
    balances = [StoredBalance("a", "USD", 700, 0), StoredBalance("b", "USD", 0, 600)]
    problems = reconcile([("je_9", lines)], balances)
    assert [p.account for p in problems] == ["entry je_9"]


def test_refund_accounting_counts_succeeded_refunds_and_reserves_pending_ones() -> None:
    from datetime import UTC, datetime

    from payments.domain.payment import Payment
    from payments.domain.refunds import refundable_amount, status_after_refunds
    from payments.domain.states import PaymentStatus

    now = datetime.now(UTC)
    payment = Payment(
        payment_id="pay_1",
        tenant_id="ten_1",
        payable_type="booking",
        payable_id="bk_1",
        amount=4500,
        currency="USD",
        provider="stripe",
        status=PaymentStatus.SUCCEEDED,
        version=2,
        created_at=now,
        updated_at=now,
        amount_captured=4500,
        amount_refunded=1000,
        amount_refund_pending=500,
    )
    assert refundable_amount(payment) == 3000
    succeeded = PaymentStatus.SUCCEEDED
    assert status_after_refunds(succeeded, 4500, 0) is PaymentStatus.SUCCEEDED
    assert status_after_refunds(succeeded, 4500, 1) is PaymentStatus.PARTIALLY_REFUNDED
    assert status_after_refunds(succeeded, 4500, 4500) is PaymentStatus.REFUNDED
