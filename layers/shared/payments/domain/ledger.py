"""Double-entry journal entries that cannot exist unless they balance.

A journal entry is a set of lines; each line debits or credits one account in one currency.
For every currency in the entry, the sum of debits equals the sum of credits, or the entry
refuses to be built. Amounts are integer minor units for fiat and ``Decimal`` for crypto
(``money.Amount``); a float never gets in.

Accounts (per tenant):
- ``provider_clearing:<provider>``: money held for the merchant at the provider (an asset,
  debit-normal).
- ``merchant_sales``: what the merchant has been paid by customers, net of refunds
  (credit-normal).
- ``settlement_in_transit:<provider>``: for a provider that clears a payment first and settles
  it later (NEO Bank, T+2), funds cleared but not yet settled (an asset). Settlement moves them
  to ``provider_clearing:<provider>``; a reversal takes them back out of ``merchant_sales``.
  Both may carry a party (``...:<provider>:<profile id>``): the customer whose balance it is,
  so that a customer's cleared and settled balances are accounts like any other.
- ``ledger_adjustments``: the other side of an operator's audited correction of a balance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from payments.money import Amount, MoneyError, amount_for

K = TypeVar("K")


class UnbalancedEntryError(MoneyError):
    code = "unbalanced_entry"


def provider_clearing_account(provider: str, party: str | None = None) -> str:
    return f"provider_clearing:{provider}" + (f":{party}" if party else "")


def in_transit_account(provider: str, party: str | None = None) -> str:
    return f"settlement_in_transit:{provider}" + (f":{party}" if party else "")


MERCHANT_SALES = "merchant_sales"
LEDGER_ADJUSTMENTS = "ledger_adjustments"


@dataclass(frozen=True, slots=True)
class JournalLine:
    account: str
    currency: str
    debit: Amount = 0
    credit: Amount = 0

    def __post_init__(self) -> None:
        for side in (self.debit, self.credit):
            # The empty side is a plain 0 in any currency; anything else must be an exact
            # amount of the line's currency (int minor units, or Decimal for crypto).
            if not (type(side) is int and side == 0):
                amount_for(self.currency, side)
        if self.debit < 0 or self.credit < 0:
            raise UnbalancedEntryError("journal line amounts must not be negative")
        if (self.debit == 0) == (self.credit == 0):
            raise UnbalancedEntryError("a journal line is either a debit or a credit")
        if not self.account:
            raise UnbalancedEntryError("a journal line needs an account")


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A balanced set of lines describing one money movement."""

    entry_id: str
    tenant_id: str
    payment_id: str
    description: str
    lines: tuple[JournalLine, ...] = field(default_factory=tuple)
    # What places the entry (and the balances it moves) in the ledger's shards: the payment by
    # default; a customer's id for entries of that customer's accounts, so that the customer's
    # balances live in one shard and are read with one query.
    shard_key: str | None = None

    def __post_init__(self) -> None:
        if len(self.lines) < 2:
            raise UnbalancedEntryError("a journal entry needs at least two lines")
        for currency, (debits, credits) in totals(self.lines, _by_currency).items():
            if debits != credits:
                raise UnbalancedEntryError(
                    f"entry does not balance in {currency}: debits {debits} != credits {credits}"
                )

    def net_by_account(self) -> dict[tuple[str, str], tuple[Amount, Amount]]:
        """(account, currency) -> (debits, credits) summed over this entry's lines."""
        return totals(self.lines, _by_account)


def totals(
    lines: Iterable[JournalLine], key: Callable[[JournalLine], K]
) -> dict[K, tuple[Amount, Amount]]:
    """(debits, credits) of ``lines`` summed per ``key`` (currency, account + currency...)."""
    sums: dict[K, list[Amount]] = defaultdict(lambda: [0, 0])
    for line in lines:
        sums[key(line)][0] += line.debit
        sums[key(line)][1] += line.credit
    return {k: (debits, credits) for k, (debits, credits) in sums.items()}


def _by_currency(line: JournalLine) -> str:
    return line.currency


def _by_account(line: JournalLine) -> tuple[str, str]:
    return line.account, line.currency


def transfer_entry(
    *,
    entry_id: str,
    tenant_id: str,
    payment_id: str,
    description: str,
    debit: str,
    credit: str,
    amount: Amount,
    currency: str,
    shard_key: str | None = None,
) -> JournalEntry:
    """``amount`` moved from ``credit`` to ``debit``: every entry of ours is one such pair."""
    return JournalEntry(
        entry_id=entry_id,
        tenant_id=tenant_id,
        payment_id=payment_id,
        description=description,
        shard_key=shard_key,
        lines=(
            JournalLine(debit, currency, debit=amount),
            JournalLine(credit, currency, credit=amount),
        ),
    )


