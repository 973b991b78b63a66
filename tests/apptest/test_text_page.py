"""AppTest of the Text page on the shipped model: generation, the step-through, and every bad input it handles."""

from __future__ import annotations

import base64
import math
import urllib.error

import numpy as np
import pytest

from core.store import models as store
from tests.helpers.apptest import app_test

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
    assert any(p != [16_640, 5_246_976, 66_625] and len(p) == 4 and p[2] == 0 for p in params)  # shipped: + dropout


def test_generate_shows_every_sample_and_the_step_through():
    at = _run(**{"text.length": 60, "text.samples": 2, "text.temperature": 1.0})
    _generate(at)
    result = at.session_state["text"].result
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
        texts.append(at.session_state["text"].result.texts[0])
    assert texts[0] == texts[1]
    assert at.session_state["text"].argmax.texts[0]
    assert "Argmax" in _markdown(at)


def test_demo_mode_fixes_the_seed(monkeypatch):
    monkeypatch.setenv("MLX_DEMO_MODE", "1")
    texts = []
    for seed in (1, 2):
        at = _run(**{"text.length": 40, "text.random_seed": seed})  # ignored in demo mode
        _generate(at)
        texts.append(at.session_state["text"].result.texts[0])
        assert at.session_state["text"].settings["seed"] == 1234
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
    assert at.session_state["text"].result is None  # nothing half-generated is kept


def test_huge_length_is_capped(monkeypatch):
    monkeypatch.setenv("MLX_MAX_GENERATE_CHARS", "120")
    at = _generate(_run(**{"text.length": 10_000_000}))
    assert any("capped at 120" in w.value for w in at.warning)
    assert len(at.session_state["text"].result.texts[0]) == 120


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
    result = at.session_state["text"].result
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
    assert not at.session_state["text"].corpus  # nothing kept from a refused upload


def test_upload_over_the_size_cap_is_refused(monkeypatch):
    monkeypatch.setenv("MLX_MAX_UPLOAD_MB", "0.0001")  # about 100 bytes
    at = _run()
    at.file_uploader(key="text.upload").upload("big.txt", GOOD_TEXT, "text/plain").run()
    assert any("capped" in e.value for e in at.error)


def test_good_upload_is_described_and_scored():
    at = _run()
    at.file_uploader(key="text.upload").upload("mine.txt", GOOD_TEXT, "text/plain").run()
    assert not at.exception and not at.error
    assert at.session_state["text"].corpus == GOOD_TEXT.decode()
    assert any("mine.txt" in m.value and f"{len(GOOD_TEXT):,} characters" in m.value for m in at.markdown)
    at.button(key="text.score").click().run()
    assert not at.exception
    scored = at.session_state["text"].scored
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
    assert at.session_state["text"].corpus == GOOD_TEXT.decode()


def _metric(at, starts: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(starts))


def test_step_temperature_slider_reshapes_the_distribution_without_generating_again():
    from core.families.text import steps as TS

    at = _generate(_run(**{"text.length": 40, "text.temperature": 0.8, "text.random_seed": 3}))
    result = at.session_state["text"].result
    slider = at.slider(key="text.step_temperature")
    assert slider.value == 0.8  # it starts at the temperature the text was sampled with
    # at the sampling temperature, the live entropy is the sampled distribution's entropy
    assert _metric(at, "entropy at T = 0.8") == _metric(at, "entropy when sampled (T = 0.8)")
    at.slider(key="text.step_pos").set_value(12).run()
    for t in (2.0, 0.3, 0.0):
        at.slider(key="text.step_temperature").set_value(t).run()
        assert not at.exception
        assert at.session_state["text"].result is result  # nothing was generated again
        live = TS.distribution_at(result.logits[0, 11], t)
        assert _metric(at, f"entropy at T = {t:g}") == f"{live.entropy_bits:.2f} bits · {live.entropy_nats:.2f} nats"
        sampled = result.probabilities[0, 11]
        used = TS.entropy_nats(sampled)
        assert _metric(at, "entropy when sampled") == f"{used / math.log(2):.2f} bits · {used:.2f} nats"
        chosen = int(result.ids[0, 11])
        assert _metric(at, "p(sampled character)") == f"{live.probabilities[chosen]:.3f}"
        charts = "".join(str(c.proto) for c in at.get("plotly_chart"))
        assert f"position 12, T = {t:g}" in charts
    assert _metric(at, "entropy at T = 0") == "0.00 bits · 0.00 nats"  # argmax: one certain character
    at.button(key="text.step_temperature_reset").click().run()
    assert at.slider(key="text.step_temperature").value == 0.8


def test_each_generate_draws_a_fresh_seed_that_repeats_the_run():
    at = _run(**{"text.length": 60, "text.temperature": 1.0})
    runs = []
    for _ in range(2):
        _generate(at)
        settings = at.session_state["text"].settings
        assert settings["seed_source"] == "fresh"
        assert any(f"Random seed {settings['seed']} — type it in to repeat this run" in i.value for i in at.info)
        runs.append((settings["seed"], at.session_state["text"].result.texts[0]))
    assert runs[0][0] != runs[1][0] and runs[0][1] != runs[1][1]  # new samples on each Generate
    # typed back in, a seed repeats its run exactly (a fresh AppTest: nothing else carried over)
    again = _generate(_run(**{"text.length": 60, "text.temperature": 1.0, "text.random_seed": runs[0][0]}))
    assert again.session_state["text"].result.texts[0] == runs[0][1]
    assert again.session_state["text"].settings["seed_source"] == "typed"
    assert any(f"Random seed {runs[0][0]}, typed in" in c.value for c in again.caption)
    # the button types the last run's seed in for you
    at.button(key="text.keep_seed").click().run()
    assert at.number_input(key="text.random_seed").value == runs[1][0]
    _generate(at)
    assert at.session_state["text"].result.texts[0] == runs[1][1]


