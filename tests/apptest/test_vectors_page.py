"""AppTest for the Vector-search page: one loop, and every bad input from the issue (no traceback, a clear message)."""

from __future__ import annotations

import socket

import pytest

from core.vectors import search as vectors
from tests.helpers.apptest import app_test
from tests.helpers.paths import REPO

PAGE = "pages/6_Vector_search.py"
TRAIN = "FormSubmitter:vectors.train_form-Train step"


@pytest.fixture
def memory_qdrant(monkeypatch):
    monkeypatch.setenv("MLX_QDRANT_PATH", ":memory:")


def started(pool_size: int = 600):
    at = app_test(PAGE)
    at.session_state["vectors.pool_size"] = pool_size
    at.run()
    assert not at.exception
    at.button(key="vectors.start_head").click().run()
    assert not at.exception
    return at


def labels(at):
    """The round's yes / no controls (one per queried item)."""
    return at.segmented_control


def errors(at) -> str:
    return " ".join(e.value for e in at.error)


def metric(at, label_start: str):
    return next(m.value for m in at.metric if m.label.startswith(label_start))


def test_one_loop_trains_marks_seen_and_saves(memory_qdrant, user_data):
    at = started()
    assert len(labels(at)) == vectors.TOP_K
    first_round = [s.key for s in labels(at)]
    for s in labels(at)[:3]:
        s.set_value("yes")
    labels(at)[3].set_value("no")
    at.button(key=TRAIN).click().run()
    assert not at.exception and not errors(at)
    assert metric(at, "Labelled") == "4"
    assert metric(at, "Seen") == str(vectors.TOP_K)
    assert metric(at, "Train steps") == "1"
    assert any("BCE loss" in c.value for c in at.caption)
    # the next query excludes the seen items: none of the first round's items come back
    first_ids = {k.rsplit(".", 1)[1] for k in first_round}
    assert not first_ids & {s.key.rsplit(".", 1)[1] for s in labels(at)}
    at.button(key="vectors.reset").click().run()
    assert metric(at, "Seen") == "0"
    at.text_input(key="vectors.head_name").set_value("blue-ish-tuned").run()
    at.button(key="vectors.save").click().run()
    assert any("Saved as heads/" in s.value for s in at.success)
    assert list((user_data / "models" / "heads").iterdir())


def test_all_labels_zero_says_there_is_nothing_to_train(memory_qdrant):
    at = started()
    at.button(key=TRAIN).click().run()
    assert not at.exception
    assert "nothing to train on" in errors(at)
    assert metric(at, "Seen") == "0" and metric(at, "Train steps") == "0"  # nothing lost or marked


def test_all_labels_negative_explains_the_seed_point(memory_qdrant):
    at = started()
    for s in labels(at):
        s.set_value("no")
    at.button(key=TRAIN).click().run()
    assert not at.exception
    assert any("no particular direction" in w.value for w in at.warning)
    assert metric(at, "Train steps") == "1"


def test_empty_pool_is_explained(memory_qdrant):
    at = app_test(PAGE)
    at.session_state["vectors.pool_size"] = 0
    at.run()
    assert not at.exception
    assert "pool is empty" in errors(at)


def test_picking_no_positive_is_explained(memory_qdrant):
    at = app_test(PAGE)
    at.session_state["vectors.pool_size"] = 300
    at.run()
    at.radio(key="vectors.start_how").set_value("a few positives I pick").run()
    at.button(key="vectors.start_picks").click().run()
    assert not at.exception
    assert "Tick at least one item" in errors(at)
    at.checkbox[0].check().run()
    at.button(key="vectors.start_picks").click().run()
    assert not errors(at) and len(labels(at)) == vectors.TOP_K


def test_locked_qdrant_folder_falls_back_to_memory(user_data):
    holder = vectors.open_client(location=str(user_data / "qdrant"), url="")  # another "process" holds the folder
    try:
        at = app_test(PAGE)
        at.session_state["vectors.pool_size"] = 300
        at.run()
        assert not at.exception
        assert "locked by another process" in errors(at)
        assert any("embedded (memory)" in c.value for c in at.caption)
    finally:
        holder.close()


def test_unwritable_qdrant_folder_falls_back(monkeypatch, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    monkeypatch.setenv("MLX_QDRANT_PATH", str(blocker / "qdrant"))
    at = app_test(PAGE)
    at.session_state["vectors.pool_size"] = 300
    at.run()
    assert not at.exception
    assert "cannot be written" in errors(at)
    assert any("embedded (memory)" in c.value for c in at.caption)


def test_unreachable_server_url_keeps_embedded_mode(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLX_QDRANT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MLX_QDRANT_PATH", ":memory:")
    at = app_test(PAGE)
    at.session_state["vectors.pool_size"] = 300
    at.run()
    assert not at.exception
    assert "cannot be reached" in errors(at)
    at.button(key="vectors.start_head").click().run()
    assert len(labels(at)) == vectors.TOP_K  # the embedded store works


def test_experiment_chart(memory_qdrant):
    at = app_test(PAGE)
    at.session_state["vectors.pool_size"] = 400
    at.run()
    at.button(key="vectors.start_head").click().run()
    at.number_input(key="vectors.budget").set_value(30).run()
    at.button(key="vectors.run_experiment").click().run()
    assert not at.exception
    assert any("Labels to reach F1" in m.value for m in at.markdown)


@pytest.mark.skipif(
    not (REPO / "saved_models" / "shapes" / "model.json").is_file(),
    reason="the shipped shapes model is not built yet",
)
def test_drawings_pool_loop(memory_qdrant):
    at = app_test(PAGE)
    at.session_state["vectors.pool_name"] = "drawings"
    at.session_state["vectors.pool_size_d"] = 20  # 20 per shape: generating 4000 would dominate the test
    at.run()
    assert not at.exception
    assert any("160 drawings" in c.value for c in at.caption)
    at.button(key="vectors.start_head").click().run()
    for s in labels(at)[:3]:
        s.set_value("yes")
    at.button(key=TRAIN).click().run()
    assert not at.exception and not errors(at)
    assert metric(at, "Train steps") == "1"
