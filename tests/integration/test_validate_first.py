"""Checking that a model fits its page reads model.json only: core.engine.fit imports no Keras, TensorFlow or
Streamlit (checked in a fresh interpreter)."""

from __future__ import annotations


def test_model_fit_imports_no_keras_or_streamlit():
    import subprocess
    import sys

    code = (
        "import sys; from core.engine import fit as model_fit; from core.store import models as store; "
        "model_fit.fit_problem('colors', store.read_model_json(store.shipped_model_dir('colors'))); "
        "print(any(m in sys.modules for m in ('keras', 'tensorflow', 'streamlit')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
