"""Alembic migrations of the run store (applied by genlab.store.migrate on open; see env.py)."""
