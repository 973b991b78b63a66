"""The data-access layer (core.store.access) with two identities: each entry point on its own, then a Hypothesis state
machine that drives all of them and checks that nothing of one person reaches the other unless it was shared with a
class both are in."""

from __future__ import annotations

import os
import tempfile
import zipfile
from io import BytesIO

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import select

from core.settings import get_settings
from core.store import access, blobs, classroom, samples, schema
from core.store import models as store
from core.store.topology import StoreError
from tests.helpers.teach import stored_project

ANNA, BEN, CARL = "u" + "a" * 20, "u" + "b" * 20, "u" + "c" * 20
INK = np.zeros((28, 28), np.uint8)


def fake_version(family: str, name: str, owner: str, **meta) -> store.Version:
    """A saved version without Keras: a model.json the store lists and zips, and an empty weights file."""
    base = get_settings().models_dir
    folder = base / family / f"20260101-000000-{name}"
    model_json = {
        "format": "layers-model",
        "modelTopology": {},
        "weightsManifest": [{"paths": [store.SHARD_NAME], "weights": []}],
        "userDefinedMetadata": {"family": family, "owner": owner, **meta},
    }
    store.write_model_folder(folder, model_json, b"")
    assert blobs.put_folder(family, folder.name, folder)
    return store.Version(family, folder.name, folder, model_json["userDefinedMetadata"])


def make_project(owner: str, name: str) -> None:
    stored_project(owner, name)


def a_class(*members: str) -> str:
    """A class opened by the first identity, joined by the others."""
    code = access.open_class(members[0], "ML 101").code
    for i, who in enumerate(members[1:]):
        access.join_class(who, code, f"Student {i}")
    return code


# ---------------------------------------------------------------- versions


def test_versions_are_private_and_only_their_maker_deletes_or_downloads_them():
    mine = fake_version("colors", "mine", ANNA, metrics={"val_accuracy": 0.9})
    fake_version("colors", "yours", BEN)
    fake_version("colors", "nobodys", "")  # made before versions had owners: nobody's, so nobody sees it
    rows = access.versions(ANNA, "colors")
    assert [(r.version_id, r.mine, r.val_accuracy) for r in rows] == [(mine.version_id, True, 0.9)]
    assert [r.version_id for r in access.versions(BEN, "colors")] == ["20260101-000000-yours"]
    assert access.versions(CARL, "colors") == [] and access.versions(ANNA, "shapes") == []
    with pytest.raises(access.NotYours, match="someone else's"):
        access.version(BEN, "colors", mine.version_id)
    with pytest.raises(access.NotYours):
        access.delete_version(BEN, "colors", mine.version_id)
    with pytest.raises(access.NotYours):
        access.zip_version(BEN, "colors", mine.version_id)
    assert mine.path.is_dir()
    names = zipfile.ZipFile(BytesIO(access.zip_version(ANNA, "colors", mine.version_id))).namelist()
    assert store.MODEL_JSON in names
    access.delete_version(ANNA, "colors", mine.version_id)
    assert access.versions(ANNA, "colors") == [] and not mine.path.exists()
    with pytest.raises(access.NotYours, match="deleted"):
        access.delete_version(ANNA, "colors", mine.version_id)


def test_a_version_shared_with_a_class_is_seen_by_members_only_while_both_are_in_it():
    code = a_class(ANNA, BEN)
    v = fake_version("shapes", "v", ANNA)
    assert access.versions(BEN, "shapes") == []  # private until shared
    access.share_version(ANNA, "shapes", v.version_id, code)
    [row] = access.versions(BEN, "shapes")
    assert not row.mine and row.shared_with == code
    assert access.versions(CARL, "shapes") == []  # not in the class
    with pytest.raises(access.NotYours, match="only they can delete"):
        access.delete_version(BEN, "shapes", v.version_id)
    with pytest.raises(access.NotYours, match="Only the person"):
        access.share_version(BEN, "shapes", v.version_id, "")
    access.leave_class(ANNA, code)  # the maker leaves: the share no longer reaches anyone
    assert access.versions(BEN, "shapes") == []
    access.join_class(ANNA, code, "Anna")
    assert len(access.versions(BEN, "shapes")) == 1
    access.leave_class(BEN, code)  # the viewer leaves
    assert access.versions(BEN, "shapes") == []
    with pytest.raises(access.NotYours, match="not a member"):
        access.share_version(BEN, "shapes", fake_version("shapes", "b", BEN).version_id, code)


