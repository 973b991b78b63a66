"""Unit: the server side of the Teach capture component — a burst's data URLs checked for count and size before any is
decoded, each frame decoded on its own (a bad one refused by number, the others kept), the class cap filled exactly,
a failed write taken back whole; and the live preview's frames."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from core.families.teach import burst
from core.families.teach import data as teach_data
from core.families.teach import projects as teach_store
from core.families.teach.data import BACKGROUND, TeachError
from tests.helpers.teach import wav_bytes

OWNER = "burst-owner"


def jpeg_url(colour=(200, 30, 30), side: int = burst.FRAME_SIDE) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(buf, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def wav_url(seconds: float) -> str:
    return "data:audio/wav;base64," + base64.b64encode(wav_bytes(seconds)).decode()


def image_project(name: str = "cam"):
    return teach_store.create_project(OWNER, name, "image", ["a", "b"])


# ---------------------------------------------------------------- checking a burst before decoding


def test_a_burst_of_photos_becomes_their_bytes():
    items = burst.burst_items({"id": "x:1", "frames": [jpeg_url(), jpeg_url((0, 0, 200))]}, "image")
    assert len(items) == 2
    assert all(isinstance(i, bytes) and i[:2] == b"\xff\xd8" for i in items)  # JPEG's start-of-image marker


@pytest.mark.parametrize(
    "value, words",
    [
        (None, "no frames"),
        ({"frames": []}, "no frames"),
        ({"frames": "data:image/jpeg;base64,AAAA"}, "no frames"),
        (
            {"frames": ["data:image/png;base64,AAAA"] * (burst.MAX_BURST_FRAMES + 1)},
            f"at most {burst.MAX_BURST_FRAMES}",
        ),
    ],
)
def test_a_bad_burst_is_refused_whole_and_nothing_is_decoded(value, words, monkeypatch):
    def must_not_decode(*args, **kwargs):
        raise AssertionError("a burst refused as a whole was decoded")

    monkeypatch.setattr(base64, "b64decode", must_not_decode)
    with pytest.raises(TeachError, match=words):
        burst.burst_items(value, "image")


def test_an_oversized_burst_is_refused_by_its_length_before_decoding(monkeypatch):
    monkeypatch.setattr(burst, "MAX_BURST_CHARS", 10_000)
    frames = ["data:image/jpeg;base64," + "A" * 4000] * 3  # 12 KB in all, each frame under its own cap
    monkeypatch.setattr(base64, "b64decode", lambda *a, **k: pytest.fail("decoded an oversized burst"))
    with pytest.raises(TeachError, match="at most .* MB is accepted at once. Nothing was added"):
        burst.burst_items({"frames": frames}, "image")


@pytest.mark.parametrize(
    "frame, words",
    [
        ("not a data url", "not a data URL of a photo"),
        (42, "not a data URL"),
        ("data:text/html;base64,PGI+", "expected one of image/jpeg, image/png"),
        ("data:image/jpeg;base64,@@@@", "not valid base64"),
        ("data:image/jpeg;base64," + "A" * (burst.MAX_FRAME_CHARS + 4), "at most 256 KB"),
    ],
)
def test_a_bad_frame_refuses_itself_only(frame, words):
    items = burst.burst_items({"frames": [jpeg_url(), frame, jpeg_url()]}, "image")
    assert isinstance(items[0], bytes) and isinstance(items[2], bytes)
    assert isinstance(items[1], TeachError) and words in str(items[1])


def test_a_recording_is_one_clip_of_wav():
    (clip,) = burst.burst_items({"frames": [wav_url(2.0)]}, "sound")
    assert clip[:4] == b"RIFF"
    with pytest.raises(TeachError, match="one clip"):
        burst.burst_items({"frames": [wav_url(1.0), wav_url(1.0)]}, "sound")
    with pytest.raises(TeachError, match="The recording is 'image/jpeg'; expected one of audio/wav"):
        burst.burst_items({"frames": [jpeg_url()]}, "sound")  # a photo sent as a recording


def test_a_live_frame_needs_its_number_and_a_small_size():
    seq, raw = burst.preview_bytes({"id": "n", "seq": 7, "url": jpeg_url(side=burst.PREVIEW_SIDE)}, "image")
    assert seq == 7 and raw[:2] == b"\xff\xd8"
    for value in (None, {"url": jpeg_url()}, {"seq": -1, "url": jpeg_url()}, {"seq": True, "url": jpeg_url()}):
        with pytest.raises(TeachError, match="without its number"):
            burst.preview_bytes(value, "image")
    with pytest.raises(TeachError, match="at most"):
        burst.preview_bytes({"seq": 1, "url": "data:audio/wav;base64," + "A" * burst.MAX_PREVIEW_CHARS}, "sound")


# ---------------------------------------------------------------- storing a burst


def test_a_burst_with_a_bad_frame_keeps_the_others_and_says_which(user_data):
    image_project()
    frames = [jpeg_url(), jpeg_url(), "data:image/png;base64," + base64.b64encode(b"not a png").decode(), jpeg_url()]
    added = teach_store.add_samples(OWNER, "cam", "a", burst.burst_items({"frames": frames}, "image"))
    assert len(added.ids) == 3 and added.full == 0
    assert added.refused == [(3, "Could not read the image: it is not a PNG or JPEG image.")]
    assert teach_store.counts(OWNER, "cam") == {"a": 3, "b": 0}
    stored = teach_store.sample_paths(OWNER, "cam")["a"]
    assert [p.stem for p in stored] == added.ids  # exactly the ids it reports, in the burst's order
    assert teach_data.decode_image(stored[0].read_bytes()).shape == (teach_data.IMAGE_SIZE,) * 2 + (3,)


def test_a_burst_into_a_nearly_full_class_keeps_exactly_the_room_left(user_data, monkeypatch):
    image_project()
    monkeypatch.setattr(teach_store, "MAX_SAMPLES_PER_CLASS", 5)
    teach_store.add_sample(OWNER, "cam", "a", base64.b64decode(jpeg_url().split(",")[1]))
    added = teach_store.add_samples(OWNER, "cam", "a", burst.burst_items({"frames": [jpeg_url()] * 7}, "image"))
    assert (len(added.ids), added.full, added.refused) == (4, 3, [])
    assert teach_store.counts(OWNER, "cam")["a"] == 5
    with pytest.raises(TeachError, match="holds at most 5. Delete some samples first. Nothing was added"):
        teach_store.add_samples(OWNER, "cam", "a", [b"never decoded"])


def test_a_burst_the_database_refuses_halfway_keeps_none_of_it(user_data, monkeypatch):
    image_project()
    real_encode, encoded = teach_store.encode_sample, []

    def third_is_refused(kind, data):
        encoded.append(data)
        return [None] if len(encoded) == 3 else real_encode(kind, data)  # the database never stores a NULL sample

    monkeypatch.setattr(teach_store, "encode_sample", third_is_refused)
    with pytest.raises(TeachError, match="refused.*Nothing was changed"):
        teach_store.add_samples(OWNER, "cam", "a", burst.burst_items({"frames": [jpeg_url()] * 5}, "image"))
    assert teach_store.counts(OWNER, "cam")["a"] == 0 and teach_store.sample_paths(OWNER, "cam")["a"] == []
    assert not any(teach_store.project_dir(OWNER, "cam").rglob("*.png"))


def test_a_recorded_burst_is_cut_into_one_second_samples(user_data):
    teach_store.create_project(OWNER, "words", "sound", ["yes"])
    added = teach_store.add_samples(OWNER, "words", BACKGROUND, burst.burst_items({"frames": [wav_url(3.2)]}, "sound"))
    assert len(added.ids) == 3 and added.refused == []  # 3 whole seconds; the 0.2 s tail is dropped
    (clip,) = teach_store.sample_paths(OWNER, "words")[BACKGROUND][:1]
    assert len(teach_data.decode_wav(clip.read_bytes())) == teach_data.CHUNK_SAMPLES


def test_the_page_says_exactly_how_many_were_added_and_refused(user_data, monkeypatch):
    from ui.teach_capture import add_burst

    p = image_project()
    monkeypatch.setattr(teach_store, "MAX_SAMPLES_PER_CLASS", 3)
    frames = [jpeg_url(), "data:image/jpeg;base64,@@", jpeg_url(), jpeg_url(), jpeg_url()]
    ids, messages = add_burst(OWNER, p, "a", {"id": "n:1", "frames": frames})
    assert len(ids) == 3
    assert messages[0] == ("success", "Added 3 photo(s) to “a” from the burst.")
    assert ("error", "Photo 2 of 5: The photo is not valid base64. It was not added.") in messages
    assert any(
        level == "error" and "the last 1 sample(s) of the burst were not added" in text for level, text in messages
    )
    assert teach_store.counts(OWNER, "cam")["a"] == 3
    ids, messages = add_burst(OWNER, p, "a", {"id": "n:2", "frames": ["x"] * (burst.MAX_BURST_FRAMES + 1)})
    assert ids == [] and messages == [
        (
            "error",
            f"The burst: The burst holds {burst.MAX_BURST_FRAMES + 1} photos; at most 48 are taken at once. Nothing was added.",
        )
    ]


def test_a_frame_is_what_the_model_needs():
    """The component sends a square 4x the model's input (the server's resize then averages, as for an upload),
    and a live photo at least the model's input; both far under their caps."""
    assert burst.FRAME_SIDE == 4 * teach_data.IMAGE_SIZE and burst.PREVIEW_SIDE >= teach_data.IMAGE_SIZE
    noise = np.random.default_rng(0).integers(0, 256, (burst.FRAME_SIDE, burst.FRAME_SIDE, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="JPEG", quality=90)  # pure noise: the largest a frame's JPEG gets
    assert len(base64.b64encode(buf.getvalue())) < burst.MAX_FRAME_CHARS
    assert burst.MAX_BURST_FRAMES * len(jpeg_url()) < burst.MAX_BURST_CHARS
    assert len(wav_url(1.0)) < burst.MAX_PREVIEW_CHARS


# ---------------------------------------------------------------- the live preview's server side


def test_live_frames_are_answered_once_each_and_at_most_one_per_gap(monkeypatch):
    """The callback classifies a frame and answers with its number; a frame already answered is not classified again,
    and one that comes sooner after the last than any component sends is answered (so the component goes on) but not
    classified: a forged client cannot make the server classify faster than MIN_PREVIEW_GAP_S."""
    from types import SimpleNamespace

    from core.families.teach import job as teach
    from ui import models as ui_models
    from ui import teach_capture

    calls = []
    monkeypatch.setattr(ui_models, "load_model_folder", lambda path: SimpleNamespace(model="the model"))
    monkeypatch.setattr(teach, "predict_sample", lambda model, kind, raw: calls.append(raw) or np.array([0.25, 0.75]))
    session = {}
    monkeypatch.setattr(teach_capture, "st", SimpleNamespace(session_state=session))
    clock = [100.0]
    monkeypatch.setattr(teach_capture.time, "monotonic", lambda: clock[0])
    state = SimpleNamespace(live=None)
    outcome = {"kind": "image", "version_path": "unused", "class_names": ["a", "b"]}

    def send(seq, url=None):
        session["k"] = {"frame": {"id": "tab1", "seq": seq, "url": url or jpeg_url(side=burst.PREVIEW_SIDE)}}
        teach_capture._classify_frame(state, outcome, "k")

    send(1)
    assert state.live["served"] == 1 and state.live["probs"] == [0.25, 0.75] and len(calls) == 1
    send(1)  # the same frame again (a rerun that still held it)
    assert len(calls) == 1
    clock[0] += burst.MIN_PREVIEW_GAP_S / 2
    send(2)  # too soon: answered, not classified
    assert state.live["served"] == 2 and len(calls) == 1
    clock[0] += burst.MIN_PREVIEW_GAP_S
    send(3)
    assert state.live["served"] == 3 and len(calls) == 2
    clock[0] += 1
    send(4, "data:image/jpeg;base64," + "A" * burst.MAX_PREVIEW_CHARS)  # too big: refused, never decoded
    assert len(calls) == 2 and "at most" in state.live["error"] and state.live["served"] == 4
    assert state.live["probs"] == [0.25, 0.75]  # the last answer stays on the bars
