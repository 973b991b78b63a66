"""Classes (core.classroom): join codes, members, private samples pooled only when shared, and results side by side."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from core.store import classroom, identity, samples

TEACHER, ANNA, BEN = "u" + "a" * 20, "u" + "b" * 20, "u" + "c" * 20


RUN = classroom.RunRecord(
    family="colors", version_id="v1", accuracy=0.5, epochs=20, batch_size=64, learning_rate=0.03, seed=1, seconds=3.2
)


def test_a_class_has_an_unambiguous_code_and_members_join_with_it():
    info = classroom.open_class(TEACHER, "ML 101")
    assert classroom.CODE_PATTERN.match(info.code) and not set(info.code) & set("0O1I")
    joined = classroom.join_class(ANNA, f" {info.code.lower()[:3]}-{info.code.lower()[3:]} ", "Anna")  # as typed
    assert joined.code == info.code and joined.members == 2
    classroom.join_class(ANNA, info.code, "Anna K")  # joining again renames, it does not add a member
    assert [m["nickname"] for m in classroom.members(info.code)] == ["Teacher", "Anna K"]
    assert classroom.open_class(TEACHER, "").code != info.code


@pytest.mark.parametrize(
    ("code", "nickname", "words"),
    [("NOPE", "Ben", "8 letters and digits"), ("ABCDEFG", "Ben", "8 letters"), (None, "Ben", "8 letters")],
)
def test_bad_codes_are_plain_errors(code, nickname, words):
    with pytest.raises(classroom.ClassError, match=words):
        classroom.join_class(BEN, code, nickname)


def test_unknown_codes_and_taken_or_bad_nicknames_are_refused():
    info = classroom.open_class(TEACHER, "x")
    with pytest.raises(classroom.ClassError, match="no class with the code"):
        classroom.join_class(BEN, "ABCDEFGH" if info.code != "ABCDEFGH" else "ABCDEFGJ", "Ben")
    classroom.join_class(ANNA, info.code, "Sam")
    with pytest.raises(classroom.ClassError, match="already called"):
        classroom.join_class(BEN, info.code, "Sam")
    for bad in ("", "<script>", "x" * 30):
        with pytest.raises(classroom.ClassError, match="nickname"):
            classroom.join_class(BEN, info.code, bad)
    with pytest.raises(classroom.ClassError, match="identity"):
        classroom.open_class("", "anonymous")


def test_samples_are_private_until_shared_and_the_pool_is_the_shared_ones():
    info = classroom.open_class(TEACHER, "x")
    classroom.join_class(ANNA, info.code, "Anna")
    classroom.join_class(BEN, info.code, "Ben")
    samples.add_color_label((250, 0, 0), "red", owner=ANNA)
    samples.add_drawing(np.zeros((28, 28), np.uint8), "circle", owner=ANNA)
    samples.add_color_label((0, 0, 250), "blue", owner=BEN)
    assert samples.color_labels(owner=ANNA) == [(250, 0, 0, "red")]
    assert samples.class_color_labels(info.code) == []  # nothing shared yet
    assert samples.share_with_class(ANNA, info.code) == 2
    assert samples.class_color_labels(info.code) == [(250, 0, 0, "red")]
    assert len(samples.class_drawings(info.code)) == 1
    assert samples.shared_counts(ANNA, info.code) == 2 and samples.shared_counts(BEN, info.code) == 0
    classroom.leave_class(ANNA, info.code)  # leaving takes her samples out of the pool
    assert samples.class_color_labels(info.code) == [] and not classroom.is_member(ANNA, info.code)


def test_results_are_recorded_once_per_version_and_show_the_spread():
    info = classroom.open_class(TEACHER, "x")
    classroom.join_class(ANNA, info.code, "Anna")
    outcome = RUN
    assert classroom.record_result(info.code, ANNA, outcome)
    assert not classroom.record_result(info.code, ANNA, outcome)  # a rerun of the page records nothing new
    classroom.record_result(info.code, ANNA, replace(outcome, accuracy=0.9, version_id="v2"))
    classroom.record_result(info.code, ANNA, replace(outcome, accuracy=0.7, version_id="v3"))
    rows = classroom.results(info.code)
    assert [r["accuracy"] for r in rows] == [0.5, 0.9, 0.7] and rows[0]["nickname"] == "Anna"
    assert classroom.spread(rows) == {"runs": 3, "min": 0.5, "median": 0.7, "max": 0.9}
    with pytest.raises(classroom.ClassError, match="Join the class"):
        classroom.record_result(info.code, BEN, replace(outcome, version_id="v4"))


def test_past_the_shown_limit_the_newest_runs_are_kept_and_the_count_says_so(monkeypatch):
    """A class past MAX_RESULTS_SHOWN runs used to see its first ones forever and never a new one (issue 25)."""
    from core.store import access

    monkeypatch.setattr(classroom, "MAX_RESULTS_SHOWN", 3)
    info = classroom.open_class(TEACHER, "x")
    classroom.join_class(ANNA, info.code, "Anna")
    for i in range(5):
        classroom.record_result(info.code, ANNA, replace(RUN, accuracy=i / 10, version_id=f"v{i}"))
    assert [r["accuracy"] for r in classroom.results(info.code)] == [0.2, 0.3, 0.4]  # the newest, oldest first
    assert classroom.count_results(info.code) == 5 and classroom.count_results(info.code, "text") == 0
    assert [r.accuracy for r in access.class_runs(ANNA, info.code)] == [0.2, 0.3, 0.4]
    assert access.class_run_count(ANNA, info.code) == 5


def test_the_class_a_user_is_in_is_kept_in_their_profile():
    assert identity.class_code(ANNA) == ""
    identity.set_class_code(ANNA, "K7QM3X")
    identity.set_active_model(ANNA, "colors", "/somewhere")
    assert identity.class_code(ANNA) == "K7QM3X" and identity.active_models(ANNA) == {"colors": "/somewhere"}


def test_tokens_are_long_random_and_only_their_hash_is_stored():
    a, b = identity.new_token(), identity.new_token()
    assert a != b and identity.valid_token(a) and len(a) >= 43
    assert identity.owner_id(a) != identity.owner_id(b) and a not in identity.owner_id(a)
    assert identity.owner_id(a) == identity.owner_id(a)  # the same browser is the same owner after a reload
    for forged in ("", "short", "x" * 65, "../../etc/passwd-aaaaaaaaaaaaaaaaaaaaaaaaaaaa", None, 42):
        assert not identity.valid_token(forged)
    with pytest.raises(ValueError):
        identity.owner_id("../" * 20)