def test_model_path_allows_shipped_models_and_visible_versions_only():
    shipped = store.shipped_model_dir("colors")
    assert access.model_path(BEN, shipped) == shipped
    v = fake_version("colors", "v", ANNA)
    assert access.model_path(ANNA, v.path) == v.path
    for who in (BEN, CARL):
        with pytest.raises(access.NotYours):
            access.model_path(who, v.path)
    with pytest.raises(access.NotYours):
        access.model_path(BEN, get_settings().models_dir / "colors")  # a family folder, not a version
    with pytest.raises(access.NotYours):
        access.model_path(BEN, get_settings().user_data_dir / "teach" / ANNA)
    with pytest.raises(StoreError, match="not allowed"):
        access.versions("", "colors")  # no identity, no work


# ---------------------------------------------------------------- Teach projects


def test_teach_projects_are_each_owners_own():
    make_project(ANNA, "fruit")
    assert access.teach_projects(ANNA) == ["fruit"] and access.teach_projects(BEN) == []
    assert access.teach_project_dir(BEN, "fruit") != access.teach_project_dir(ANNA, "fruit")
    with pytest.raises(access.NotYours, match="no project"):
        access.delete_teach_project(BEN, "fruit")
    for bad in ("../" + ANNA, "a/b", ".."):
        with pytest.raises(StoreError):
            access.teach_dir(bad)
        with pytest.raises(StoreError):
            access.teach_project_dir(BEN, bad)
    access.delete_teach_project(ANNA, "fruit")
    assert access.teach_projects(ANNA) == []


# ---------------------------------------------------------------- samples


def test_colour_labels_and_drawings_are_private_and_deleted_by_their_owner_only():
    red = access.add_color_label(ANNA, (250, 0, 0), "red")
    access.add_color_label(BEN, (0, 0, 250), "blue")
    square = access.add_drawing(ANNA, INK, "square")
    assert [(c.rgb, c.label) for c in access.color_labels(ANNA)] == [((250, 0, 0), "red")]
    assert access.color_label_counts(BEN) == {"blue": 1} and access.drawing_counts(BEN) == {}
    assert [d.label for d in access.drawings(ANNA)] == ["square"] and access.drawings(BEN) == []
    assert access.drawings(ANNA, "circle") == []
    assert "250,0,0,red" in access.export_color_csv(ANNA) and "red" not in access.export_color_csv(BEN)
    assert len(np.load(BytesIO(access.export_drawings_npz(BEN)))["labels"]) == 0
    with pytest.raises(access.NotYours, match="someone else's"):
        access.delete_color_label(BEN, red)
    with pytest.raises(access.NotYours):
        access.delete_drawing(BEN, square)
    assert len(access.color_labels(ANNA)) == 1 and len(access.drawings(ANNA)) == 1
    access.delete_color_label(ANNA, red)
    access.delete_drawing(ANNA, square)
    assert access.color_labels(ANNA) == [] and access.drawings(ANNA) == []


def test_the_drawings_key_is_per_owner_and_changes_with_the_drawings():
    access.add_drawing(ANNA, INK, "circle")
    access.add_drawing(BEN, INK, "square")
    anna, ben = access.drawings_key(ANNA), access.drawings_key(BEN)
    assert anna != ben  # the same count, other drawings: another key (the old cache was keyed by the count)
    new = access.add_drawing(ANNA, INK, "star")
    assert access.drawings_key(ANNA) != anna
    access.delete_drawing(ANNA, new)
    assert access.drawings_key(ANNA) == anna


# ---------------------------------------------------------------- classes


