"""Alembic migrations of koppel's schema."""
