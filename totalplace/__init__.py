"""totalplace: map all public spending in a place (the UK Total Place method)."""

__version__ = "0.1.0"
