"""Unit: the page script that asks the browser to keep a new identity (ui/identity.py, issue 25)."""

from __future__ import annotations

import json
import re

import pytest

from core.store import identity
from ui.identity import keep_token_script


def test_the_script_keeps_only_a_token_this_app_made_and_nothing_else_gets_in():
    token = identity.new_token()
    script = keep_token_script(token)
    assert script.count(token) == 2  # the tab's own token and the cookie it sets, both json-quoted
    assert f"var mine = {json.dumps(token)}" in script and "SameSite=Strict" in script
    pattern = re.search(r"document\.cookie\.match\((/.*/)\)", script).group(1)
    assert pattern.startswith("/(?:^|;\\s*)mlx_id=")
    for bad in ('x"; alert(1); "' + "a" * 40, "</script><script>alert(1)</script>", "", "a" * 65):
        with pytest.raises(ValueError):
            keep_token_script(bad)
