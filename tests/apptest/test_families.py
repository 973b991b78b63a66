"""The family registry: every family follows one contract, and a new family (tests/helpers/toy_family.py: one module plus
one register() call) shows up in the CLI and the Retrain studio and trains there like the built-in ones."""

from __future__ import annotations

import contextlib
import io
import json
import time

import numpy as np
import pytest

from core.__main__ import build_parser, main
from core.engine import jobs
from core.engine import registry as families
from core.store import models as store
from tests.helpers import toy_family
from tests.helpers.apptest import app_test

PAGE = "pages/4_Retrain.py"


@pytest.fixture
def toy(tmp_path):
    """The toy family registered, with its 'shipped' model trained by the CLI into a temporary folder."""
    shipped = tmp_path / "shipped_toy"
    families.register(toy_family.family(models_dir=shipped))
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            assert main(["train", "toy", "--out", str(shipped), "--points", "50"]) == 0
        yield shipped, json.loads(printed.getvalue())
    finally:
        families.unregister("toy")
        for job in list(jobs.QUEUE._by_session.values()):
            if job.active:
                job.cancel()
                jobs.QUEUE.wait(job, 60)


def test_every_builtin_family_declares_the_whole_contract():
    for family in families.FAMILIES.values():
        assert family.config.tiny() != family.config()  # a tiny variant for tests
        for part in ("build", "load_data", "train", "predict", "example", "retrain", "train_cli", "evaluate_cli"):
            assert callable(getattr(family, part).resolve()), (family.name, part)
        assert family.needs.output in family.needs.layers  # the layer whose units are the classes is named


def test_an_unknown_family_is_a_plain_error():
    with pytest.raises(families.FamilyError, match="choose one of colors, shapes, text"):
        families.get("nope")


def test_train_always_returns_a_new_model_and_leaves_the_passed_one_alone():
    family = families.get("colors")
    cfg = family.config.tiny()
    base = family.build(cfg)
    before = [w.copy() for w in base.get_weights()]
    trained = family.train(cfg, model=base)
    assert trained.model is not base
    assert all(np.array_equal(a, b) for a, b in zip(before, base.get_weights()))
    assert trained.result.epochs_run == cfg.epochs
    assert set(trained.data) >= {"x_train", "y_train", "x_val", "y_val"}


def test_the_toy_family_is_in_the_cli(toy, tmp_path, capsys):
    shipped, trained = toy  # what the fixture's `python -m core train toy` printed: one JSON object
    assert build_parser().parse_args(["train", "toy", "--points", "9"]).family == "toy"
    assert trained["accuracy"] >= 0.9 and trained["points"] == 50  # its own flag reached its train_cli
    points = tmp_path / "points.csv"
    points.write_text("-2,-2,0\n2,2,1\n-3,-1,0\n3,1,1\n")
    assert main(["evaluate", "toy", str(points), "--model", str(shipped)]) == 0
    assert json.loads(capsys.readouterr().out) == {"accuracy": 1.0, "n": 4}
    families.unregister("toy")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "toy"])  # gone from the CLI with its registry entry


def test_the_toy_family_trains_in_the_studio(toy):
    at = app_test(PAGE).run()
    assert not at.exception
    radio = at.radio(key="retrain.family")
    assert "🧸 Toy points" in radio.options  # its label and icon, from its registry entry
    at = radio.set_value("toy").run()
    captions = " ".join(c.value for c in at.caption)
    assert "Softmax regression on 2-D points." in captions
    assert "Example: the point (2, 2) → **right**" in captions
    assert at.number_input(key="retrain.toy.epochs").value == toy_family.ToyConfig().epochs
    at.button(key="FormSubmitter:retrain.form.toy-Start training").click().run()
    assert not at.error, [e.value for e in at.error]
    deadline = time.time() + 60
    while time.time() < deadline and not any("Last run" in s.value for s in at.subheader):
        time.sleep(0.3)
        at.run()
    assert any("Saved as version" in s.value for s in at.success)
    versions = store.list_versions("toy")
    assert len(versions) == 1 and versions[0].metadata["family"] == "toy"


def test_a_teach_project_trains_and_evaluates_through_the_registry_cli(tmp_path, capsys):
    from PIL import Image, ImageDraw

    project = tmp_path / "project"
    for name, draw in (("ring", lambda d: d.ellipse((6, 6, 22, 22), outline=255, width=2)), ("bar", None)):
        (project / name).mkdir(parents=True)
        for i in range(4):
            img = Image.new("L", (28, 28), 0)
            d = ImageDraw.Draw(img)
            if draw is not None:
                draw(d)
            else:
                d.line((4 + i, 14, 24 - i, 14), fill=255, width=3)
            img.save(project / name / f"{i}.png")
    out = tmp_path / "model"
    args = ["train", "teach-drawing", "--data", str(project), "--out", str(out), "--epochs", "2", "--method", "scratch"]
    assert main(args) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["class_names"] == ["bar", "ring"] and trained["epochs_run"] == 2 and trained["method"] == "scratch"
    assert main(["evaluate", "teach-drawing", str(project), "--model", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 8
    assert main(["train", "teach-drawing", "--data", str(project)]) == 2  # no --out: a plain error, not a traceback
    assert "--out is needed" in capsys.readouterr().err
