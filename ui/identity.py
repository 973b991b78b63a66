"""The user's identity on every page: Streamlit's login when the deployment configures one, else a random token the
browser keeps in a cookie (so a reload or a new tab is still you), else, until the cookie is back, this session."""

from __future__ import annotations

import json
from dataclasses import dataclass

import streamlit as st

from core.store import identity

COOKIE_DAYS = 180  # a term and a half: long enough for a course, short enough that an old laptop forgets


@dataclass(frozen=True)
class Identity:
    owner: str  # what files and the queue know the user by (a hash: never the token itself)
    source: str  # "login", "cookie" (a returning browser) or "new" (the cookie is being set now)
    token: str = ""  # only for "new": the secret the browser is asked to keep


def _login_configured(user: dict) -> bool:
    return "is_logged_in" in user  # Streamlit adds the key only when an [auth] section is configured


def current() -> Identity:
    """This session's identity, decided once per session."""
    found = st.session_state.get("identity")
    if isinstance(found, Identity):
        return found
    user = st.user.to_dict()
    if user.get("is_logged_in") and (user.get("sub") or user.get("email")):
        ident = Identity(identity.login_owner_id(str(user.get("sub") or user.get("email"))), "login")
    else:
        token = st.context.cookies.get(identity.COOKIE)
        if identity.valid_token(token):
            ident = Identity(identity.owner_id(token), "cookie")
        else:  # no cookie yet, or one this app did not make (then it is replaced)
            token = identity.new_token()
            ident = Identity(identity.owner_id(token), "new", token)
    st.session_state["identity"] = ident
    return ident


def owner() -> str:
    return current().owner


def remember_in_browser() -> None:
    """For a new identity, ask the browser to keep the token (a zero-height component in the sidebar); offer the
    deployment's login when there is one. Called on every page run by app.py."""
    ident = current()
    user = st.user.to_dict()
    if _login_configured(user) and not user.get("is_logged_in"):
        st.sidebar.button("Log in", on_click=st.login, key="identity.login")
    if ident.source != "new":
        return
    # The token is URL-safe base64 (checked by core.identity), so it needs no escaping inside the JS string; json
    # quoting makes that explicit. SameSite=Strict: the cookie is never sent by another site's page.
    cookie = json.dumps(f"{identity.COOKIE}={ident.token}; path=/; max-age={COOKIE_DAYS * 86400}; SameSite=Strict")
    script = (
        f"<script>var c = {cookie}; if (window.location.protocol === 'https:') c += '; Secure';"
        "document.cookie = c;</script>"
    )
    with st.sidebar:
        st.html(script, unsafe_allow_javascript=True)  # our own script only: no user text reaches it