def capture_entry(
    *,
    entry_id: str,
    tenant_id: str,
    payment_id: str,
    provider: str,
    amount: Amount,
    currency: str,
    in_transit: bool = False,
    party: str | None = None,
) -> JournalEntry:
    """The customer paid: the provider holds the money for the merchant (``in_transit``:
    cleared, to be settled later)."""
    account = (in_transit_account if in_transit else provider_clearing_account)(provider, party)
    return transfer_entry(
        entry_id=entry_id,
        tenant_id=tenant_id,
        payment_id=payment_id,
        description="payment cleared" if in_transit else "payment captured",
        debit=account,
        credit=MERCHANT_SALES,
        amount=amount,
        currency=currency,
    )


def settlement_entry(
    *,
    entry_id: str,
    tenant_id: str,
    payment_id: str,
    provider: str,
    amount: Amount,
    currency: str,
    party: str | None = None,
) -> JournalEntry:
    """Cleared funds settled: from in transit to held at the provider for the merchant."""
    return transfer_entry(
        entry_id=entry_id,
        tenant_id=tenant_id,
        payment_id=payment_id,
        description="payment settled",
        debit=provider_clearing_account(provider, party),
        credit=in_transit_account(provider, party),
        amount=amount,
        currency=currency,
    )


def reversal_entry(
    *,
    entry_id: str,
    tenant_id: str,
    payment_id: str,
    provider: str,
    amount: Amount,
    currency: str,
    party: str | None = None,
) -> JournalEntry:
    """Cleared funds the provider took back before settling them: exactly undoes the
    clearing."""
    return transfer_entry(
        entry_id=entry_id,
        tenant_id=tenant_id,
        payment_id=payment_id,
        description="payment reversed",
        debit=MERCHANT_SALES,
        credit=in_transit_account(provider, party),
        amount=amount,
        currency=currency,
    )


def adjustment_entry(
    *,
    entry_id: str,
    tenant_id: str,
    subject_id: str,
    account: str,
    amount: Amount,
    currency: str,
    reason: str,
) -> JournalEntry:
    """An operator's correction of ``account`` by ``amount`` (negative: down), balanced against
    ``ledger_adjustments``; ``subject_id`` (a profile id) places it in the ledger."""
    if amount == 0:
        raise UnbalancedEntryError("an adjustment needs a non-zero amount")
    if account == LEDGER_ADJUSTMENTS:
        raise UnbalancedEntryError("an adjustment moves another account")
    up = amount > 0
    return transfer_entry(
        entry_id=entry_id,
        tenant_id=tenant_id,
        payment_id=subject_id,
        shard_key=subject_id,
        description=f"adjustment: {reason}",
        debit=account if up else LEDGER_ADJUSTMENTS,
        credit=LEDGER_ADJUSTMENTS if up else account,
        amount=amount if up else -amount,
        currency=currency,
    )


def refund_entry(
    *, entry_id: str, tenant_id: str, payment_id: str, provider: str, amount: Amount, currency: str
) -> JournalEntry:
    """Money went back to the customer: exactly reverses ``amount`` of a capture."""
    return transfer_entry(
        entry_id=entry_id,
        tenant_id=tenant_id,
        payment_id=payment_id,
        description="payment refunded",
        debit=MERCHANT_SALES,
        credit=provider_clearing_account(provider),
        amount=amount,
        currency=currency,
    )


@dataclass(frozen=True, slots=True)
class StoredBalance:
    account: str
    currency: str
    debits: Amount
    credits: Amount


@dataclass(frozen=True, slots=True)
class LedgerDiscrepancy:
    account: str
    currency: str
    problem: str


def reconcile(
    entries: list[tuple[str, list[JournalLine]]], balances: list[StoredBalance]
) -> list[LedgerDiscrepancy]:
    """Every way the stored ledger disagrees with itself.

    ``entries`` are (entry id, lines) as stored. An entry that does not balance per currency is
    a discrepancy; so is any account whose stored debit/credit totals differ from the sum of
    its journal lines, including an account with lines but no balance item and vice versa.
    """
    problems: list[LedgerDiscrepancy] = []
    summed = totals((line for _, lines in entries for line in lines), _by_account)
    for entry_id, lines in entries:
        for currency, (debits, credits) in totals(lines, _by_currency).items():
            if debits != credits:
                problems.append(
                    LedgerDiscrepancy(
                        f"entry {entry_id}", currency, f"debits {debits} != credits {credits}"
                    )
                )
    stored = {(b.account, b.currency): b for b in balances}
    for key in sorted(set(summed) | set(stored)):
        account, currency = key
        expected_debits, expected_credits = summed.get(key, (0, 0))
        balance = stored.get(key)
        if balance is None:
            problems.append(LedgerDiscrepancy(account, currency, "journal lines but no balance"))
            continue
        if (balance.debits, balance.credits) != (expected_debits, expected_credits):
            problems.append(
                LedgerDiscrepancy(
                    account,
                    currency,
                    f"balance debits/credits {balance.debits}/{balance.credits} != "
                    f"journal {expected_debits}/{expected_credits}",
                )
            )
    return problems
