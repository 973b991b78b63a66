"""The shapes family's registry entry: what the Retrain studio, the CLI, compare, the fit checks and Vector search
ask of it. Found by core.engine.registry's discovery; importing it imports no TensorFlow."""

from __future__ import annotations

from core.engine import registry
from core.engine.registry import Family, Needs, PoolInput, Ref
from core.families.shapes.config import ShapeConfig

MODULE = "core.families.shapes.model"


def output_problem(units: int, meta: dict, by_name: dict) -> str | None:
    del by_name
    if units < 2:
        return f"it has {units} output, and telling drawings apart needs at least 2 classes"
    return registry.class_count_problem(units, meta)


FAMILY = registry.register(
    Family(
        name="shapes",
        label="Shapes",
        icon="✏️",
        description="A small CNN on 28×28 drawings, white on black.",
        config=ShapeConfig,
        needs=Needs(
            (28, 28),
            "one 28×28 drawing",
            {"conv_1": "Conv2D", "dense_hidden": "Dense", "dense_out": "Dense"},
            "dense_out",
            output_problem,
        ),
        build=Ref(MODULE, "build_shape_cnn"),
        load_data=Ref(MODULE, "prepare_shape_data"),
        train=Ref(MODULE, "train_shape_model"),
        predict=Ref(MODULE, "predict_proba"),
        example=Ref(MODULE, "example"),
        retrain=Ref("core.families.shapes.retrain", "retrain"),
        train_cli=Ref(MODULE, "train_cli"),
        evaluate_cli=Ref(MODULE, "evaluate_cli"),
        builtin_data="real Quick, Draw! drawings (and generated ones where real ones are few)",
        user_samples="drawings",
        quick={"epochs": 1, "samples_per_class": 100},
        pool="drawings",
        build_pool=Ref("core.families.shapes.pool", "drawing_pool"),
        pool_input=PoolInput(
            "Generated drawings per shape",
            1000,
            500,  # core.vectors.search.DRAWINGS_PER_CLASS
            50,
            "vectors.pool_size_d",
            "Generated drawings of each of the 8 shapes, plus every drawing saved on the Draw page.",
        ),
        pool_size=Ref("core.families.shapes.pool", "pool_size_for"),
        concepts=Ref("core.families.shapes.pool", "concepts"),
        samples_words="drawings",
        samples_page="Draw",
        builtin_per_class=True,
        user_labels=Ref("core.families.shapes.retrain", "user_labels"),
        builtin_classes=Ref("core.families.shapes.retrain", "builtin_classes"),
        class_names=Ref("core.families.shapes.compare", "class_names"),
        held_out=Ref("core.families.shapes.compare", "held_out"),
        menu_order=20,
    )
)
