"""Who a user is without accounts: a random token the browser keeps in a cookie, and the owner id derived from it.

The token is the secret (it never leaves the user's browser and this server's memory); files and databases only ever
hold the owner id, a one-way hash of it, so nothing stored or shown lets anyone act as someone else. A deployment
with Streamlit's login uses the login's subject instead. Each owner has a small profile in the database (the active models, the class)."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import delete, insert, select

from core.store import db
from core.store import models as store
from core.store import schema as t

COOKIE = "mlx_id"
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")  # what new_token() makes; anything else is a new identity


def new_token() -> str:
    """A fresh identity: 32 random bytes (256 bits), URL-safe, so it cannot be guessed."""
    return secrets.token_urlsafe(32)


def valid_token(token) -> bool:
    return isinstance(token, str) and bool(TOKEN_PATTERN.match(token))


def owner_id(token: str) -> str:
    """The stored name of the identity behind `token`: 'u' + 20 hex digits of its SHA-256."""
    if not valid_token(token):
        raise ValueError("That identity token is not one this app made.")
    return "u" + hashlib.sha256(f"mlx-owner:{token}".encode()).hexdigest()[:20]


def login_owner_id(subject: str) -> str:
    """The stored name of a logged-in user (Streamlit's st.login): 'l' + 20 hex digits of a hash of the subject."""
    if not isinstance(subject, str) or not subject.strip():
        raise ValueError("The login did not say who the user is.")
    return "l" + hashlib.sha256(f"mlx-login:{subject.strip()}".encode()).hexdigest()[:20]


def load_profile(owner: str) -> dict:
    """The owner's profile: {"class_code": ..., "active": {family: folder}} ({} when there is none, or when the
    database cannot be read now: a profile only holds preferences)."""
    store.check_name(owner, "owner")
    try:
        with db.reading() as connection:
            code = connection.execute(select(t.profiles.c.class_code).where(t.profiles.c.owner == owner)).scalar()
            a = t.active_models.c
            active = dict(connection.execute(select(a.family, a.path).where(a.owner == owner)).all())
    except db.DatabaseError:
        return {}
    profile: dict = {"class_code": code} if code is not None else {}
    return {**profile, "active": active} if active else profile


def save_profile(owner: str, profile: dict) -> None:
    """Write the owner's whole profile in one transaction: the old one or the new one is kept, never half of each."""
    store.check_name(owner, "owner")
    active = profile.get("active") or {}
    with db.writing() as connection:
        row = {"owner": owner, "class_code": str(profile.get("class_code") or "")}
        db.upsert(connection, t.profiles, row, ["owner"], ["class_code"])
        connection.execute(delete(t.active_models).where(t.active_models.c.owner == owner))
        rows = [{"owner": owner, "family": str(k), "path": str(v)} for k, v in active.items() if isinstance(v, str)]
        if rows:
            connection.execute(insert(t.active_models), rows)


def class_code(owner: str) -> str:
    """The class the owner is in ("" none): one at a time, chosen on the Class page."""
    code = load_profile(owner).get("class_code")
    return code if isinstance(code, str) else ""


def set_class_code(owner: str, code: str) -> None:
    store.check_name(owner, "owner")
    with db.writing() as connection:
        db.upsert(connection, t.profiles, {"owner": owner, "class_code": str(code)}, ["owner"], ["class_code"])


def active_models(owner: str) -> dict[str, str]:
    """{family: model folder} the owner chose to use (missing families: the shipped model)."""
    return dict(load_profile(owner).get("active") or {})


def set_active_model(owner: str, family: str, path: str | None) -> None:
    store.check_name(owner, "owner")
    a = t.active_models
    with db.writing() as connection:
        connection.execute(delete(a).where(a.c.owner == owner, a.c.family == str(family)))
        if path:
            connection.execute(insert(a).values(owner=owner, family=str(family), path=str(path)))
