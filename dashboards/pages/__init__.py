"""Dash Pages: one module per page, each with ``dash.register_page`` and ``layout(**query)``."""
