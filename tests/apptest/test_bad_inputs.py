"""The bad-input sweep's page-level cases (issue 8, item 5): each bad input given to a page through AppTest shows a
plain message and no exception, and loses nothing. The table is tests/helpers/bad_input_pages.py; it is published in
docs/bad_inputs.md with the core and CLI cases of tests/unit/test_bad_inputs.py, which keeps the two in step."""

from __future__ import annotations

import pytest

from tests.helpers.apptest import app_test
from tests.helpers.bad_input_pages import PAGE_CASES, PageCase
from tests.helpers.bad_inputs import (
    Env,
    assert_nothing_lost,
    check_message,
    shipped_digest,
    snapshot,
    sweep_env,
)


@pytest.fixture
def env(tmp_path, capsys, user_data):
    with sweep_env(tmp_path, capsys) as made:
        yield made


@pytest.mark.parametrize("c", PAGE_CASES, ids=[c.id for c in PAGE_CASES])
def test_page_shows_the_message_without_an_exception(c: PageCase, env: Env):
    env.mp.setenv("MLX_QDRANT_PATH", ":memory:")  # the vector page's index stays in this test
    before, shipped_before = snapshot(), shipped_digest()
    at = app_test(c.page)
    c.act(at)
    assert not at.exception, [e.value for e in at.exception]
    shown = "\n".join([e.value for e in at.error] + [w.value for w in at.warning])
    check_message(shown, c.expect)
    assert_nothing_lost(env, before, shipped_before)
