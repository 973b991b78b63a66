"""AppTest: the Teach page creates a project, takes samples from the webcam, the microphone, uploads and the canvas,
trains a tiny model in the background, shows the results and a live prediction, runs an experiment, and answers
bad files with a plain message while keeping the good ones."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.engine import jobs
from core.families.teach import projects as teach_store
from core.families.teach import saved as teach_saved
from core.families.teach.data import BACKGROUND
from tests.helpers.apptest import app_test
from tests.helpers.teach import photo, wav_bytes

PAGE = "pages/7_Teach.py"
CREATE = "FormSubmitter:teach.new-Create the project"
TRAIN = "FormSubmitter:teach.train-Train the model"


def canvas_value(shape: str) -> dict:
    """The drawable canvas' session value for a drawn shape, as the widget sends it."""
    img = Image.new("RGBA", (280, 280), (255, 255, 255, 255))
    draw = ImageDraw.Draw(img)
    if shape == "circle":
        draw.ellipse((60, 60, 220, 220), outline=(0, 0, 0, 255), width=10)
    else:
        draw.line((40, 140, 240, 140), fill=(0, 0, 0, 255), width=10)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": url}, "backgroundFit": None}


pytestmark = pytest.mark.usefixtures("no_job_left_behind")


def new_project(kind: str, name: str, classes: str):
    at = app_test(PAGE).run()
    assert not at.exception
    at.radio[0].set_value(kind)
    at.text_input(key="teach.new.name").set_value(name)
    at.text_area(key="teach.new.classes").set_value(classes)
    at.button(key=CREATE).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def owner(at) -> str:
    return at.session_state["identity"].owner


def texts(at) -> str:
    return "\n".join(
        [e.value for e in at.error]
        + [w.value for w in at.warning]
        + [s.value for s in at.success]
        + [m.value for m in at.markdown]
        + [c.value for c in at.caption]
    )


def wait_for(at, predicate, seconds: float = 240):
    deadline = time.time() + seconds
    while time.time() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if predicate(at):
            return at
        time.sleep(0.5)
    raise AssertionError(f"timed out; page says: {texts(at)}")


def test_image_project_from_webcam_and_uploads_trains_and_predicts():
    at = new_project("image", "fruit", "red\nblue")
    assert [s.value for s in at.subheader][:3] == ["1 · Project", "2 · Samples", "3 · Train"]
    at.camera_input[0].set_value(("shot.jpg", photo((220, 30, 30)), "image/jpeg")).run()  # into "red", the default
    assert "Added 1 sample(s) to “red”." in texts(at)
    at.file_uploader[0].set_value([(f"r{i}.png", photo((220, 30, 30), "PNG", i), "image/png") for i in range(7)]).run()
    at.radio(key="teach.target.fruit").set_value("blue").run()
    at.file_uploader[0].set_value([(f"b{i}.jpg", photo((30, 30, 220), seed=i), "image/jpeg") for i in range(8)]).run()
    assert not at.exception
    assert teach_store.counts(owner(at), "fruit") == {"red": 8, "blue": 8}
    assert at.radio(key="teach.method").value == "transfer"  # the default; the CNN is the expert option
    assert not [n for n in at.number_input if n.key == "teach.epochs"]  # the head has no settings to choose
    at.radio(key="teach.method").set_value("scratch").run()
    assert at.number_input(key="teach.epochs").value == 50 and at.number_input(key="teach.batch").value == 16
    assert at.text_input(key="teach.lr").value == "0.001"
    assert "85% of each class" in texts(at)

    at.number_input(key="teach.epochs").set_value(2)
    at.button(key=TRAIN).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    wait_for(at, lambda a: any("4 · Try it" == s.value for s in a.subheader))
    assert "saved as version" in texts(at)
    assert any("Confusion matrix" in str(c.proto.spec) for c in at.get("plotly_chart"))
    # The preview: a new photo through the trained model gives softmax bars over the two classes.
    preview = at.camera_input(key=[w.key for w in at.camera_input if w.key.startswith("teach.preview")][0])
    preview.set_value(("new.jpg", photo((30, 30, 220), seed=99), "image/jpeg")).run()
    assert not at.exception
    probs = at.session_state["teach"].preview["probs"]
    assert len(probs) == 2 and abs(sum(probs) - 1) < 1e-4
    assert any(m.value.startswith("It is **") for m in at.markdown)
    assert any(b.label.startswith("Download for TensorFlow.js") for b in at.get("download_button"))


