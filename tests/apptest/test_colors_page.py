"""AppTest: the home page and the Colors page render, react to input, and handle bad input without tracebacks."""

import json

import numpy as np
import pytest

from core.families.colors import model as colors
from core.store import samples
from tests.helpers.apptest import app_test, picker_data, release_picker, three_ways_data, top_family


def test_home_page_lists_every_page():
    at = app_test("app.py").run()  # the home page is app.py's default page
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    for word in ("softmax", "CNN", "LSTM", "Retrain", "model.json", "vector database"):
        assert word in text


def test_colors_page_picker_release_drives_the_page():
    at = app_test("pages/1_Colors.py").run()
    assert not at.exception
    assert top_family(at) == "green-ish"  # the default, a dark teal (colors.DEFAULT_COLOR)
    release_picker(at, (255, 0, 0))
    assert not at.exception
    assert top_family(at) == "red-ish"
    assert picker_data(at)["rgb"] == [255, 0, 0]  # the picker is told the colour the page now shows
    assert any("RGB (255, 0, 0)" in c.value for c in at.caption)


def test_one_set_of_colour_controls():
    """The picker and sliders live in the one in-browser component: no second copy, no Streamlit slider or picker."""
    at = app_test("pages/1_Colors.py").run()
    assert not at.get("color_picker") and not at.get("iframe")
    assert not at.slider  # the temperature slider is the three-ways view's own, in the browser
    assert len([e for e in at.get("bidi_component") if e.proto.id.endswith("-colors.pick")]) == 1


def test_a_forged_picker_value_is_a_plain_message():
    at = app_test("pages/1_Colors.py").run()
    for bad in ((300, 0, 0), ("x", 1, 2), None, (1, 2)):
        release_picker(at, bad if bad is not None else [])
        assert not at.exception
        assert at.error and "picker sent a colour that is not one" in at.error[0].value
        assert top_family(at) == "green-ish"  # the last good colour is kept


def test_colors_page_typed_colour_and_bad_input():
    at = app_test("pages/1_Colors.py").run()
    at.text_input(key="colors.text").input("rgb(255, 230, 0)").run()
    assert top_family(at) == "yellow-ish" and not at.error
    for bad in ("#12", "zzzzzz", "rgb(1,2)", "rgb(999, 0, 0)", "nan,1,2"):
        at.text_input(key="colors.text").input(bad).run()
        assert not at.exception
        assert at.error and (
            "colour" in at.error[0].value or "between" in at.error[0].value or "NaN" in at.error[0].value
        )
        assert top_family(at) == "yellow-ish"  # the last good colour is kept


def test_cross_entropy_follows_the_chosen_truth():
    at = app_test("pages/1_Colors.py").run()
    at.radio(key="colors.explain").set_value("cross_entropy").run()
    metrics = {m.label: m.value for m in at.metric}
    right = float(metrics["cross-entropy  −log p"].split()[0])
    at.selectbox(key="colors.truth").set_value("yellow-ish").run()
    metrics = {m.label: m.value for m in at.metric}
    wrong = float(metrics["cross-entropy  −log p"].split()[0])
    assert wrong > right


def test_labelling_saves_to_sqlite():
    at = app_test("pages/1_Colors.py").run()
    at.button(key="colors.label.green").click().run()
    assert not at.exception
    assert samples.color_label_counts() == {"green": 1}


