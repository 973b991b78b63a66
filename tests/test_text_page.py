"""AppTest of the Text page on the shipped model: generation, the step-through, and every bad input it handles."""

from __future__ import annotations

import urllib.error

import pytest

from core import store
from tests.conftest import app_test

PAGE = "pages/3_Text.py"
pytestmark = pytest.mark.skipif(
    not (store.shipped_model_dir("text") / store.MODEL_JSON).is_file(), reason="the shipped text model is not built"
)


def _run(**widgets):
    at = app_test(PAGE)
    at.run()
    assert not at.exception
    for key, value in widgets.items():
        at.session_state[key] = value  # widget keys: the next run reads these values
    return at


def _generate(at):
    at.button(key="text.generate").click().run()
    assert not at.exception
    return at


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_page_loads_with_summary_tables():
    at = _run()
    assert "Text" in at.title[0].value
    assert any("Press **Generate**" in i.value for i in at.info)
    frames = [df.value for df in at.dataframe]
    params = [list(f["params"]) for f in frames]
    assert [16_640, 5_246_976, 66_625] in params  # the tutorial preset's table
    assert any(p != [16_640, 5_246_976, 66_625] and len(p) == 3 for p in params)  # and the shipped model's


def test_generate_shows_every_sample_and_the_step_through():
    at = _run(**{"text.length": 60, "text.samples": 2, "text.temperature": 1.0})
    _generate(at)
    result = at.session_state["text.result"]
    assert len(result.texts) == 2 and all(len(t) == 60 for t in result.texts)
    md = _markdown(at)
    assert "data-testid='text-generated-0' data-chars='60'" in md and "text-generated-1" in md
    assert "text-step-char" in md
    assert any("Next-character distribution" in str(c.proto) for c in at.get("plotly_chart"))
    # the step-through follows the slider
    at.slider(key="text.step_pos").set_value(30).run()
    assert not at.exception
    assert "position 30" in "".join(str(c.proto) for c in at.get("plotly_chart"))


def test_same_random_seed_same_text_and_argmax_comparison():
    texts = []
    for _ in range(2):
        at = _run(**{"text.length": 80, "text.random_seed": 5})
        _generate(at)
        texts.append(at.session_state["text.result"].texts[0])
    assert texts[0] == texts[1]
    assert at.session_state["text.argmax"].texts[0]
    assert "Argmax" in _markdown(at)


def test_demo_mode_fixes_the_seed(monkeypatch):
    monkeypatch.setenv("MLX_DEMO_MODE", "1")
    texts = []
    for seed in (1, 2):
        at = _run(**{"text.length": 40, "text.random_seed": seed})  # ignored in demo mode
        _generate(at)
        texts.append(at.session_state["text.result"].texts[0])
        assert at.session_state["text.settings"]["seed"] == 1234
    assert texts[0] == texts[1]


@pytest.mark.parametrize(
    "widgets, kind, words",
    [
        ({"text.temperature": -1.0}, "error", "temperature"),
        ({"text.length": 0}, "error", "at least 1"),
        ({"text.length": -20}, "error", "at least 1"),
    ],
)
def test_bad_settings_show_a_message_not_a_traceback(widgets, kind, words):
    at = _generate(_run(**widgets))
    assert any(words in e.value for e in getattr(at, kind))
    assert "text.result" not in at.session_state  # nothing half-generated is kept


def test_huge_length_is_capped(monkeypatch):
    monkeypatch.setenv("MLX_MAX_GENERATE_CHARS", "120")
    at = _generate(_run(**{"text.length": 10_000_000}))
    assert any("capped at 120" in w.value for w in at.warning)
    assert len(at.session_state["text.result"].texts[0]) == 120


@pytest.mark.parametrize(
    "seed, words, used",
    [
        ("", "empty", "\n"),
        ("   ", None, "   "),
        ("Ωmega café 🙂", "vocabulary", None),
    ],
)
def test_odd_seeds_are_handled(seed, words, used):
    at = _generate(_run(**{"text.seed": seed, "text.length": 20}))
    result = at.session_state["text.result"]
    assert len(result.texts[0]) == 20
    if words:
        assert any(words in w.value for w in at.warning)
    if used is not None:
        assert result.seed.text == used
    else:
        assert "🙂" in result.seed.dropped and result.seed.mapped.get("é") == "e"


def test_trick_prompts_show_surprise():
    at = _run()
    at.radio(key="text.trick").set_value("Another language").run()
    assert not at.exception
    assert any("vocabulary" in w.value for w in at.warning)  # ä, ü, ß are mapped or dropped, and said so
    assert any("bits per character" in m.value for m in at.metric)


def test_download_offline_says_so(monkeypatch):
    import keras.src.utils.file_utils as file_utils

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    at = _run()
    at.button(key="text.download").click().run()
    assert not at.exception
    assert any("offline" in e.value for e in at.error)


GOOD_TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n" * 6).encode()


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "empty"),
        (b"\x00\x01\x02\x03 PNG-ish \x00\x00" * 40, "binary"),
        (b"na\xefve caf\xe9 " * 40, "UTF-8"),
        (b"Too short.\n", "needs at least"),
    ],
)
def test_bad_uploads_show_a_message(content, words):
    at = _run()
    at.file_uploader(key="text.upload").upload("mine.txt", content, "text/plain").run()
    assert not at.exception
    assert any(words in e.value for e in at.error)
    assert "text.corpus" not in at.session_state  # nothing kept from a refused upload


def test_upload_over_the_size_cap_is_refused(monkeypatch):
    monkeypatch.setenv("MLX_MAX_UPLOAD_MB", "0.0001")  # about 100 bytes
    at = _run()
    at.file_uploader(key="text.upload").upload("big.txt", GOOD_TEXT, "text/plain").run()
    assert any("capped" in e.value for e in at.error)


def test_good_upload_is_described_and_scored():
    at = _run()
    at.file_uploader(key="text.upload").upload("mine.txt", GOOD_TEXT, "text/plain").run()
    assert not at.exception and not at.error
    assert at.session_state["text.corpus"] == GOOD_TEXT.decode()
    assert any("mine.txt" in m.value and f"{len(GOOD_TEXT):,} characters" in m.value for m in at.markdown)
    at.button(key="text.score").click().run()
    assert not at.exception
    scored = at.session_state["text.scored"]
    assert scored["chars"] > 0 and 0 < scored["loss_nats_per_char"] < 4.2  # better than uniform over 65 (4.17)


def test_download_stores_the_corpus(monkeypatch):
    import keras.src.utils.file_utils as file_utils

    def fake_network(url, filename, *args, **kwargs):  # stands in for the HTTP fetch only
        assert url.startswith("https://storage.googleapis.com/")
        with open(filename, "wb") as f:
            f.write(GOOD_TEXT)

    monkeypatch.setattr(file_utils, "urlretrieve", fake_network)
    at = _run()
    at.button(key="text.download").click().run()
    assert not at.exception and not at.error
    assert at.session_state["text.corpus"] == GOOD_TEXT.decode()
