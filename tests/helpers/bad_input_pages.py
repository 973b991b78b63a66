"""The bad-input sweep's page-level cases: a bad input given to a page the way a user would (AppTest), and the phrase
the page's message must hold. Run by tests/apptest/test_bad_inputs.py; their ids are checked against
docs/bad_inputs.md by tests/unit/test_bad_inputs.py."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PageCase:
    id: str
    where: str
    bad_input: str
    expect: str
    page: str
    act: Callable  # (AppTest) -> None: the user's bad input


def _type_colour(at):
    at.run()
    at.text_input(key="colors.text").input("#12").run()


def _forged_pick(at):
    from tests.helpers.apptest import release_picker

    at.run()
    release_picker(at, (300, 0, 0))


def _canvas_value() -> dict:
    """The drawable canvas' session value (fabric JSON + PNG data URL) for a drawn circle, as the widget sends it."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (320, 320), (255, 255, 255, 255))
    ImageDraw.Draw(img).ellipse((60, 60, 260, 260), outline=(0, 0, 0, 255), width=10)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": url}, "backgroundFit": None}


def _draw_bad_name(at):
    at.session_state["draw.canvas.0"] = _canvas_value()
    at.run()
    at.text_input(key="draw.new_label").set_value("../../etc/passwd")
    at.button(key="draw.save").click()
    at.run()


def _text_setting(key: str, value):
    def act(at):
        at.run()
        at.number_input(key=key).set_value(value)
        at.button(key="text.generate").click().run()

    return act


def _retrain_setting(key: str, value):
    def act(at):
        at.run()
        widget = (
            at.text_input(key=f"retrain.colors.{key}") if key == "lr" else at.number_input(key=f"retrain.colors.{key}")
        )
        widget.set_value(value)
        at.button(key="FormSubmitter:retrain.form.colors-Start training").click().run()

    return act


def _vectors_all_zero(at):
    at.session_state["vectors.pool_size"] = 200
    at.run()
    at.button(key="vectors.start_head").click().run()
    at.button(key="FormSubmitter:vectors.train_form-Train step").click().run()  # every item left unmarked


def _trick_too_long(at):
    # AppTest, like the browser, ignores input past max_chars; a forged websocket message does not, so the value is
    # put straight into the session, where the page's server-side check must catch it.
    at.session_state["text.trick_text.Invented words"] = "To be or not " * 100  # 1,300 characters
    at.run()


def _misfit_active(key: str, make, **state):
    """Make a version that loads but does not fit the page the session's active model, then open the page."""

    def act(at):
        from core.settings import get_settings
        from tests.helpers import misfit_models

        folder = get_settings().user_data_dir / "misfit"  # the test's own folder, outside the versions listing
        folder.mkdir(parents=True, exist_ok=True)
        at.session_state[key] = str(make(misfit_models, folder / "model"))
        for name, value in state.items():
            at.session_state[name] = value
        at.run()

    return act


def _retrain_name(at):
    at.run()
    at.text_input(key="retrain.colors.name").set_value("a..b")
    at.button(key="FormSubmitter:retrain.form.colors-Start training").click().run()


def _teach_bad_upload(at):
    at.run()
    at.text_input(key="teach.new.name").set_value("fruit")
    at.button(key="FormSubmitter:teach.new-Create the project").click().run()
    at.file_uploader[0].set_value(("broken.png", b"\x89PNG\r\n\x1a\n broken", "image/png")).run()


def _teach_upload_into_a_full_class(at):
    import io

    from PIL import Image

    from core.families.teach import projects as teach_store

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    at.run()
    at.text_input(key="teach.new.name").set_value("full")
    at.button(key="FormSubmitter:teach.new-Create the project").click().run()
    at.file_uploader[0].set_value(
        [(f"{i}.png", buf.getvalue(), "image/png") for i in range(teach_store.MAX_SAMPLES_PER_CLASS)]
    ).run()
    at.file_uploader[0].set_value([(f"more-{i}.png", buf.getvalue(), "image/png") for i in range(3)]).run()


def _teach_train_empty(at):
    at.run()
    at.text_input(key="teach.new.name").set_value("empty")
    at.button(key="FormSubmitter:teach.new-Create the project").click().run()
    at.button(key="FormSubmitter:teach.train-Train the model").click().run()


def _inspect_nan_upload(at):
    import json

    import numpy as np

    from core.store import models as store

    folder = store.shipped_model_dir("colors")
    raw = (folder / store.SHARD_NAME).read_bytes()
    at.run()
    at.radio(key="inspect.source").set_value("Upload model.json + .bin").run()
    json_bytes = json.dumps(json.loads((folder / store.MODEL_JSON).read_bytes())).encode()
    at.file_uploader(key="inspect.upload_json").upload("model.json", json_bytes, "application/json")
    at.file_uploader(key="inspect.upload_bin").upload("weights.bin", np.full(1, np.nan, "<f4").tobytes() + raw[4:])
    at.run()


