"""The integration tier: live servers, training worker processes, subprocess CLIs and import checks in a fresh
interpreter, real-size trainings. Every test collected in this folder gets the `integration` marker, so
`pytest -m integration` selects the same tests. The real servers' fixtures (a throwaway PostgreSQL) live in
tests/helpers/servers.py and are made available here."""

import pytest

from tests.helpers.servers import any_database, own_postgres, postgres  # noqa: F401 (fixtures for this tier)


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.integration)
