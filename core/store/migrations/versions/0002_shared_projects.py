"""Teach projects shared with a class (the Class page lists them read-only for its members).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "shared_projects" in sa.inspect(op.get_bind()).get_table_names():
        return  # a database the sqlite3 code of the same day made already has it
    op.create_table(
        "shared_projects",
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("shared_at", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("owner", "project"),
    )


def downgrade() -> None:
    op.drop_table("shared_projects")
