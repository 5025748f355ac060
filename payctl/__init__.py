"""`payctl`: the operator's command line for tenants, API keys and the ledger."""
