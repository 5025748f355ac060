"""`payctl ledger verify`: proves the stored ledger agrees with itself."""

from __future__ import annotations

from dataclasses import dataclass

from payments.domain.ledger import JournalLine, LedgerDiscrepancy, StoredBalance, reconcile
from payments.store import repositories
from payments.store.mapping import stored_amount


@dataclass(frozen=True, slots=True)
class LedgerReport:
    tenant_id: str
    entries: int
    accounts: int
    discrepancies: list[LedgerDiscrepancy]

    @property
    def ok(self) -> bool:
        return not self.discrepancies


def verify_tenant_ledger(tenant_id: str) -> LedgerReport:
    entries = [
        (
            item.entry_id,
            [
                JournalLine(
                    line.account,
                    line.currency,
                    debit=stored_amount(line.currency, line.debit),
                    credit=stored_amount(line.currency, line.credit),
                )
                for line in item.lines
            ],
        )
        for item in repositories.journal_entries(tenant_id)
    ]
    balances = [
        StoredBalance(
            item.account,
            item.currency,
            stored_amount(item.currency, item.debits),
            stored_amount(item.currency, item.credits),
        )
        for item in repositories.account_balances(tenant_id)
    ]
    return LedgerReport(tenant_id, len(entries), len(balances), reconcile(entries, balances))


def verify_ledger(tenant_ids: list[str] | None = None) -> list[LedgerReport]:
    ids = tenant_ids or [tenant.tenant_id for tenant in repositories.list_tenants()]
    return [verify_tenant_ledger(tenant_id) for tenant_id in ids]
