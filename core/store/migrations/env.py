"""Alembic's environment: migrations run on the connection core.store.db hands over (inside its lock), or, from the
`alembic` command, on the database MLX_DATABASE_URL (or the embedded SQLite file) names."""

from __future__ import annotations

from alembic import context

from core.store import schema

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # the alembic command line: open the configured database the way the app does
        from core.store import db

        with db.engine().begin() as connection:
            context.configure(connection=connection, target_metadata=schema.metadata)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=schema.metadata)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