def test_a_sound_project_trains_by_transfer_and_explains_it():
    """The default method on a sound project: trained in seconds, the under-the-hood panel shows the extractor's
    features of one sample per class and the held-out figure, the export says it holds the head only."""
    from core.families.teach.data import encode_wav
    from tests.helpers.teach import sine

    def burst(freq: float, seed: int) -> bytes:
        """A 0.375 s tone in a quiet room: word-like (a steady tone is what the extractor subtracts as noise)."""
        clip = np.random.default_rng(seed).normal(0, 0.01, 16000)
        clip[5000:11000] += sine(freq, 0.375)
        return encode_wav(clip)

    at = new_project("sound", "hums", "hum\nwhistle")
    for i in range(7):
        teach_store.add_sample(owner(at), "hums", "hum", burst(300 + 20 * i, i))
        teach_store.add_sample(owner(at), "hums", "whistle", burst(2000 + 50 * i, i))
        noise = np.random.default_rng(i).normal(0, 0.05, 16000)
        teach_store.add_sample(owner(at), "hums", BACKGROUND, encode_wav(noise))
    at.run()
    at.button(key=TRAIN).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    wait_for(at, lambda a: any("4 · Try it" == s.value for s in a.subheader))
    page = texts(at) + "\n".join(m.value for m in at.markdown) + "\n".join(i.value for i in at.info)
    assert "by transfer learning" in page and "Under the hood: transfer learning" in page
    assert "held-out samples" in page and "What the head learns" in page
    assert "the head only" in page  # what the TF.js download holds, said plainly
    charts = [str(c.proto.spec) for c in at.get("plotly_chart")]
    assert any("one sample per class" in c for c in charts)
    outcome = teach_saved.last_model(owner(at), teach_store.load_project(owner(at), "hums"))  # what the page shows
    assert outcome["method"] == "transfer" and outcome["accuracy"] == 1.0
    # What the head learnt: its weights per class as a heatmap, each class's top features, and one sample's features
    # (a class picked in a select box) added up into the scores the softmax turns into the bars.
    assert any("What the head learnt" in c and "heatmap" in c for c in charts)
    assert "The features that speak most for each class" in texts(at)
    picker = at.selectbox(key=f"teach.hood.sample.{outcome['version_id']}")
    assert picker.options == ["the newest sample of “background noise”", "the newest sample of “hum”",
                              "the newest sample of “whistle”"]  # fmt: skip
    picker.set_value("whistle").run()
    assert not at.exception
    charts = [str(c.proto.spec) for c in at.get("plotly_chart")]
    assert any("What the extractor gives for the newest sample of" in c and "whistle" in c for c in charts)
    answer = next(m.value for m in at.markdown if m.value.startswith("**From features to an answer:**"))
    assert "The head says **whistle**" in answer


def test_a_bad_upload_is_named_and_the_good_ones_are_kept():
    at = new_project("image", "p", "a\nb")
    at.file_uploader[0].set_value(
        [("good.png", photo((10, 200, 10), "PNG"), "image/png"), ("bad.png", b"not a png", "image/png")]
    ).run()
    assert not at.exception
    assert any("bad.png" in e.value and "PNG or JPEG" in e.value for e in at.error)
    assert "Added 1 sample(s)" in texts(at)
    assert teach_store.counts(owner(at), "p") == {"a": 1, "b": 0}


