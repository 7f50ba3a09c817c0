"""The canonical ledger: its schema (one definition) and its store (the only DuckDB user)."""
