"""Every table of people's work: samples, classes, profiles, model versions and their files.

The tables are frozen here as they were at this revision (later revisions change them with op.*, never by editing
this file). A database made before Alembic (the sqlite3 samples file) keeps its rows: missing tables, columns and
indexes are added, as the old code's own MIGRATIONS did.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

metadata = MetaData()

# ---------------------------------------------------------------- samples (core.store.samples)

color_labels = Table(
    "color_labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("r", Integer, CheckConstraint("r BETWEEN 0 AND 255"), nullable=False),
    Column("g", Integer, CheckConstraint("g BETWEEN 0 AND 255"), nullable=False),
    Column("b", Integer, CheckConstraint("b BETWEEN 0 AND 255"), nullable=False),
    Column("label", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("owner", Text, nullable=False, server_default=""),
    Column("class_code", Text, nullable=False, server_default=""),  # the class it is shared with ('' private)
    Index("color_labels_owner", "owner"),
    sqlite_autoincrement=True,  # ids are never reused: a deleted sample's id never names another one
)

drawings = Table(
    "drawings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("image", LargeBinary, nullable=False),  # 28*28 uint8, white strokes on black
    Column("label", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("owner", Text, nullable=False, server_default=""),
    Column("class_code", Text, nullable=False, server_default=""),
    Index("drawings_owner", "owner"),
    sqlite_autoincrement=True,
)

# ---------------------------------------------------------------- classes (core.store.classroom)

classes = Table(
    "classes",
    metadata,
    Column("code", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("teacher", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("joining", Integer, nullable=False, server_default="1"),  # 0: the teacher closed joining
    Column("max_members", Integer, nullable=False, server_default="200"),
)

join_failures = Table(
    "join_failures",
    metadata,
    Column("key", Text, nullable=False),  # 'owner:<owner id>' or 'address:<hash of the address>'
    Column("at", Float, nullable=False),
    Index("join_failures_key", "key", "at"),
)

shared_versions = Table(
    "shared_versions",
    metadata,
    Column("family", Text, nullable=False),
    Column("version_id", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("code", Text, nullable=False),  # the class it is shared with
    PrimaryKeyConstraint("family", "version_id"),
)

class_members = Table(
    "class_members",
    metadata,
    Column("code", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("nickname", Text, nullable=False),
    Column("joined_at", Text, nullable=False),
    PrimaryKeyConstraint("code", "owner"),
)

class_results = Table(
    "class_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("family", Text, nullable=False),
    Column("accuracy", Float, nullable=False),
    Column("epochs", Integer, nullable=False),
    Column("batch_size", Integer, nullable=False),
    Column("learning_rate", Float, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("version_id", Text, nullable=False, unique=True),
    Column("created_at", Text, nullable=False),
    sqlite_autoincrement=True,
)

# ---------------------------------------------------------------- profiles (core.store.identity)

profiles = Table(
    "profiles",
    metadata,
    Column("owner", Text, primary_key=True),
    Column("class_code", Text, nullable=False, server_default=""),  # the class chosen on the Class page
)

active_models = Table(
    "active_models",
    metadata,
    Column("owner", Text, nullable=False),
    Column("family", Text, nullable=False),
    Column("path", Text, nullable=False),  # the model folder the owner chose for the family
    PrimaryKeyConstraint("owner", "family"),
)

# ---------------------------------------------------------------- model versions (core.store.blobs)

model_versions = Table(
    "model_versions",
    metadata,
    Column("family", Text, nullable=False),
    Column("version_id", Text, nullable=False),
    Column("owner", Text, nullable=False, server_default=""),
    Column("saved_at", Text, nullable=False),
    Column("metadata", Text, nullable=False),  # model.json's userDefinedMetadata, as JSON
    PrimaryKeyConstraint("family", "version_id"),
)

model_files = Table(
    "model_files",
    metadata,
    Column("family", Text, nullable=False),
    Column("version_id", Text, nullable=False),
    Column("name", Text, nullable=False),  # model.json or a weight shard's file name
    Column("data", LargeBinary, nullable=False),
    PrimaryKeyConstraint("family", "version_id", "name"),
)


def upgrade() -> None:
    bind = op.get_bind()
    before = set(sa.inspect(bind).get_table_names())
    metadata.create_all(bind, checkfirst=True)
    inspector = sa.inspect(bind)
    for table in metadata.sorted_tables:
        if table.name not in before:
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have:  # every column added since the first sqlite3 schema has a server default
                op.add_column(table.name, column._copy())
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(bind)


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