def test_sound_project_cuts_a_recording_into_seconds_and_shows_spectrograms():
    at = new_project("sound", "claps", "clap")
    assert teach_store.load_project(owner(at), "claps").classes == [BACKGROUND, "clap"]
    at.radio(key="teach.target.claps").set_value("clap").run()
    at.audio_input[0].set_value(("rec.wav", wav_bytes(3.2, rate=44100), "audio/wav")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert teach_store.counts(owner(at), "claps") == {BACKGROUND: 0, "clap": 3}
    assert "3 one-second sample(s)" in texts(at)
    spectrograms = [
        c for c in at.get("plotly_chart") if "log-mel" in str(c.proto.spec) or "mel band" in str(c.proto.spec)
    ]
    assert len(spectrograms) == 3
    at.file_uploader[0].set_value(("noise.wav", b"RIFF\x00\x00\x00\x00WAVEjunk", "audio/wav")).run()
    assert any("noise.wav" in e.value for e in at.error)
    assert teach_store.counts(owner(at), "claps")["clap"] == 3


def test_drawing_project_adds_canvas_drawings_and_deletes_one():
    at = new_project("drawing", "doodles", "circle\nline")
    # The Add button is a browser component that sends the canvas' pixels (and empties the canvas) in one click;
    # AppTest cannot click it, so its value is set as the click would send it (tests/browser draws and clicks).
    at.session_state["teach.add_drawing.doodles"] = {"taken": canvas_value("circle")["drawing"]["data"]}
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    files = teach_store.sample_paths(owner(at), "doodles")["circle"]
    assert len(files) == 1
    at.session_state["teach.add_drawing.doodles"] = {"taken": None}
    with Image.open(files[0]) as img:
        assert img.size == (28, 28)
    at.button(key=f"teach.delete.{files[0].stem}").click().run()
    assert teach_store.counts(owner(at), "doodles") == {"circle": 0, "line": 0}
    # An empty canvas: a plain warning, nothing added; something that is not an image: a plain error.
    blank = Image.new("RGBA", (280, 280), (255, 255, 255, 255))
    buf = io.BytesIO()
    blank.save(buf, format="PNG")
    at.session_state["teach.add_drawing.doodles"] = {
        "taken": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    }
    at.run()
    assert any("draw on the canvas first" in w.value for w in at.warning)
    at.session_state["teach.add_drawing.doodles"] = {"taken": "data:text/plain,hello"}
    at.run()
    assert any("not an image" in e.value for e in at.error)
    assert teach_store.counts(owner(at), "doodles") == {"circle": 0, "line": 0}


@pytest.mark.parametrize(
    ("name", "classes", "words"),
    [
        ("../x", "a\nb", "not allowed"),
        ("ok", "only one", "2 to 10"),
        ("ok", "a/b\nc", "not allowed"),
        ("ok", "cat\nCat", "same name"),
    ],
)
def test_bad_projects_get_a_plain_message(name, classes, words):
    at = app_test(PAGE).run()
    at.text_input(key="teach.new.name").set_value(name)
    at.text_area(key="teach.new.classes").set_value(classes)
    at.button(key=CREATE).click().run()
    assert not at.exception
    assert any(words in e.value for e in at.error), [e.value for e in at.error]
    assert teach_store.list_projects(owner(at)) == []


def test_training_without_samples_is_refused_plainly():
    at = new_project("image", "empty", "a\nb")
    at.button(key=TRAIN).click().run()
    assert not at.exception
    assert any("has no samples" in e.value for e in at.error), [e.value for e in at.error]
    assert jobs.QUEUE.job_for(at.session_state["teach"].queue_id) is None


def test_an_experiment_runs_as_a_job_and_plots(monkeypatch):
    """By the project's method: transfer by default (heads, 10 seeds a point, the nearest-neighbour baseline beside
    the curve, the plot says so); the expert option's experiments train CNNs with the epochs chosen."""
    at = new_project("drawing", "exp", "circle\nline")
    p = teach_store.load_project(owner(at), "exp")
    rng = np.random.default_rng(0)
    for shape in ("circle", "line"):
        for _ in range(8):
            rgba = np.full((140, 140, 4), 255, np.uint8)
            y, x = rng.integers(30, 100, 2)
            if shape == "line":
                rgba[y : y + 6, 20:120, :3] = 0
            else:
                rgba[30:110, x : x + 6, :3] = 0
                rgba[y : y + 6, 30:110, :3] = 0
            teach_store.add_sample(owner(at), p.name, shape, rgba)
    at.run()
    assert not [n for n in at.number_input if n.key == "teach.exp.epochs"]  # a head has no epochs to choose
    assert at.number_input(key="teach.exp.runs.transfer").value == 10
    at.button(key="teach.exp.samples").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    wait_for(at, lambda a: "exp.samples" in a.session_state["teach"].experiments)
    result = at.session_state["teach"].experiments["exp.samples"]
    assert result["method"] == "transfer" and "same features" in result["baseline"]
    assert all(len(r["runs"]) == 10 and 0.0 <= r["baseline_mean"] <= 1.0 for r in result["rows"])
    chart = next(
        str(c.proto.spec) for c in at.get("plotly_chart") if "samples per class: transfer" in str(c.proto.spec)
    )
    assert "baseline: nearest neighbour on the same features" in chart
    assert "The dotted line is the simplest rule on the same samples" in texts(at)

    at.radio(key="teach.method").set_value("scratch").run()
    at.number_input(key="teach.exp.epochs").set_value(1)
    at.number_input(key="teach.exp.runs.scratch").set_value(2)
    at.button(key="teach.exp.seeds").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    wait_for(at, lambda a: "exp.seeds" in a.session_state["teach"].experiments)
    spread = at.session_state["teach"].experiments["exp.seeds"]
    assert spread["method"] == "scratch" and spread["rows"]["n_runs"] == 2 and 0.0 <= spread["rows"]["mean"] <= 1.0
    assert any("different seeds: from scratch" in str(c.proto.spec) for c in at.get("plotly_chart"))
