"""Built-in adapters, one module per published format.

Each registers in the ``totalplace.adapters`` entry-point group of ``pyproject.toml`` exactly as a
third-party adapter would; nothing here imports them all (the registry does, by entry point).
"""
