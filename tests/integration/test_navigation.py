"""app.py and the home page import no TensorFlow: an AppTest run in a fresh interpreter, its modules listed."""

import subprocess
import sys

from tests.helpers.paths import REPO


def test_app_and_home_page_import_no_tensorflow():
    code = (
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(REPO / 'app.py')!r}, default_timeout=30).run()\n"
        "assert not at.exception, at.exception\n"
        "assert 'explainer' in at.title[0].value\n"
        "import sys; print('\\n'.join(sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert "streamlit" in loaded and "ui.common" in loaded
    assert "tensorflow" not in loaded and "keras" not in loaded
