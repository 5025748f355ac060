"""Use cases: each one is what a handler calls, and the only place decisions are made."""
