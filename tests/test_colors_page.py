"""AppTest: the home page and the Colors page render, react to input, and handle bad input without tracebacks."""

from core import samples
from tests.conftest import app_test


def top_family(at) -> str:
    html = next(m.value for m in at.markdown if "top-family" in m.value)
    return html.split("data-testid='top-family'")[1].split(">")[1].split("<")[0]


def test_home_page_lists_every_page():
    at = app_test("Home.py").run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    for word in ("softmax", "CNN", "LSTM", "Retrain", "model.json", "vector database"):
        assert word in text


def test_colors_page_sliders_drive_the_prediction():
    at = app_test("pages/1_Colors.py").run()
    assert not at.exception
    assert top_family(at) == "green-ish"  # the default, a dark teal (colors.DEFAULT_COLOR)
    for key, value in (("colors.r", 255), ("colors.g", 0), ("colors.b", 0)):
        at.slider(key=key).set_value(value)
    at.run()
    assert top_family(at) == "red-ish"
    assert at.color_picker(key="colors.picker").value == "#ff0000"  # kept in sync


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
