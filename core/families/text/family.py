"""The text family's registry entry: what the Retrain studio, the CLI, compare and the fit checks ask of it. Found by
core.engine.registry's discovery; importing it imports no TensorFlow."""

from __future__ import annotations

import argparse

from core.engine import registry
from core.engine.registry import Family, Needs, Ref
from core.families.text.config import TextConfig

MODULE = "core.families.text.model"


def output_problem(units: int, meta: dict, by_name: dict) -> str | None:
    """The output and the embedding must both be as wide as the model's vocabulary."""
    vocab = meta.get("vocab")
    if not isinstance(vocab, list) or not vocab:
        return "its metadata has no character vocabulary, so it is not a text model"
    embedding_in = by_name["embedding"]["config"].get("input_dim")
    if units != len(vocab) or embedding_in != len(vocab):
        return (
            f"it reads {embedding_in} and predicts {units} characters, but its vocabulary has {len(vocab)}: "
            "they do not belong together"
        )
    return None


def add_cli_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", required=True, help="a UTF-8 text file")
    parser.add_argument("--preset", default="shipped")


FAMILY = registry.register(
    Family(
        name="text",
        label="Text",
        icon="📜",
        description="A character-level LSTM that predicts the next character.",
        config=TextConfig,
        needs=Needs(
            (None,),
            "a sequence of character ids",
            {"embedding": "Embedding", "lstm": "LSTM", "dense_out": "Dense"},
            "dense_out",
            output_problem,
        ),
        build=Ref(MODULE, "build_text_model"),
        load_data=Ref(MODULE, "load_corpus_data"),
        train=Ref(MODULE, "train_text_family"),
        predict=Ref(MODULE, "predict_next_proba"),
        example=Ref(MODULE, "example"),
        retrain=Ref("core.families.text.retrain", "retrain"),
        train_cli=Ref(MODULE, "train_cli"),
        evaluate_cli=Ref(MODULE, "evaluate_cli"),
        add_cli_options=add_cli_options,
        sample_view="text",
        builtin_data="the Shakespeare corpus",
        text_upload=True,
        max_epochs_setting="max_text_epochs",
        quick={"epochs": 1, "text_chars": 40_000},  # ~10 s on 2 cores (docs/benchmarks.md)
        check_data=Ref("core.families.text.retrain", "check_data"),
        builtin_available=Ref(MODULE, "builtin_corpus_available"),
        class_names=Ref("core.families.text.compare", "class_names"),
        held_out=Ref("core.families.text.compare", "held_out"),
        compare=Ref("core.families.text.compare", "compare_models"),
        menu_order=30,
    )
)
