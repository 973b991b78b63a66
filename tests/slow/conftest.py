"""The slow tier: heavier checks (the shipped models' evaluation, Node/TF.js export, repeated SIGKILLs); CI runs it.
Every test collected in this folder gets the `slow` marker, so `pytest -m slow` selects the same tests."""

import pytest


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.slow)
