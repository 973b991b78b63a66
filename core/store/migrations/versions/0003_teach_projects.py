"""Teach projects and their samples (blobs) in the database: their folders become a cache made from these rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teach_projects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("classes", sa.Text, nullable=False),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
        sa.UniqueConstraint("owner", "name", name="teach_projects_owner_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "teach_samples",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("project", sa.Integer, sa.ForeignKey("teach_projects.id"), nullable=False),
        sa.Column("class_name", sa.Text, nullable=False),
        sa.Column("suffix", sa.Text, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created", sa.Text, nullable=False),
    )
    op.create_index("teach_samples_project", "teach_samples", ["project"])


def downgrade() -> None:
    op.drop_index("teach_samples_project", table_name="teach_samples")
    op.drop_table("teach_samples")
    op.drop_table("teach_projects")