def test_only_members_see_a_class_its_members_pool_and_runs():
    code = a_class(ANNA, BEN)
    access.add_color_label(BEN, (1, 2, 3), "black")
    access.add_drawing(BEN, INK, "line")
    access.add_color_label(CARL, (9, 9, 9), "grey")
    assert access.share_samples(BEN, code) == 2 and access.shared_count(BEN, code) == 2
    for call in (
        lambda: access.my_class(CARL, code),
        lambda: access.class_members(CARL, code),
        lambda: access.class_pool(CARL, code, "colors"),
        lambda: access.class_runs(CARL, code),
        lambda: access.share_samples(CARL, code),
        lambda: access.shared_count(CARL, code),
    ):
        with pytest.raises(access.NotYours, match="not a member"):
            call()
    pool = access.class_pool(ANNA, code, "colors")
    assert [(p.label, p.nickname) for p in pool] == [("black", "Student 0")]
    assert access.pool_size(ANNA, code, "drawings") == 1
    assert [m.nickname for m in access.class_members(BEN, code)] == ["Teacher", "Student 0"]
    assert access.my_class(ANNA, code).is_teacher and not access.my_class(BEN, code).is_teacher
    assert access.unshare_samples(BEN, code) == 2 and access.pool_size(ANNA, code, "colors") == 0


def test_a_run_is_recorded_only_for_ones_own_version_in_ones_own_class():
    code = a_class(ANNA, BEN)
    v = fake_version("colors", "run", BEN)
    outcome = classroom.RunRecord(
        "colors", v.version_id, accuracy=0.8, epochs=0, batch_size=0, learning_rate=0.0, seed=0, seconds=0.0
    )
    with pytest.raises(access.NotYours):
        access.record_run(ANNA, code, outcome)  # Ben's version, sent by Anna
    assert access.record_run(BEN, code, outcome) and not access.record_run(BEN, code, outcome)
    [run] = access.class_runs(ANNA, code)
    assert (run.nickname, run.family, run.accuracy) == ("Student 0", "colors", 0.8)
    with pytest.raises(access.NotYours):
        access.record_run(CARL, code, outcome)


def test_the_teacher_runs_the_class_and_nobody_else_can():
    code = a_class(ANNA, BEN, CARL)
    access.add_color_label(BEN, (0, 255, 0), "red")  # mislabelled
    access.add_drawing(BEN, INK, "circle")
    access.share_samples(BEN, code)
    for teacher_only in (
        lambda: access.set_joining(BEN, code, False),
        lambda: access.rename_class(BEN, code, "mine now"),
        lambda: access.set_member_cap(BEN, code, 2),
        lambda: access.remove_member(BEN, code, CARL),
        lambda: access.remove_pooled_sample(BEN, code, "colors", 1),
    ):
        with pytest.raises(access.NotYours, match="Only the class's teacher"):
            teacher_only()
    assert access.rename_class(ANNA, code, "ML 102").name == "ML 102"
    [wrong] = access.class_pool(ANNA, code, "colors")
    access.remove_pooled_sample(ANNA, code, "colors", wrong.id)
    assert access.class_pool(ANNA, code, "colors") == [] and access.color_labels(BEN) == []
    with pytest.raises(access.NotYours, match="no sample"):
        access.remove_pooled_sample(ANNA, code, "colors", wrong.id)
    access.remove_member(ANNA, code, BEN, with_samples=True)
    assert access.drawings(BEN) == [] and access.pool_size(ANNA, code, "drawings") == 0
    with pytest.raises(access.NotYours, match="not a member"):
        access.my_class(BEN, code)
    with pytest.raises(access.NotYours, match="cannot remove themselves"):
        access.remove_member(ANNA, code, ANNA)


def test_removing_a_member_without_their_samples_keeps_them_private():
    code = a_class(ANNA, BEN)
    access.add_color_label(BEN, (0, 0, 255), "blue")
    access.share_samples(BEN, code)
    access.remove_member(ANNA, code, BEN)
    assert [c.shared_with for c in access.color_labels(BEN)] == [""]


