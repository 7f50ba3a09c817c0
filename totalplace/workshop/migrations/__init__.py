"""Alembic migrations of the workshop database (run them with ``totalplace.workshop.db.upgrade``)."""
