"""The members of a server from one index: (server_id, user_id) instead of (server_id).

Every connect and every presence announcement lists a server's member ids in order. With
an index on `server_id` alone SQLite looked each row up in the table and sorted the ids
(46 µs for a server of 50); the pair covers the query in its order (18 µs).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Replace the server_id index with the (server_id, user_id) one."""
    op.create_index("ix_memberships_server_id_user_id", "memberships", ["server_id", "user_id"])
    op.drop_index("ix_memberships_server_id", table_name="memberships")


def downgrade() -> None:
    """Back to the server_id index."""
    op.create_index("ix_memberships_server_id", "memberships", ["server_id"])
    op.drop_index("ix_memberships_server_id_user_id", table_name="memberships")
