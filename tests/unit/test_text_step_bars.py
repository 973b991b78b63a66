"""The Text step-through's bars at any temperature: which columns they show (at T = 0 the argmax and the runners-up
by score, never the vocabulary's first characters) and the caption's words for the drawn character."""

from __future__ import annotations

import numpy as np

from core.families.text import figures as text_figures
from core.families.text import steps as TS

CHARS = list("\n !abcdefgh")  # the vocabulary starts with characters that are rarely the answer
SCORES = np.array([-3.0, -2.0, -2.5, 1.0, 4.0, 0.5, 3.0, -1.0, 2.0, 0.0, -4.0])  # 'b' best, then 'd', 'f', 'a'


def test_at_temperature_zero_the_columns_are_the_argmax_then_the_runners_up_by_score():
    p = TS.distribution_at(SCORES, 0.0).probabilities
    assert p.max() == 1.0 and (p > 0).sum() == 1
    order = text_figures.ranked_columns(p, SCORES, chosen=None, k=4)
    assert [CHARS[i] for i in order] == ["b", "d", "f", "a"]
    # without the scores the ties fall to the vocabulary order: the bug this fixes
    assert [CHARS[i] for i in text_figures.ranked_columns(p, None, None, 4)] == ["b", "\n", " ", "!"]


def test_the_drawn_character_is_added_when_outside_the_top_k():
    p = TS.distribution_at(SCORES, 0.0).probabilities
    assert [CHARS[i] for i in text_figures.ranked_columns(p, SCORES, chosen=CHARS.index("h"), k=3)] == list("bdfh")


def test_the_bars_follow_the_same_order_and_colour_only_the_drawn_one():
    p = TS.distribution_at(SCORES, 0.0).probabilities
    chosen = CHARS.index("d")
    fig = text_figures.temperature_bars(p, p, CHARS, chosen, k=4, temperature=0.0, scores=SCORES)
    bars = fig.data[0]
    assert list(bars.x) == ["b", "d", "f", "a"]
    assert list(bars.marker.color) == [text_figures.BASE, text_figures.DRAWN, text_figures.BASE, text_figures.BASE]
    assert text_figures.DRAWN in fig.layout.xaxis.ticktext[1]  # its label is coloured too (its bar is flat at T = 0)


def test_the_caption_names_a_bar_only_when_it_shows():
    at_zero = TS.distribution_at(SCORES, 0.0).probabilities
    argmax_drawn = text_figures.drawn_caption(at_zero, CHARS, CHARS.index("b"), 0.0)
    assert f"The {text_figures.DRAWN_NAME} bar is the character that was drawn, 'b'" in argmax_drawn
    assert "'b' (the argmax)" in argmax_drawn
    other = text_figures.drawn_caption(at_zero, CHARS, CHARS.index("e"), 0.0)
    assert f"{text_figures.DRAWN_NAME} bar" not in other and f"its label in {text_figures.DRAWN_NAME}" in other
    warm = TS.distribution_at(SCORES, 1.0).probabilities
    assert "bar is the character that was drawn, 'd'" in text_figures.drawn_caption(warm, CHARS, CHARS.index("d"), 1.0)
    assert "(the argmax)" not in text_figures.drawn_caption(warm, CHARS, CHARS.index("d"), 1.0)


def test_characters_that_look_like_markup_are_escaped_in_the_tick_labels():
    chars = ["<", "&", "a"]
    fig = text_figures.temperature_bars([0.5, 0.3, 0.2], [0.5, 0.3, 0.2], chars, 0, k=3, scores=[3.0, 2.0, 1.0])
    assert "&lt;" in fig.layout.xaxis.ticktext[0] and fig.layout.xaxis.ticktext[1] == "&amp;"
