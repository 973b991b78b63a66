"""core.maths imports no TensorFlow or Keras (checked in a fresh interpreter)."""

import subprocess
import sys

from tests.helpers.paths import REPO


def test_maths_imports_no_tensorflow():
    code = "import sys, core.maths; print(any(m.split('.')[0] in {'tensorflow', 'keras'} for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
