"""The Draw page's in-browser answer, without a browser: the served model is the shipped one byte for byte (so the
browser and the server can never run different weights), the vendored TF.js is the pinned one with its licence, the
app serves static/, and only an exact "browser" report hands the answer to the browser."""

from __future__ import annotations

import json
import tomllib
from types import SimpleNamespace

import pytest

from core.settings import SHIPPED_MODELS_DIR
from tests.helpers.paths import REPO
from ui import draw_live

STATIC = REPO / "static"
SERVED = STATIC / "models" / "shapes"


def test_the_served_shapes_model_is_the_shipped_one_byte_for_byte():
    # The exporter (core.store.export) writes the shipped folder back unchanged, so equal bytes mean equal weights:
    # rebuild with `python scripts/build_static.py` after retraining the shipped model.
    shipped = SHIPPED_MODELS_DIR / "shapes"
    served_json = json.loads((SERVED / "model.json").read_text())
    shipped_json = json.loads((shipped / "model.json").read_text())
    assert served_json["weightsManifest"] == shipped_json["weightsManifest"]
    assert served_json["modelTopology"] == shipped_json["modelTopology"]
    assert (SERVED / "group1-shard1of1.bin").read_bytes() == (shipped / "group1-shard1of1.bin").read_bytes(), (
        "static/models/shapes drifted from saved_models/shapes: run `python scripts/build_static.py`"
    )


def test_the_served_model_answers_with_the_shipped_class_names_and_threshold():
    meta = json.loads((SERVED / "model.json").read_text())["userDefinedMetadata"]
    shipped = json.loads((SHIPPED_MODELS_DIR / "shapes" / "model.json").read_text())["userDefinedMetadata"]
    assert meta["class_names"] == shipped["class_names"]
    assert meta["rejection"] == shipped["rejection"]


def test_the_vendored_tfjs_is_the_pinned_version_with_its_licence():
    pinned = json.loads((REPO / "package.json").read_text())["dependencies"]["@tensorflow/tfjs"]
    notice = (STATIC / "tfjs" / "NOTICE.md").read_text()
    assert f"TensorFlow.js {pinned}" in notice and "Apache License 2.0" in notice
    assert "Apache License" in (STATIC / "tfjs" / "LICENSE").read_text()
    bundle = (STATIC / "tfjs" / "tf.min.js").read_bytes()
    assert b"Licensed under the Apache License, Version 2.0" in bundle[:2000]
    installed = REPO / "node_modules" / "@tensorflow" / "tfjs" / "dist" / "tf.min.js"
    if installed.exists():  # scripts/test.sh installs it; then the copy must be that very file
        assert bundle == installed.read_bytes(), "static/tfjs/tf.min.js differs: run `python scripts/build_static.py`"


def test_the_app_serves_static_files():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableStaticServing"] is True
    for relative in (draw_live.MODULE, draw_live.TFJS, draw_live.SHAPES_MODEL, "draw/preprocess.js"):
        assert (draw_live.STATIC_DIR / relative).is_file(), relative


def test_static_urls_are_relative_and_carry_the_files_version():
    url = draw_live.static_url(draw_live.MODULE)
    assert url == f"app/static/draw/live.js?v={draw_live.static_version()}"
    assert len(draw_live.static_version()) == 12


@pytest.mark.parametrize(
    "value",
    [None, "", "failed: could not load app/static/tfjs/tf.min.js", "Browser", " browser", True, 1, ["browser"]],
)
def test_only_an_exact_browser_report_hands_the_answer_to_the_browser(value):
    assert draw_live.engine_of(SimpleNamespace(engine=value)) == draw_live.SERVER
    assert draw_live.engine_of(SimpleNamespace()) == draw_live.SERVER
    assert draw_live.engine_of(SimpleNamespace(engine="browser")) == draw_live.BROWSER
