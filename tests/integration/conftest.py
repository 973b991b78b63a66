"""The integration tier: live servers, training worker processes, subprocess CLIs and import checks in a fresh
interpreter, real-size trainings. Every test collected in this folder gets the `integration` marker, so
`pytest -m integration` selects the same tests."""

import pytest


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.integration)
