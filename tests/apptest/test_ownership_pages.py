"""AppTest: a second identity sees none of the first's versions, Teach models, projects or drawings on the Retrain,
Compare, Inspect, Vector search, Draw and Teach pages; a version shared with a class both are in is seen, not deleted."""

from __future__ import annotations

import numpy as np
import pytest

from core.store import access
from core.store import models as store
from tests.helpers.apptest import app_test_as

ANNA, BEN = "u" + "1" * 20, "u" + "2" * 20
SECRET = "annas-secret"  # in every name and label of Anna's work: it must appear nowhere on Ben's pages


def page_text(at) -> str:
    """Everything a page shows as text: messages, captions, markdown, options of every choice, table cells."""
    parts = []
    for kind in ("markdown", "caption", "text", "info", "success", "warning", "error", "subheader", "header", "title"):
        parts += [str(e.value) for e in at.get(kind)]
    for kind in ("selectbox", "radio", "multiselect"):
        for widget in at.get(kind):
            parts += [str(o) for o in widget.options]
    for frame in at.dataframe:
        parts.append(frame.value.to_string())
    return "\n".join(parts)


@pytest.fixture
def annas_work(memory_qdrant):
    """Anna's colour version, Teach model and project, and drawing."""
    from core.families.teach import projects

    shipped = store.load_model(store.shipped_model_dir("colors"))
    colour = store.save_version(shipped.model, "colors", SECRET, {**shipped.metadata, "owner": ANNA})
    teach = store.save_version(
        shipped.model, "teach-drawing", SECRET, {"owner": ANNA, "project": SECRET, "class_names": ["a", "b"]}
    )
    projects.create_project(ANNA, SECRET, "drawing", ["cat", "dog"])
    square = np.zeros((28, 28), np.uint8)
    square[6:22, 6:22] = 255
    access.add_drawing(ANNA, square, SECRET)
    return {"colour": colour, "teach": teach}


@pytest.fixture
def memory_qdrant(monkeypatch):
    monkeypatch.setenv("MLX_QDRANT_PATH", ":memory:")


def test_retrain_and_compare_show_only_ones_own_versions(annas_work):
    anna = app_test_as("pages/4_Retrain.py", ANNA).run()
    assert annas_work["colour"].version_id in page_text(anna)  # she sees hers...
    assert f"version {annas_work['colour'].version_id}" in anna.selectbox(key="retrain.compare.b.colors").options
    ben = app_test_as("pages/4_Retrain.py", BEN).run()
    assert not ben.exception
    text = page_text(ben)
    assert SECRET not in text and any("No saved versions yet" in c.value for c in ben.caption)
    assert any("Train a version first" in c.value for c in ben.caption)  # nothing of hers to compare
    assert not any(b.key in ("retrain.download", "retrain.delete") for b in ben.button)


def test_a_version_shared_with_a_class_both_are_in_is_listed_but_not_deletable(annas_work):
    code = access.open_class(ANNA, "ML 101").code
    access.join_class(BEN, code, "Ben")
    access.share_version(ANNA, "colors", annas_work["colour"].version_id, code)
    ben = app_test_as("pages/4_Retrain.py", BEN).run()
    assert not ben.exception
    assert ben.button(key="retrain.delete").disabled
    label = f"version {annas_work['colour'].version_id} (shared with your class)"
    assert label in ben.selectbox(key="retrain.compare.b.colors").options


def test_inspect_lists_and_exports_only_ones_own_models(annas_work):
    anna = app_test_as("pages/5_Inspect.py", ANNA).run()
    labels = anna.selectbox(key="inspect.model").options
    assert f"teach-drawing · {annas_work['teach'].version_id}" in labels
    ben = app_test_as("pages/5_Inspect.py", BEN).run()
    assert not ben.exception
    assert SECRET not in page_text(ben)
    assert all(label.endswith("· shipped") for label in ben.selectbox(key="inspect.model").options)
    from ui.inspect_views import InspectState

    ben.session_state["inspect"] = InspectState(open_path=str(annas_work["teach"].path))  # even asked by path
    ben.run()
    assert ben.selectbox(key="inspect.model").value.endswith("· shipped")
    assert any("not among the saved models" in w.value for w in ben.warning)


def test_an_active_version_of_someone_else_is_not_used(annas_work):
    from core.store import identity

    identity.set_active_model(BEN, "colors", str(annas_work["colour"].path))  # e.g. a copied profile
    ben = app_test_as("pages/4_Retrain.py", BEN).run()
    assert not ben.exception
    assert any("In use for you: the shipped model" in c.value for c in ben.caption)


def test_vector_search_pools_hold_only_the_users_own_drawings(annas_work):
    circle = np.zeros((28, 28), np.uint8)
    circle[10:18, 4:24] = 255
    access.add_drawing(BEN, circle, "bens-own")  # the same number of drawings as Anna: the old cache key

    def collection(who: str) -> str:
        at = app_test_as("pages/6_Vector_search.py", who)
        at.session_state["vectors.pool_name"] = "drawings"
        at.session_state["vectors.pool_size_d"] = 5  # 5 per shape keeps the test short
        at.run()
        assert not at.exception
        assert SECRET not in page_text(at) or who == ANNA
        [caption] = [c.value for c in at.caption if "collection" in c.value]
        assert caption.startswith("41 drawings")  # 8 shapes x 5, plus one of the user's own
        return caption.split("collection ")[1]

    assert collection(ANNA) != collection(BEN)  # Ben's pool is built from his drawing, not served from Anna's


def test_draw_and_teach_pages_show_none_of_anothers_drawings_or_projects(annas_work):
    draw = app_test_as("pages/2_Draw.py", BEN).run()
    assert not draw.exception
    assert SECRET not in page_text(draw) and any("No samples yet" in i.value for i in draw.info)
    teach = app_test_as("pages/7_Teach.py", BEN).run()
    assert not teach.exception
    assert SECRET not in page_text(teach)
    assert teach.selectbox(key="teach.project.0").options == ["➕ A new project"]
    anna = app_test_as("pages/7_Teach.py", ANNA).run()
    assert SECRET in anna.selectbox(key="teach.project.1").options
