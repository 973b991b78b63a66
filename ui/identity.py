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
    with st.sidebar:
        st.html(keep_token_script(ident.token), unsafe_allow_javascript=True)  # our own script: no user text in it


# Two tabs opened at once on a first visit each make a token, and a browser keeps one cookie: the tab whose token was
# not kept would go on as an identity the browser forgets at the next reload (its work gone from view). So the
# script sets the cookie only when the browser holds none, checks and sets it under a Web Lock (navigator.locks: one
# tab at a time, across the browser's tabs), and a tab that finds another tab's token kept reloads, becoming that
# identity before the user has done anything. The token is URL-safe base64 (core.store.identity checks it), and json
# quoting makes the strings safe inside the script. SameSite=Strict: another site's page never sends the cookie.
KEEP_TOKEN_JS = """<script>(function () {
  var mine = %(token)s, cookie = %(cookie)s;
  if (window.location.protocol === "https:") cookie += "; Secure";
  function kept() {
    var m = document.cookie.match(%(pattern)s);
    return m ? m[1] : null;
  }
  function settle() {
    var have = kept();
    if (have === null) { document.cookie = cookie; have = kept(); }
    if (have !== null && have !== mine) window.location.reload();
  }
  if (navigator.locks && navigator.locks.request) navigator.locks.request(%(name)s, function () { settle(); });
  else settle();
})();</script>"""


def keep_token_script(token: str) -> str:
    """The page script that asks the browser to keep `token` (see KEEP_TOKEN_JS), unless another tab's is kept."""
    if not identity.valid_token(token):
        raise ValueError("Only a token this app made is put in the page.")
    name = identity.COOKIE
    cookie = f"{name}={token}; path=/; max-age={COOKIE_DAYS * 86400}; SameSite=Strict"
    pattern = "/(?:^|;\\s*)" + name + "=([A-Za-z0-9_-]{32,64})(?:;|$)/"
    return KEEP_TOKEN_JS % {
        "token": json.dumps(token),
        "cookie": json.dumps(cookie),
        "pattern": pattern,
        "name": json.dumps(name),
    }
