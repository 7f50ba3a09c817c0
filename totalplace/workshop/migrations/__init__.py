"""Alembic migrations of the workshop database (run by ``totalplace.workshop.db.upgrade``)."""
