"""Architecture rules: core never imports streamlit, and the home page never imports TensorFlow."""

import subprocess
import sys

from tests.helpers.paths import REPO


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def test_core_never_imports_streamlit():
    loaded = _modules_after(
        "import pkgutil, importlib, core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'core.'):\n"
        "    if m.name != 'core.__main__': importlib.import_module(m.name)"
    )
    assert "core.store.models" in loaded and "core.families.colors.model" in loaded
    assert not any(name == "streamlit" or name.startswith("streamlit.") for name in loaded)


def test_home_page_does_not_import_tensorflow():
    loaded = _modules_after(
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(REPO / 'app.py')!r}, default_timeout=30).run()\n"
        "assert not at.exception, at.exception"
    )
    assert "streamlit" in loaded
    assert "tensorflow" not in loaded and "keras" not in loaded