def test_demo_mode_says_the_seed_is_fixed(monkeypatch):
    monkeypatch.setenv("MLX_DEMO_MODE", "1")
    at = _generate(_run(**{"text.length": 30}))
    assert any("fixed at 1234" in c.value for c in at.caption)
    assert not any("type it in" in i.value for i in at.info)
    assert at.session_state["text"].result.random_seed == 1234


@pytest.mark.parametrize("seed", [-5, 2**40])
def test_out_of_range_seed_falls_back_to_a_fresh_one(seed):
    at = _generate(_run(**{"text.length": 20, "text.random_seed": seed}))  # the widget's bounds bypassed
    assert not at.error
    settings = at.session_state["text"].settings
    assert settings["seed_source"] == "fresh" and 0 <= settings["seed"] < 1_000_000
    assert any(f"Random seed {settings['seed']}" in i.value for i in at.info)


# hue ranges (degrees) of the colour words a caption may use; red wraps around 0
COLOUR_WORDS = {"red": (345, 15), "orange": (16, 45), "yellow": (46, 65), "green": (66, 165), "blue": (190, 250)}


def _hue(hex_code: str) -> float:
    import colorsys

    r, g, b = (int(hex_code.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


def _in_range(hue: float, low: int, high: int) -> bool:
    return low <= hue <= high if low < high else hue >= low or hue <= high


def _step_bars(at) -> dict:
    import json

    chart = next(c for c in at.get("plotly_chart") if "text.step_bars" in c.proto.id)
    bars = next(t for t in json.loads(chart.proto.spec)["data"] if t["type"] == "bar")
    y = bars["y"]  # plotly sends a NumPy array as a typed array: {"dtype": "f8", "bdata": base64}
    bars["y"] = list(np.frombuffer(base64.b64decode(y["bdata"]), y["dtype"])) if isinstance(y, dict) else y
    return bars


def _step_caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Bars: the distribution"))


def _vocab_chars(at) -> list[str]:
    from core.families.text import model as T

    del at  # the page uses the shipped model here
    return list(T.vocab_from_metadata(store.load_metadata(store.shipped_model_dir("text"))).chars)


def _check_caption_colour(at, chosen_label: str) -> str:
    """The caption names one colour word; the drawn character's column is drawn in that colour, as a bar with a
    height when the caption says 'bar', else as its label. Returns the caption."""
    caption, bars = _step_caption(at), _step_bars(at)
    words = [w for w in COLOUR_WORDS if f" {w} " in caption or f"in {w})" in caption]
    assert len(words) == 1, caption
    column = bars["x"].index(chosen_label)
    colour = bars["marker"]["color"][column]
    assert _in_range(_hue(colour), *COLOUR_WORDS[words[0]]), (words[0], colour)
    others = [c for n, c in enumerate(bars["marker"]["color"]) if n != column]
    assert all(not _in_range(_hue(c), *COLOUR_WORDS[words[0]]) for c in others)  # only the drawn one
    if f"{words[0]} bar" in caption:
        assert bars["y"][column] > 0.005  # the bar the caption points at can be seen
    return caption


def test_step_through_at_temperature_zero_shows_the_argmax_and_the_runners_up():
    at = _generate(_run(**{"text.length": 30, "text.temperature": 0.0, "text.random_seed": 1}))
    result = at.session_state["text"].result
    at.slider(key="text.step_pos").set_value(9).run()
    assert at.slider(key="text.step_temperature").value == 0.0
    logits = result.logits[0, 8]
    bars = _step_bars(at)
    from core.families.text import figures as text_figures

    vocab_chars = _vocab_chars(at)
    by_score = [text_figures._label(vocab_chars[i]) for i in np.argsort(-logits)[: len(bars["x"])]]
    assert bars["x"] == by_score  # the argmax, then the next candidates by the model's score
    assert bars["y"][0] == 1.0 and all(y == 0 for y in bars["y"][1:])
    chosen = int(result.ids[0, 8])
    assert chosen == int(np.argmax(logits))  # generated at T = 0: the drawn character is the argmax
    caption = _check_caption_colour(at, text_figures._label(vocab_chars[chosen]))
    assert "orange bar" in caption and "the argmax" in caption


def test_step_caption_matches_the_chart_when_the_drawn_character_is_not_the_argmax():
    at = _generate(_run(**{"text.length": 80, "text.temperature": 1.5, "text.random_seed": 4}))
    result = at.session_state["text"].result
    from core.families.text import figures as text_figures

    vocab_chars = _vocab_chars(at)
    pos = next(i for i in range(80) if int(result.ids[0, i]) != int(np.argmax(result.logits[0, i])))
    at.slider(key="text.step_pos").set_value(pos + 1).run()
    chosen_label = text_figures._label(vocab_chars[int(result.ids[0, pos])])
    assert "orange bar" in _check_caption_colour(at, chosen_label)  # at T = 1.5 it has a bar
    at.slider(key="text.step_temperature").set_value(0.0).run()
    caption = _check_caption_colour(at, chosen_label)
    assert "orange bar" not in caption and "its label in orange" in caption  # at T = 0 its bar is flat
    bars = _step_bars(at)
    assert bars["x"][0] == text_figures._label(vocab_chars[int(np.argmax(result.logits[0, pos]))])
