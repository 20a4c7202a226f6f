"""Alembic environment and revisions for the Zizany schema."""
