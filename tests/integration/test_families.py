"""The family registry imports no TensorFlow (checked in a fresh interpreter) and lists the built-in families."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.paths import REPO


def test_the_registry_imports_without_tensorflow():
    code = "import sys, core.engine.registry as f; print(','.join(f.names())); "
    code += "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "colors,shapes,text,teach-image,teach-sound,teach-drawing"
