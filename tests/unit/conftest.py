"""The unit tier: in one process, with no server, worker process, subprocess or AppTest (tests/unit/test_tiers.py
checks); the whole tier well under a minute with `pytest tests/unit -n 2`. Every test collected in this folder gets the
`unit` marker, so `pytest -m unit` selects the same tests."""

import pytest


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.unit)
