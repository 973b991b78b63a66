"""Every table of people's work, declared once with SQLAlchemy Core: samples, classes, profiles, model versions with
their files as blobs, and Teach projects with their samples as blobs. The migrations (core/store/migrations) create exactly these; core.store.db opens them."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

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

shared_projects = Table(  # revision 0002
    "shared_projects",
    metadata,
    Column("owner", Text, nullable=False),
    Column("project", Text, nullable=False),  # a Teach project's name in its owner's folder
    Column("code", Text, nullable=False),  # the class it is shared with
    Column("shared_at", Text, nullable=False),
    PrimaryKeyConstraint("owner", "project"),
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

# ---------------------------------------------------------------- Teach projects (core.store.teach_rows), revision 0003

teach_projects = Table(
    "teach_projects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the project's row key (never reused)
    Column("owner", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),  # "image", "sound" or "drawing"
    Column("classes", Text, nullable=False),  # the class names in order, as a JSON list
    Column("created", Text, nullable=False),
    # One more at every change: a machine's cache folder of the project is fresh while it records the same number.
    Column("revision", Integer, nullable=False, server_default="1"),
    UniqueConstraint("owner", "name", name="teach_projects_owner_name"),
    sqlite_autoincrement=True,  # a deleted project's key never names a new one (whose cache would look fresh)
)

teach_samples = Table(
    "teach_samples",
    metadata,
    Column("id", Text, primary_key=True),  # the sample id: microseconds since 1970 and a random tag
    Column("project", Integer, ForeignKey("teach_projects.id"), nullable=False),
    Column("class_name", Text, nullable=False),
    Column("suffix", Text, nullable=False),  # ".png" or ".wav": the cache file's suffix
    Column("data", LargeBinary, nullable=False),
    Column("created", Text, nullable=False),
    Index("teach_samples_project", "project"),
)