def test_closing_joining_and_the_member_cap_are_the_teachers_settings():
    code = a_class(ANNA, BEN)
    assert not access.set_joining(ANNA, code, False).joining
    with pytest.raises(classroom.ClassError, match="closed this class"):
        access.join_class(CARL, code, "Carl")
    access.join_class(BEN, code, "Ben again")  # a member may still change their nickname
    access.set_joining(ANNA, code, True)
    access.set_member_cap(ANNA, code, 2)
    with pytest.raises(classroom.ClassError, match=r"full \(2 members\)"):
        access.join_class(CARL, code, "Carl")
    for bad in (1, 100_000, "many"):
        with pytest.raises(classroom.ClassError, match="member limit"):
            access.set_member_cap(ANNA, code, bad)


@pytest.mark.parametrize("name", ["Teacher", "teacher", "TEACHER.", "Admin", "t-e-a-c-h-e-r"])
def test_names_like_teacher_are_reserved(name):
    code = a_class(ANNA)
    with pytest.raises(classroom.ClassError, match="kept for the class's teacher"):
        access.join_class(BEN, code, name)


def test_wrong_codes_are_limited_per_identity_and_per_address():
    code = a_class(ANNA)
    for _ in range(classroom.JOIN_FAILURES_PER_IDENTITY):
        with pytest.raises(classroom.ClassError, match="no class with the code"):
            access.join_class(BEN, "ZZZZZZZZ", "Ben", address="10.0.0.1")
    with pytest.raises(classroom.ClassError, match="Too many wrong join codes from you"):
        access.join_class(BEN, code, "Ben", address="10.0.0.2")  # even the right code, until the window ends
    others = [f"u{i:020d}" for i in range(classroom.JOIN_FAILURES_PER_ADDRESS)]
    for who in others[: classroom.JOIN_FAILURES_PER_ADDRESS - classroom.JOIN_FAILURES_PER_IDENTITY]:
        with pytest.raises(classroom.ClassError, match="8 letters"):
            access.join_class(who, "NOPE", "X", address="10.0.0.1")  # throwaway identities, one address
    with pytest.raises(classroom.ClassError, match="from your network"):
        access.join_class(CARL, code, "Carl", address="10.0.0.1")
    assert access.join_class(CARL, code, "Carl", address="10.0.0.3").members == 2  # another network is fine
    rows = classroom._read(select(schema.join_failures.c.key))
    assert not any("10.0.0" in key for (key,) in rows)  # addresses are stored as hashes only


def test_codes_are_long_enough_that_guessing_within_the_limit_is_hopeless():
    codes_per_day = classroom.JOIN_FAILURES_PER_ADDRESS * 86400 / classroom.JOIN_WINDOW_S
    space = len(classroom.CODE_ALPHABET) ** classroom.CODE_LENGTH
    assert codes_per_day * 1000 / space < 1e-5  # 1,000 open classes: under one chance in 100,000 a day per address


def test_leaving_takes_only_that_classs_samples_out_of_the_pool():
    code = a_class(ANNA, BEN)
    access.add_color_label(BEN, (5, 5, 5), "black")
    access.share_samples(BEN, code)
    access.leave_class(BEN, code)
    assert access.pool_size(ANNA, code, "colors") == 0 and len(access.color_labels(BEN)) == 1


def test_an_old_class_table_gets_the_teachers_columns(tmp_path):
    import sqlite3

    db = get_settings().database
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE classes (code TEXT PRIMARY KEY, name TEXT, teacher TEXT, created_at TEXT)")
    conn.execute("INSERT INTO classes VALUES ('K7QM3XPA', 'old', ?, '2026')", (ANNA,))
    conn.commit()
    conn.close()
    info = classroom.class_info("K7QM3XPA")
    assert info.joining and info.max_members == classroom.MAX_MEMBERS


# ---------------------------------------------------------------- the property: two identities, every entry point

PEOPLE = (ANNA, BEN)


