"""Demo mode (`?demo=1` or MLX_DEMO_MODE=1): a banner, fixed seeds, and expert controls hidden."""

from tests.helpers.apptest import app_test


def test_query_parameter_turns_demo_mode_on_for_the_home_page():
    at = app_test("app.py")
    at.query_params["demo"] = "1"
    at.run()
    assert not at.exception
    assert any("Demo mode" in i.value for i in at.info)


def test_home_page_without_demo_mode_has_no_banner():
    at = app_test("app.py").run()
    assert not any("Demo mode" in i.value for i in at.info)


def test_vector_search_hides_training_knobs_in_demo_mode(monkeypatch):
    monkeypatch.setenv("MLX_QDRANT_PATH", ":memory:")
    monkeypatch.setenv("MLX_DEMO_MODE", "1")
    at = app_test("pages/6_Vector_search.py")
    at.session_state["vectors.pool_size"] = 600
    at.run()
    at.button(key="vectors.start_head").click().run()
    assert not at.exception
    labels = [n.label for n in at.number_input]
    assert "Iterations" not in labels and "Learning rate" not in labels
    at.segmented_control[0].set_value("yes")
    at.segmented_control[1].set_value("no")
    at.button(key="FormSubmitter:vectors.train_form-Train step").click().run()
    assert not at.exception and not at.error
    assert next(m.value for m in at.metric if m.label.startswith("Train steps")) == "1"