def test_broken_active_model_falls_back_to_shipped(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_text("{not json")
    at = app_test("pages/1_Colors.py")
    at.session_state["active.colors"] = str(broken)
    at.run()
    assert not at.exception
    assert any("could not be loaded" in w.value for w in at.warning)
    assert top_family(at) == "green-ish"


def test_picker_runs_the_active_models_weights_from_the_current_colour():
    at = app_test("pages/1_Colors.py").run()
    assert not at.exception
    data = picker_data(at)
    shipped = colors.load_shipped().model
    assert data["weights"] == colors.forward_weights(shipped)
    assert data["rgb"] == list(colors.DEFAULT_COLOR)
    assert data["names"] == list(colors.CLASS_NAMES)
    np.testing.assert_allclose(data["probs"], colors.predict_proba(shipped, colors.DEFAULT_COLOR), atol=1e-6)
    at.text_input(key="colors.text").input("teal").run()  # a CSS colour name, typed
    assert picker_data(at)["rgb"] == [0, 128, 128] and not at.error


def regions_caption(at) -> str:
    return next(c.value for c in at.caption if "Share of this slice per family" in c.value)


def expected_shares(channel: str, value: int) -> str:
    grid = colors.decision_grid(colors.load_shipped().model, channel, value, steps=64)
    share = np.bincount(grid.family.ravel(), minlength=len(colors.FAMILIES)) / grid.family.size
    return ", ".join(f"{colors.CLASS_NAMES[k]} {share[k]:.0%}" for k in np.argsort(-share) if share[k] > 0)


def regions_marker(at) -> dict:
    chart = next(c for c in at.get("plotly_chart") if "colors.regions" in c.proto.id)
    spec = json.loads(chart.proto.spec)
    return next(t for t in spec["data"] if str(t.get("name", "")).startswith("your colour"))


def test_decision_regions_follow_the_colour_and_the_chosen_slice():
    at = app_test("pages/1_Colors.py").run()
    at.radio(key="colors.explain").set_value("regions").run()
    assert not at.exception
    r, g, b = colors.DEFAULT_COLOR
    assert at.radio(key="colors.slice_channel").value == "B"
    assert at.slider(key="colors.slice_value").value == b  # the slice goes through the user's colour
    assert f"with B = {b}" in regions_caption(at) and expected_shares("B", b) in regions_caption(at)
    marker = regions_marker(at)
    assert (marker["x"], marker["y"]) == ([r], [g]) and "off this slice" not in marker["name"]

    at.radio(key="colors.slice_channel").set_value("R").run()
    assert at.slider(key="colors.slice_value").value == r
    assert expected_shares("R", r) in regions_caption(at)
    release_picker(at, (r, 200, b))
    assert at.slider(key="colors.slice_value").value == r  # still R, the colour's own R
    marker = regions_marker(at)
    assert (marker["x"], marker["y"]) == ([200], [b])  # G on x, B on y

    at.slider(key="colors.slice_value").set_value(255).run()
    assert not at.exception
    assert "with R = 255" in regions_caption(at) and expected_shares("R", 255) in regions_caption(at)
    assert "off this slice: R = 0" in regions_marker(at)["name"]


def test_one_explanation_at_a_time_each_computed_only_when_chosen():
    at = app_test("pages/1_Colors.py").run()
    assert at.radio(key="colors.explain").value == "three_ways"  # the default: softmax vs divide-by-sum vs T
    keys = " ".join(c.proto.id for c in at.get("plotly_chart"))
    explanation_charts = ("colors.sm", "colors.ce", "colors.regions", "colors.bug", "colors.ok")
    assert not [k for k in explanation_charts if k in keys]  # the three ways are drawn in the browser: no chart
    shown = picker_data(at)["rgb"]
    keras_logits = colors.predict_logits_proba(colors.load_shipped().model, shown)[0]
    assert three_ways_data(at)["logits"] == pytest.approx(keras_logits.tolist(), abs=1e-5)
    assert three_ways_data(at)["names"] == list(colors.CLASS_NAMES)
    at.radio(key="colors.explain").set_value("scaling_bug").run()
    keys = " ".join(c.proto.id for c in at.get("plotly_chart"))
    assert "colors.bug" in keys and "colors.regions" not in keys
    assert three_ways_data(at) is None
    assert not at.exception


def test_a_damaged_sample_database_is_a_plain_message_and_the_page_still_predicts():
    """One damaged page of the SQLite file used to crash the whole page with Streamlit's generic error (issue 25)."""
    from core.settings import get_settings
    from tests.helpers.apptest import TEST_OWNER, app_test_as
    from tests.helpers.damaged_db import damaged_sample_db

    damaged_sample_db(get_settings().database, owner=TEST_OWNER)
    at = app_test_as("pages/1_Colors.py").run()
    assert not at.exception
    assert any("sample database is damaged" in e.value for e in at.error), [e.value for e in at.error]
    assert not any(str(get_settings().user_data_dir) in e.value for e in at.error)
    assert top_family(at) == "green-ish"  # the live prediction is unaffected
