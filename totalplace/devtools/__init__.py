"""Helpers for tests and benchmarks that ship with the package (as datasette ships fixtures)."""
