"""The apptest tier: Streamlit AppTest page tests (tests/helpers/apptest.py). Every test collected in this folder gets
the `apptest` marker, so `pytest -m apptest` selects the same tests."""

import pytest


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.apptest)
