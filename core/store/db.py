"""The one database of people's work: a SQLAlchemy engine per process, PostgreSQL from MLX_DATABASE_URL or else the
embedded SQLite file (WAL), migrated to the newest Alembic revision when first opened (under a lock, so two processes
starting together migrate once). Every failure leaves here as a DatabaseError in plain words: no URL, path or driver text."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url

from core.settings import get_settings
from core.store.topology import StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
CONNECT_TIMEOUT_S = 3  # a server that does not answer in 3 s is down for this request; the page says so at once
SQLITE_BUSY_TIMEOUT_MS = 10_000  # another process's write holds the file at most this long before we give up
MIGRATION_LOCK = 7_231_001  # PostgreSQL advisory lock key: one process migrates, the others wait for it
MAX_ENGINES = 8  # tests open a database per test; older engines are disposed, so no file handle is kept open

UNREACHABLE = (  # no driver text: it names the host, the port and sometimes the user
    "The database is not reachable right now, so saved work cannot be read or changed. Try again in a minute; if it "
    "lasts, tell whoever runs this server."
)
DAMAGED = (
    "The sample database is damaged ({why}), so the saved colour labels and drawings cannot be read or changed "
    "now. The rest of the page works; whoever runs this server can repair the file (sqlite3's .recover)."
)


class DatabaseError(StoreError, RuntimeError):
    """The database cannot be opened, read or written; the message says why in plain words."""


_ABSOLUTE_PATH = re.compile(r"""(?:[A-Za-z]:)?[/\\][^\s'",;:()]+""")  # what a path looks like in an error's text
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_HOST = re.compile(r'(?:\b(?:at|on|to) )?(?:host|server|address)\s*"?[^\s"]*"?(?: \([^)]*\))?,?', re.IGNORECASE)


def plain_db_error(error: BaseException) -> str:
    """An error of the database in words a user can read, with no file path, URL or host in it (they tell an
    attacker where the data lives, and the user nothing): the system's reason for an OSError, the database's short
    text otherwise (its first line)."""
    if isinstance(error, exc.DBAPIError) and error.orig is not None:
        error = error.orig
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = _HOST.sub("", _URL.sub("…", _ABSOLUTE_PATH.sub("…", text))).strip(" :,")
    return text[:160] or type(error).__name__


def _damaged(error: BaseException) -> bool:
    text = str(getattr(error, "orig", None) or error).lower()
    return "malformed" in text or "not a database" in text


def _unreachable(error: BaseException) -> bool:
    """A server that is down or went away (never a SQLite file, whose problems are its own messages)."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, exc.OperationalError | exc.InterfaceError) and not _is_sqlite_error(error)


def _is_sqlite_error(error: BaseException) -> bool:
    return type(getattr(error, "orig", None)).__module__.startswith("sqlite3")


def translate(error: BaseException, refused: str) -> DatabaseError:
    """The plain DatabaseError for any failure of the database; `refused` (with {why}) words the ordinary ones."""
    if isinstance(error, DatabaseError):
        return error
    why = plain_db_error(error)
    if _damaged(error):
        return DatabaseError(DAMAGED.format(why=why))
    if _unreachable(error):
        return DatabaseError(UNREACHABLE)
    return DatabaseError(refused.format(why=why))


# ---------------------------------------------------------------- the engine


def database_url(path: str | Path | None = None) -> str:
    """The URL of the database: `path` (an SQLite file; tests and the command line), MLX_DATABASE_URL, or the
    embedded SQLite file in the user-data folder (MLX_DB_PATH)."""
    settings = get_settings()
    if path is None and settings.database_url:
        return settings.database_url
    return f"sqlite+pysqlite:///{Path(path or settings.database).resolve()}"


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None


def _file_key(path: Path | None) -> int | None:
    """The SQLite file's inode: a file deleted or replaced since the engine opened it is a new database."""
    try:
        return path.stat().st_ino if path is not None else None
    except OSError:
        return None


def _sqlite_engine(url: str, path: Path) -> Engine:
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we say when a transaction begins (below), not the driver
        dbapi_connection.execute("PRAGMA journal_mode=WAL")  # kept in the file; readers never wait for a writer
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A write takes the file's write lock at its start, so two writers queue instead of failing halfway.
        writing = connection.get_execution_options().get("mlx_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    return engine


def _server_engine(url: str) -> Engine:
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if url.startswith("postgresql") else {}
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_recycle=1800, connect_args=connect_args
    )


def _migrate(engine: Engine) -> None:
    """Bring the database to the newest revision, once, whichever process gets there first."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect().execution_options(mlx_write=True) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")  # freed at commit
        config.attributes["connection"] = connection  # SQLite: BEGIN IMMEDIATE above already holds the lock
        command.upgrade(config, "head")


_ENGINES: dict[str, tuple[int | None, Engine]] = {}
_LOCK = threading.Lock()


def engine(path: str | Path | None = None) -> Engine:
    """The process's engine for the database (see database_url), made and migrated on first use."""
    url = database_url(path)
    sqlite = _sqlite_file(url)
    key = _file_key(sqlite)
    with _LOCK:
        found = _ENGINES.get(url)
        if found is not None and (sqlite is None or found[0] == key):
            return found[1]
        if found is not None:
            found[1].dispose()
        try:
            made = _sqlite_engine(url, sqlite) if sqlite is not None else _server_engine(url)
            _migrate(made)
        except exc.ArgumentError as error:  # an unknown driver or a malformed URL: never its text, which holds the URL
            raise DatabaseError(
                f"The database cannot be opened ({type(error).__name__}): check MLX_DATABASE_URL."
            ) from None
        except (exc.SQLAlchemyError, OSError) as error:
            raise translate(error, "The database cannot be opened or written ({why}).") from None
        except Exception as error:  # a URL the driver cannot parse, an unknown driver: never its text or the URL
            raise DatabaseError(
                f"The database cannot be opened ({type(error).__name__}): check MLX_DATABASE_URL."
            ) from None
        _ENGINES.pop(url, None)
        _ENGINES[url] = (_file_key(sqlite), made)
        while len(_ENGINES) > MAX_ENGINES:
            _ENGINES.pop(next(iter(_ENGINES)))[1].dispose()
        return made


def dispose_all() -> None:
    """Forget every engine (a test that rewrote a database file behind our back; a forked process)."""
    with _LOCK:
        for _, made in _ENGINES.values():
            made.dispose()
        _ENGINES.clear()


@contextmanager
def writing(
    path: str | Path | None = None, refused: str = "The database refused the write ({why})."
) -> Iterator[Connection]:
    """One write transaction: everything in the block is kept, or (on any error) nothing is."""
    made = engine(path)
    try:
        with made.connect().execution_options(mlx_write=True) as connection, connection.begin():
            yield connection
    except (exc.SQLAlchemyError, OSError) as error:
        raise translate(error, refused) from None


@contextmanager
def reading(
    path: str | Path | None = None, refused: str = "The database cannot be read ({why})."
) -> Iterator[Connection]:
    """One read transaction (a consistent snapshot of the database)."""
    made = engine(path)
    try:
        with made.connect() as connection, connection.begin():
            yield connection
    except (exc.SQLAlchemyError, OSError) as error:
        raise translate(error, refused) from None


def upsert(connection: Connection, table, values: dict, keys: list[str], update: list[str] | None = None) -> int:
    """INSERT, or on a clash of `keys` update the `update` columns (none: leave the row); returns rows written."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table).values(**values)
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={c: statement.excluded[c] for c in update}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    # RETURNING counts the rows on every backend (psycopg's rowcount is -1 for an INSERT that returns its key)
    return len(connection.execute(statement.returning(*table.primary_key.columns)).all())


def backend(path: str | Path | None = None) -> str:
    """'postgresql' or 'sqlite': what the database is (for the command line's report)."""
    return make_url(database_url(path)).get_backend_name()


def forget_after_fork() -> None:
    """A child process must not share its parent's pooled connections (os.register_at_fork below)."""
    for _, made in _ENGINES.values():
        made.dispose(close=False)
    _ENGINES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=forget_after_fork)
