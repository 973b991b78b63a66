"""Issue 13 on the pages: an active version that does not fit its page (class count, input shape, family) is named in a
warning, and the page uses the shipped model."""

from __future__ import annotations

from tests.helpers import misfit_models
from tests.helpers.apptest import app_test, top_family


def warnings(at) -> str:
    return "\n".join(w.value for w in at.warning)


def test_colors_page_with_a_five_class_version_uses_the_shipped_model(tmp_path):
    at = app_test("pages/1_Colors.py")
    at.session_state["active.colors"] = str(misfit_models.colors_with_outputs(tmp_path / "five", n_outputs=5))
    at.run()
    assert not at.exception
    assert "does not fit this page" in warnings(at) and "5 outputs" in warnings(at)
    assert top_family(at) == "green-ish"  # the shipped model's answer for the default colour
    assert at.session_state["active.colors"] is None  # dropped for this session


def test_draw_page_with_a_channel_input_version_uses_the_shipped_model(tmp_path):
    at = app_test("pages/2_Draw.py")
    at.session_state["active.shapes"] = str(misfit_models.shapes_with_channel_input(tmp_path / "cnn"))
    at.run()
    assert not at.exception
    assert "(28, 28, 1)" in warnings(at)
    assert any("the shipped model" in c.value for c in at.caption)


def test_text_page_with_a_colour_model_uses_the_shipped_model(tmp_path):
    at = app_test("pages/3_Text.py")
    at.session_state["active.text"] = str(misfit_models.shipped_copy(tmp_path / "c", "colors"))
    at.run()
    assert not at.exception
    assert "not a text model" in warnings(at)
    assert any("Using the shipped model" in c.value for c in at.caption)
