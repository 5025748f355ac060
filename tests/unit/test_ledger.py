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
        JournalLine("a", "USD", debit=1.5)
    with pytest.raises(InvalidAmountError):
        JournalLine("a", "BTC", debit=0.1)


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


def test_a_cleared_payment_settles_or_reverses_to_exactly_the_clearing() -> None:
    from payments.domain.ledger import (
        in_transit_account,
        provider_clearing_account,
        reversal_entry,
        settlement_entry,
    )

    common: dict[str, str] = {
        "tenant_id": "t", "payment_id": "p", "provider": "neobank", "currency": "USD",
        "party": "prf_1",
    }  # fmt: skip
    cleared = capture_entry(entry_id="je_1", amount=25000, in_transit=True, **common)
    settled = settlement_entry(entry_id="je_2", amount=25000, **common)
    reversed_ = reversal_entry(entry_id="je_3", amount=25000, **common)
    transit = in_transit_account("neobank", "prf_1")
    clearing = provider_clearing_account("neobank", "prf_1")
    assert transit == "settlement_in_transit:neobank:prf_1"
    assert clearing == "provider_clearing:neobank:prf_1"
    net = cleared.net_by_account()
    assert net[(transit, "USD")] == (25000, 0)
    assert net[(MERCHANT_SALES, "USD")] == (0, 25000)
    after_settling = reconcile(
        [("je_1", list(cleared.lines)), ("je_2", list(settled.lines))],
        [
            StoredBalance(transit, "USD", 25000, 25000),
            StoredBalance(clearing, "USD", 25000, 0),
            StoredBalance(MERCHANT_SALES, "USD", 0, 25000),
        ],
    )
    assert after_settling == []
    # A reversal leaves in transit and sales where they were before the clearing.
    both = cleared.lines + reversed_.lines
    from payments.domain.ledger import totals

    sums = totals(both, lambda line: line.account)
    assert sums[transit] == (25000, 25000)
    assert sums[MERCHANT_SALES] == (25000, 25000)


def test_an_adjustment_balances_against_ledger_adjustments_either_way() -> None:
    from payments.domain.ledger import LEDGER_ADJUSTMENTS, adjustment_entry

    up = adjustment_entry(
        entry_id="je_1", tenant_id="t", subject_id="prf_1", account="a", amount=150,
        currency="USD", reason="bank correction",
    )  # fmt: skip
    down = adjustment_entry(
        entry_id="je_2", tenant_id="t", subject_id="prf_1", account="a", amount=-150,
        currency="USD", reason="bank correction",
    )  # fmt: skip
    assert up.net_by_account()[("a", "USD")] == (150, 0)
    assert up.net_by_account()[(LEDGER_ADJUSTMENTS, "USD")] == (0, 150)
    assert down.net_by_account()[("a", "USD")] == (0, 150)
    assert down.description == "adjustment: bank correction"
    with pytest.raises(UnbalancedEntryError):
        adjustment_entry(
            entry_id="je_3", tenant_id="t", subject_id="p", account="a", amount=0,
            currency="USD", reason="r",
        )  # fmt: skip
    with pytest.raises(InvalidAmountError):
        adjustment_entry(
            entry_id="je_4", tenant_id="t", subject_id="p", account="a", amount=Decimal("1.5"),
            currency="USD", reason="r",
        )  # fmt: skip
