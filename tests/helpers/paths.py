"""Where things are: the repository, the tests, and the helpers' data files."""

from pathlib import Path

HELPERS = Path(__file__).resolve().parent
TESTS = HELPERS.parent
REPO = TESTS.parent
DATA = HELPERS / "data"  # the browser-drawn evaluation set and its canvas ink (see data/SOURCES.md)
