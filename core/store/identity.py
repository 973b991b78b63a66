"""Who a user is without accounts: a random token the browser keeps in a cookie, and the owner id derived from it.

The token is the secret (it never leaves the user's browser and this server's memory); files and databases only ever
hold the owner id, a one-way hash of it, so nothing stored or shown lets anyone act as someone else. A deployment
with Streamlit's login uses the login's subject instead. Each owner has a small profile on disk (the active models)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tempfile
from pathlib import Path

from core.settings import get_settings
from core.store import models as store

COOKIE = "mlx_id"
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")  # what new_token() makes; anything else is a new identity
PROFILE_MAX_BYTES = 64_000  # a profile holds a few paths: a bigger file is not ours


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


def _profile_path(owner: str) -> Path:
    store.check_name(owner, "owner")
    return get_settings().user_data_dir / "profiles" / f"{owner}.json"


def load_profile(owner: str) -> dict:
    """The owner's profile ({} when there is none, or when it cannot be read: a profile only holds preferences)."""
    path = _profile_path(owner)
    try:
        if path.stat().st_size > PROFILE_MAX_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_profile(owner: str, profile: dict) -> None:
    """Write the owner's profile atomically (a temp file, then a rename): a crash leaves the old one or the new one."""
    path = _profile_path(owner)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".profile-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(profile, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def class_code(owner: str) -> str:
    """The class the owner is in ("" none): one at a time, chosen on the Class page."""
    code = load_profile(owner).get("class_code")
    return code if isinstance(code, str) else ""


def set_class_code(owner: str, code: str) -> None:
    save_profile(owner, {**load_profile(owner), "class_code": str(code)})


def active_models(owner: str) -> dict[str, str]:
    """{family: model folder} the owner chose to use (missing families: the shipped model)."""
    active = load_profile(owner).get("active") or {}
    return {str(k): str(v) for k, v in active.items() if isinstance(v, str)} if isinstance(active, dict) else {}


def set_active_model(owner: str, family: str, path: str | None) -> None:
    profile = load_profile(owner)
    active = dict(profile.get("active") or {})
    if path:
        active[family] = str(path)
    else:
        active.pop(family, None)
    save_profile(owner, {**profile, "active": active})