def _class_link(code: str, join: bool = False):
    def act(at):
        at.query_params["class"] = code
        at.run()
        if join:
            at.text_input(key="class.nickname").set_value("Anna")
            at.button(key="FormSubmitter:class.join_form-Join").click().run()

    return act


PAGE_CASES = [
    PageCase(
        "page-text-trick-too-long",
        "Text page",
        "1,300 characters in the “trick it” box (the widget's max_chars bypassed)",
        "at most 500",
        "pages/3_Text.py",
        _trick_too_long,
    ),
    PageCase(
        "page-colors-typed-hex", "Colors page", "typing `#12`", "not a hex colour", "pages/1_Colors.py", _type_colour
    ),
    PageCase(
        "page-colors-forged-pick",
        "Colors page",
        "the in-browser picker sending (300, 0, 0) on release (a forged component value)",
        "picker sent a colour that is not one",
        "pages/1_Colors.py",
        _forged_pick,
    ),
    PageCase(
        "page-draw-class-name-path",
        "Draw page",
        "saving a drawing as class `../../etc/passwd`",
        "path characters",
        "pages/2_Draw.py",
        _draw_bad_name,
    ),
    PageCase(
        "page-text-negative-temperature",
        "Text page",
        "Generate with temperature -1",
        "0 (argmax) or a positive",
        "pages/3_Text.py",
        _text_setting("text.temperature", -1.0),
    ),
    PageCase(
        "page-text-length-zero",
        "Text page",
        "Generate with length 0",
        "at least 1",
        "pages/3_Text.py",
        _text_setting("text.length", 0),
    ),
    PageCase(
        "page-retrain-epochs-zero",
        "Retrain page",
        "Start training with epochs 0",
        "at least 1",
        "pages/4_Retrain.py",
        _retrain_setting("epochs", 0),
    ),
    PageCase(
        "page-retrain-lr-word",
        "Retrain page",
        "Start training with learning rate `fast`",
        "must be a number",
        "pages/4_Retrain.py",
        _retrain_setting("lr", "fast"),
    ),
    PageCase(
        "page-vectors-all-labels-zero",
        "Vector search page",
        "Train step with every label at 0",
        "nothing to train on",
        "pages/6_Vector_search.py",
        _vectors_all_zero,
    ),
    PageCase(
        "page-colors-version-wrong-class-count",
        "Colors page",
        "an active colour version with 5 outputs",
        "does not fit this page",
        "pages/1_Colors.py",
        _misfit_active("active.colors", lambda m, f: m.colors_with_outputs(f, n_outputs=5)),
    ),
    PageCase(
        "page-draw-version-wrong-input",
        "Draw page",
        "an active drawing version that takes (28, 28, 1)",
        "(28, 28, 1)",
        "pages/2_Draw.py",
        _misfit_active("active.shapes", lambda m, f: m.shapes_with_channel_input(f)),
    ),
    PageCase(
        "page-text-version-not-text",
        "Text page",
        "the colour model as the active text version",
        "not a text model",
        "pages/3_Text.py",
        _misfit_active("active.text", lambda m, f: m.shipped_copy(f, "colors")),
    ),
    PageCase(
        "page-vectors-version-wrong-family",
        "Vector search page",
        "the text model as the active colour version",
        "not a colors model",
        "pages/6_Vector_search.py",
        _misfit_active("active.colors", lambda m, f: m.shipped_copy(f, "text"), **{"vectors.pool_size": 200}),
    ),
    PageCase(
        "page-retrain-version-name-dots",
        "Retrain page",
        "Start training with version name `a..b`",
        "cannot be used",
        "pages/4_Retrain.py",
        _retrain_name,
    ),
    PageCase(
        "page-teach-broken-photo",
        "Teach page",
        "uploading a broken PNG as a sample",
        "broken.png",
        "pages/7_Teach.py",
        _teach_bad_upload,
    ),
    PageCase(
        "page-teach-upload-into-a-full-class",
        "Teach page",
        "three photos dropped at once on a class that is full",
        "other 2 file(s) of this upload were not added either",
        "pages/7_Teach.py",
        _teach_upload_into_a_full_class,
    ),
    PageCase(
        "page-teach-train-without-samples",
        "Teach page",
        "Train the model with no samples yet",
        "has no samples",
        "pages/7_Teach.py",
        _teach_train_empty,
    ),
    PageCase(
        "page-inspect-nan-weights-tab",
        "Inspect page",
        "uploading a `.bin` with a NaN weight, then its Weights tab",
        "NaN or infinity",
        "pages/5_Inspect.py",
        _inspect_nan_upload,
    ),
    PageCase(
        "page-class-link-code-malformed",
        "Class page",
        "a join link whose code is `<script>` (`?class=<script>`)",
        "not a join code",
        "pages/8_Class.py",
        _class_link("<script>"),
    ),
    PageCase(
        "page-class-link-code-unknown",
        "Class page",
        "a join link with a well-formed code no class has, then Join",
        "no class with the code",
        "pages/8_Class.py",
        _class_link("ZZZZ-ZZZZ", join=True),
    ),
]
