"""The colour family's registry entry: what the Retrain studio, the CLI, compare, the fit checks and Vector search
ask of it. Found by core.engine.registry's discovery; importing it imports no TensorFlow."""

from __future__ import annotations

from core.engine import registry
from core.engine.registry import Family, Needs, PoolInput, Ref
from core.families.colors.config import ColorConfig

MODULE = "core.families.colors.model"
N_CLASSES = 9  # the Coding Train's colour families (core.families.colors.model.FAMILIES)


def output_problem(units: int, meta: dict, by_name: dict) -> str | None:
    """The colours page shows exactly one bar per colour family."""
    del by_name
    if units != N_CLASSES:
        return f"it has {units} outputs, and the colours page needs {N_CLASSES}, one per colour family"
    return registry.class_count_problem(units, meta)


FAMILY = registry.register(
    Family(
        name="colors",
        label="Colours",
        icon="🎨",
        description="RGB → 32 sigmoid units → 9 colour families.",
        config=ColorConfig,
        needs=Needs(
            (3,), "one RGB colour (3 numbers)", {"hidden": "Dense", "logits": "Dense"}, "logits", output_problem
        ),
        build=Ref(MODULE, "build_color_model"),
        load_data=Ref(MODULE, "prepare_color_data"),
        train=Ref(MODULE, "train_color_model"),
        predict=Ref(MODULE, "predict_proba"),
        example=Ref(MODULE, "example"),
        retrain=Ref("core.families.colors.retrain", "retrain"),
        train_cli=Ref("core.families.colors.cli", "train_cli"),
        evaluate_cli=Ref("core.families.colors.cli", "evaluate_cli"),
        sample_view="swatch",
        builtin_data="The Coding Train's crowd colour labels",
        user_samples="colors",
        # 8 epochs of batch 256 (104 steps; 20 of batch 64 were 980) with Adam's 0.03: a copy of the shipped model
        # scores 76.0% on the validation people (the shipped model 76.5%, which saw them), a fresh one 72.7% against
        # 66.4% for the nearest crowd label's family (1-NN on RGB); docs/benchmarks.md, 2026-12-07.
        quick={"epochs": 8, "batch_size": 256, "learning_rate": 0.03},
        pool="colors",
        build_pool=Ref("core.families.colors.pool", "color_pool"),
        pool_input=PoolInput(
            "Colours in the pool",
            20_000,
            4096,  # core.vectors.search.COLOR_POOL_SIZE
            256,
            "vectors.pool_size",
            "Random RGB colours (fixed seed), embedded by the colour model's 32-unit hidden layer.",
        ),
        concepts=Ref("core.families.colors.pool", "concepts"),
        samples_words="labelled colours",
        samples_page="Colors",
        user_labels=Ref("core.families.colors.retrain", "user_labels"),
        builtin_classes=Ref("core.families.colors.retrain", "builtin_classes"),
        check_data=Ref("core.families.colors.retrain", "check_data"),
        class_names=Ref("core.families.colors.compare", "class_names"),
        held_out=Ref("core.families.colors.compare", "held_out"),
        menu_order=10,
    )
)
