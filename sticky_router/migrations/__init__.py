"""Alembic migrations, shipped inside the package so `sticky-router migrate` finds them anywhere."""
