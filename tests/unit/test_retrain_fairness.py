"""Is the Retrain studio's "model before" scored on validation samples it never saw? Each family's plan says so
plainly when it is not (core.families.*.retrain.before_seen)."""

from __future__ import annotations

from types import SimpleNamespace

from core.engine.retrain_request import RetrainRequest
from core.families.colors import retrain as colors_plan
from core.families.shapes import retrain as shapes_plan
from core.families.shapes.config import ShapeConfig

SHIPPED_COLOURS = {"metrics": {"heldout_accuracy": 0.781, "heldout_people": 113}}


def request(**changes) -> RetrainRequest:
    base = dict(
        family="colors",
        epochs=1,
        batch_size=64,
        learning_rate=0.01,
        optimizer="adam",
        validation_fraction=0.15,
        seed=7,
        base_path=None,
        fresh=False,
        use_builtin=True,
        use_user_samples=False,
    )
    return RetrainRequest(**{**base, **changes})


def test_the_shipped_colour_model_saw_every_person_and_its_fair_figure_is_given():
    before = SimpleNamespace(metadata=SHIPPED_COLOURS)
    copy = colors_plan.before_seen(request(), before, base_is_shipped=True)
    assert "no fair comparison" in copy and "78.1%" in copy and "113 people" in copy
    assert "copy of it starts from what it learnt" in copy
    fresh = colors_plan.before_seen(request(fresh=True), before, base_is_shipped=True)
    assert "no fair comparison" in fresh and "copy of it" not in fresh
    # A version as the base, or a run on the user's own labels only: no claim about the crowd's people.
    assert colors_plan.before_seen(request(), before, base_is_shipped=False) == ""
    assert colors_plan.before_seen(request(use_builtin=False, use_user_samples=True), before, True) == ""


def test_shapes_are_fair_with_the_model_befores_own_split_and_said_otherwise():
    before = SimpleNamespace(metadata={"config": {"seed": 11, "validation_fraction": 0.15}})
    assert shapes_plan.before_seen(ShapeConfig(seed=11, validation_fraction=0.15), before) == ""
    other = shapes_plan.before_seen(ShapeConfig(seed=3, validation_fraction=0.15), before)
    assert "seed 11" in other and "seed 3" in other and "flattered" in other
    unknown = shapes_plan.before_seen(ShapeConfig(seed=3), SimpleNamespace(metadata={}))
    assert "may have been trained on some" in unknown
    assert shapes_plan.before_seen(ShapeConfig(seed=3, samples_per_class=0), before) == ""  # no real drawings used