class TwoPeople(RuleBasedStateMachine):
    """Two identities make, share, unshare, delete and look at each other's work through every entry point; a model
    of who owns what says exactly what each may see, and the store must agree after every step."""

    versions = Bundle("versions")
    colours = Bundle("colours")
    drawings_ = Bundle("drawings")

    @initialize()
    def fresh_store(self):
        self.folder = tempfile.mkdtemp(prefix="ownership-")
        os.environ["MLX_USER_DATA_DIR"] = self.folder  # the test's monkeypatch restores it afterwards
        self.code = access.open_class(ANNA, "class").code  # Anna teaches; Ben is in it or not
        self.members = {ANNA}
        self.made = {p: {} for p in PEOPLE}  # version id -> shared with the class?
        self.samples = {p: {} for p in PEOPLE}  # (kind, id) -> shared?
        self.projects = {p: set() for p in PEOPLE}
        self.n = 0

    def teardown(self):
        import shutil

        shutil.rmtree(getattr(self, "folder", ""), ignore_errors=True)

    def _other(self, who: str) -> str:
        return BEN if who == ANNA else ANNA

    @rule(target=versions, who=st.sampled_from(PEOPLE), share=st.booleans())
    def make_version(self, who, share):
        self.n += 1
        v = fake_version("colors", f"v{self.n}", who)
        self.made[who][v.version_id] = False
        if share and who in self.members:  # made and shared at once: most of the interesting cases start here
            access.share_version(who, "colors", v.version_id, self.code)
            self.made[who][v.version_id] = True
        return (who, v.version_id)

    @rule(target=colours, who=st.sampled_from(PEOPLE))
    def add_colour(self, who):
        sample_id = access.add_color_label(who, (1, 2, 3), f"c{who[1]}")
        self.samples[who][("colors", sample_id)] = False
        return (who, sample_id)

    @rule(target=drawings_, who=st.sampled_from(PEOPLE))
    def add_drawing(self, who):
        sample_id = access.add_drawing(who, INK, f"d{who[1]}")
        self.samples[who][("drawings", sample_id)] = False
        return (who, sample_id)

    @rule(who=st.sampled_from(PEOPLE), name=st.sampled_from(["p1", "p2"]))
    def make_project(self, who, name):
        if name not in self.projects[who]:
            make_project(who, name)
            self.projects[who].add(name)

    @rule(who=st.sampled_from(PEOPLE), name=st.sampled_from(["p1", "p2"]))
    def delete_project(self, who, name):
        if name in self.projects[who]:
            access.delete_teach_project(who, name)
            self.projects[who].discard(name)
        else:
            with pytest.raises(access.NotYours):
                access.delete_teach_project(who, name)

    @precondition(lambda self: BEN not in self.members)
    @rule()
    def ben_joins(self):
        access.join_class(BEN, self.code, "Ben")
        self.members.add(BEN)

    @precondition(lambda self: BEN in self.members)
    @rule(by_teacher=st.booleans(), with_samples=st.booleans())
    def ben_leaves(self, by_teacher, with_samples):
        if by_teacher:
            access.remove_member(ANNA, self.code, BEN, with_samples=with_samples)
        else:
            access.leave_class(BEN, self.code)
            with_samples = False
        self.members.discard(BEN)
        for key, shared in list(self.samples[BEN].items()):
            if shared and with_samples:
                del self.samples[BEN][key]
            else:
                self.samples[BEN][key] = False

    @rule(item=versions, share=st.booleans(), by=st.sampled_from(PEOPLE))
    def share_version(self, item, share, by):
        owner, version_id = item
        if version_id not in self.made[owner]:
            return
        if by != owner or (share and by not in self.members):
            with pytest.raises(access.NotYours):
                access.share_version(by, "colors", version_id, self.code if share else "")
            return
        access.share_version(by, "colors", version_id, self.code if share else "")
        self.made[owner][version_id] = share

    @rule(who=st.sampled_from(PEOPLE), share=st.booleans())
    def share_samples(self, who, share):
        if who not in self.members:
            with pytest.raises(access.NotYours):
                (access.share_samples if share else access.unshare_samples)(who, self.code)
            return
        (access.share_samples if share else access.unshare_samples)(who, self.code)
        self.samples[who] = dict.fromkeys(self.samples[who], share)

    @rule(item=versions, by=st.sampled_from(PEOPLE))
    def delete_version(self, item, by):
        owner, version_id = item
        if by == owner and version_id in self.made[owner]:
            access.delete_version(by, "colors", version_id)
            del self.made[owner][version_id]
        else:
            with pytest.raises(access.NotYours):
                access.delete_version(by, "colors", version_id)

    @rule(item=st.one_of(colours, drawings_), kind=st.sampled_from(["colors", "drawings"]), by=st.sampled_from(PEOPLE))
    def delete_sample(self, item, kind, by):
        _, sample_id = item  # an id of either kind, asked for as either kind: ids are per table
        delete = access.delete_color_label if kind == "colors" else access.delete_drawing
        if (kind, sample_id) in self.samples[by]:
            delete(by, sample_id)
            del self.samples[by][(kind, sample_id)]
        else:
            with pytest.raises(access.NotYours):
                delete(by, sample_id)

    @rule(item=st.one_of(colours, drawings_), kind=st.sampled_from(["colors", "drawings"]))
    def teacher_removes_a_pooled_sample(self, item, kind):
        _, sample_id = item
        owner = next((p for p in PEOPLE if self.samples[p].get((kind, sample_id))), None)
        if owner is not None:
            access.remove_pooled_sample(ANNA, self.code, kind, sample_id)
            del self.samples[owner][(kind, sample_id)]
        else:
            with pytest.raises(access.NotYours):
                access.remove_pooled_sample(ANNA, self.code, kind, sample_id)

    @rule(item=versions, by=st.sampled_from(PEOPLE))
    def read_a_version(self, item, by):
        owner, version_id = item
        if self._sees_version(by, owner, version_id):
            assert access.version(by, "colors", version_id).mine == (by == owner)
            assert access.zip_version(by, "colors", version_id)
            path = get_settings().models_dir / "colors" / version_id
            assert access.model_path(by, path) == path
        else:
            for call in (access.version, access.zip_version):
                with pytest.raises(access.NotYours):
                    call(by, "colors", version_id)

    def _both_in_class(self) -> bool:
        return self.members >= set(PEOPLE)

    def _sees_version(self, viewer: str, owner: str, version_id: str) -> bool:
        if version_id not in self.made[owner]:
            return False
        return viewer == owner or (self.made[owner][version_id] and self._both_in_class())

    @invariant()
    def each_sees_exactly_what_is_theirs_or_shared_with_a_class_both_are_in(self):
        if not hasattr(self, "made"):
            return
        for viewer in PEOPLE:
            expected = {
                (owner, v) for owner in PEOPLE for v in self.made[owner] if self._sees_version(viewer, owner, v)
            }
            seen = {
                (viewer if r.mine else self._other(viewer), r.version_id) for r in access.versions(viewer, "colors")
            }
            assert seen == expected
            mine = {k for k in self.samples[viewer]}
            assert {("colors", c.id) for c in access.color_labels(viewer)} | {
                ("drawings", d.id) for d in access.drawings(viewer)
            } == mine
            assert set(access.teach_projects(viewer)) == self.projects[viewer]
            assert access.teach_dir(viewer).name == viewer
            if viewer in self.members:
                pooled = {(k, p.id) for k in ("colors", "drawings") for p in access.class_pool(viewer, self.code, k)}
                shared = {key for owner in self.members for key, s in self.samples[owner].items() if s}
                assert pooled == shared
                assert {m.member_id for m in access.class_members(viewer, self.code)} == self.members
            else:
                with pytest.raises(access.NotYours):
                    access.class_pool(viewer, self.code, "colors")
                with pytest.raises(access.NotYours):
                    access.class_members(viewer, self.code)
        # What Ben may not see of Anna's never reaches him through a list, whatever its labels say.
        assert not {c.label for c in access.color_labels(BEN)} & {"ca"}
        assert not {d.label for d in access.drawings(BEN)} & {"da"}
        assert samples.shared_counts(BEN, self.code) == sum(self.samples[BEN].values())


TwoPeople.TestCase.settings = settings(
    max_examples=10,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
test_two_people = TwoPeople.TestCase
