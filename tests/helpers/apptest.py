"""Streamlit AppTest helpers: a page's AppTest with a timeout that allows for the TensorFlow import, the same as a
returning user, and what a page shows."""

from __future__ import annotations

from tests.helpers.paths import REPO

APPTEST_TIMEOUT = 60  # seconds; the first page run imports TensorFlow and loads a model
TEST_OWNER = "u" + "0" * 20  # an owner id as core.store.identity makes them


def app_test(page_file: str):
    """An AppTest for a page file, with a timeout that allows for the TensorFlow import."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(REPO / page_file), default_timeout=APPTEST_TIMEOUT)


def app_test_as(page_file: str, owner: str = TEST_OWNER):
    """An AppTest whose session is the returning user `owner` (as if their browser sent its identity cookie)."""
    from ui.identity import Identity

    at = app_test(page_file)
    at.session_state["identity"] = Identity(owner, "cookie")
    return at


def top_family(at) -> str:
    """The colour family the Colors page's server names as its answer (for the colour of the last release)."""
    html = next(c.value for c in at.caption if "server-top" in c.value)
    return html.split("data-testid='server-top'")[1].split(">")[1].split("<")[0]


def component_data(at, key: str) -> dict:
    """The data the page gave its one st.components.v2 component mounted under `key` (AppTest shows it as a bidi
    component element)."""
    import json

    (component,) = [e for e in at.get("bidi_component") if e.proto.id.endswith(f"-{key}")]
    return json.loads(component.proto.json)


def picker_data(at) -> dict:
    """The data the Colors page gave its in-browser picker (ui.colors_picker): colour, weights, probabilities."""
    return component_data(at, "colors.pick")


def three_ways_data(at) -> dict | None:
    """The data the Colors page gave its in-browser three-ways view (ui.colors_softmax): logits, names, colours;
    None when the view is not shown."""
    import json

    views = [e for e in at.get("bidi_component") if e.proto.id.endswith("-colors.three_ways")]
    return json.loads(views[0].proto.json) if views else None


def release_picker(at, rgb) -> object:
    """What the browser sends when the Colors page's picker or a slider is let go at `rgb`: the component's state,
    as one more widget state of the run (AppTest has no element type for a components.v2 component)."""
    import json
    import time

    (picker,) = [e for e in at.get("bidi_component") if e.proto.id.endswith("-colors.pick")]
    states = at._tree.get_widget_states()
    state = states.widgets.add()
    state.id = picker.proto.id
    state.json_value = json.dumps({"pick": {"rgb": list(rgb), "at": time.time()}})
    return at._run(states)
