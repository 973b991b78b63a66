"""Test tiers: every test gets exactly one marker of TIERS, by name where a file mixes tiers (TEST_TIERS), else by a
tier marker written on the test (`@pytest.mark.browser`), else by its file (FILE_TIERS). A pytest plugin, loaded by
`-p tests.tiers` in pyproject.toml; run one tier with `pytest -m unit`.

A test file missing from FILE_TIERS gets a default tier (apptest if it uses AppTest, otherwise integration, so an
unmapped test never slows the unit tier) and is named in the run's summary; tests/test_tiers.py fails until it is
mapped here, and until every test marked in its file with another tier than its file's is listed in TEST_TIERS.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TIERS = ("unit", "apptest", "integration", "browser", "slow")  # registered as markers in pyproject.toml

FILE_TIERS: dict[str, str] = {
    "test_bad_inputs.py": "unit",
    "test_boundaries.py": "integration",
    "test_browser_colors.py": "browser",
    "test_browser_presenter.py": "browser",
    "test_browser_draw.py": "browser",
    "test_browser_inspect.py": "browser",
    "test_browser_retrain.py": "browser",
    "test_browser_teach.py": "browser",
    "test_browser_text.py": "browser",
    "test_browser_vectors.py": "browser",
    "test_class_page.py": "apptest",
    "test_classroom.py": "unit",
    "test_cli.py": "unit",
    "test_cnn_explain.py": "unit",
    "test_colors.py": "unit",
    "test_colors_live.py": "unit",
    "test_colors_page.py": "apptest",
    "test_compare.py": "unit",
    "test_crash_safety.py": "slow",
    "test_demo_mode.py": "apptest",
    "test_families.py": "apptest",
    "test_draw_page.py": "apptest",
    "test_fuzz.py": "unit",
    "test_inspect.py": "unit",
    "test_inspect_page.py": "apptest",
    "test_job_panel.py": "apptest",
    "test_jobs.py": "unit",
    "test_job_snapshots.py": "unit",
    "test_jobs_process.py": "integration",
    "test_maths.py": "unit",
    "test_navigation.py": "apptest",
    "test_ownership.py": "unit",
    "test_ownership_pages.py": "apptest",
    "test_class_admin.py": "apptest",
    "test_presenter.py": "apptest",
    "test_protocol_client.py": "unit",
    "test_queue_estimates.py": "unit",
    "test_retrain_page.py": "apptest",
    "test_reload_pages.py": "apptest",
    "test_samples.py": "unit",
    "test_seed_spread.py": "apptest",
    "test_settings.py": "unit",
    "test_shapes.py": "unit",
    "test_store.py": "unit",
    "test_teach_cli.py": "integration",
    "test_teach_core.py": "unit",
    "test_teach_transfer.py": "unit",
    "test_teach_transfer_voices.py": "integration",
    "test_figures.py": "unit",
    "test_live_turns.py": "unit",
    "test_teach_page.py": "apptest",
    "test_teach_store.py": "unit",
    "test_tensor_pages.py": "unit",
    "test_text.py": "unit",
    "test_text_page.py": "apptest",
    "test_tfjs_export.py": "slow",
    "test_tiers.py": "unit",
    "test_training.py": "unit",
    "test_validate_first.py": "unit",
    "test_vector_loop.py": "unit",
    "test_vectors.py": "unit",
    "test_vectors_page.py": "apptest",
}

# "file::test" (every parametrization) or "file::test[id]" (one): the tests whose tier is not their file's.
TEST_TIERS: dict[str, str] = {
    "test_bad_inputs.py::test_page_shows_the_message_without_an_exception": "apptest",
    "test_cli.py::test_cli_runs_as_a_module": "integration",
    "test_families.py::test_the_registry_imports_without_tensorflow": "integration",
    "test_cli.py::test_train_colors_to_out_leaves_shipped_model_alone": "integration",  # 5 folds + a full fit
    "test_colors_live.py::test_the_javascript_itself_under_node_equals_keras": "integration",
    "test_colors_live.py::test_new_modules_do_not_import_streamlit": "integration",
    "test_colors_live.py::test_live_bars_move_while_the_slider_is_held": "browser",
    "test_jobs.py::test_a_new_shape_class_widens_the_model_and_keeps_the_old_classes_in_place": "integration",
    "test_jobs.py::test_a_text_retrain_copies_the_lstm_keeps_its_alphabet_and_shows_snippets": "integration",
    "test_maths.py::test_maths_imports_no_tensorflow": "integration",
    "test_navigation.py::test_app_and_home_page_import_no_tensorflow": "integration",
    "test_navigation.py::test_menu_has_sections_and_keeps_demo_mode_across_pages": "browser",
    "test_navigation.py::test_first_visit_after_a_start_on_a_model_page_gets_the_sections": "browser",
    "test_protocol_client.py::test_a_protocol_session_draws_gets_a_prediction_and_clears": "integration",
    "test_shapes.py::test_evaluate_cli_end_to_end": "integration",
    "test_shapes.py::test_train_cli_writes_a_loadable_model": "integration",
    "test_shapes.py::test_shipped_model_on_the_browser_drawn_held_out_set": "slow",
    "test_store.py::test_sigkill_between_the_steps_of_a_replace_leaves_the_old_or_the_new_model": "integration",
    "test_text.py::test_train_cli_tiny_keeps_the_best_epoch": "integration",
    "test_text.py::test_core_text_does_not_import_streamlit": "integration",
    "test_validate_first.py::test_model_fit_imports_no_keras_or_streamlit": "integration",
    "test_validate_first.py::test_colors_page_with_a_five_class_version_uses_the_shipped_model": "apptest",
    "test_validate_first.py::test_draw_page_with_a_channel_input_version_uses_the_shipped_model": "apptest",
    "test_validate_first.py::test_text_page_with_a_colour_model_uses_the_shipped_model": "apptest",
    "test_vectors.py::test_experiment_cli_prints_json": "integration",
}

USES_APPTEST = re.compile(r"\bapp_test\(|\bAppTest\b")
FALLBACKS = pytest.StashKey[dict[str, str]]()


def default_tier(path: Path) -> str:
    """The tier of a test file that is not in FILE_TIERS."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError:
        source = ""
    return "apptest" if USES_APPTEST.search(source) else "integration"


def override_keys(item: pytest.Item) -> list[str]:
    """TEST_TIERS keys that may name this item, most specific first: with its parameters, then without."""
    file = item.path.name
    names = [*item.nodeid.split("::")[1:]]
    exact = "::".join([file, *names])
    base = getattr(item, "originalname", None) or names[-1].split("[")[0]
    return [exact, "::".join([file, *names[:-1], base])]


def source_tiers(item: pytest.Item) -> set[str]:
    """Tier markers written in the test file (on the test, its class or its module)."""
    return {m.name for m in item.iter_markers() if m.name in TIERS}


def tier_of(item: pytest.Item, fallbacks: dict[str, str]) -> str:
    for key in override_keys(item):
        if key in TEST_TIERS:
            return TEST_TIERS[key]
    marked = source_tiers(item)
    if len(marked) == 1:
        return marked.pop()
    file = item.path.name
    if file in FILE_TIERS:
        return FILE_TIERS[file]
    if file not in fallbacks:
        fallbacks[file] = default_tier(item.path)
    return fallbacks[file]


def pytest_configure(config: pytest.Config) -> None:
    config.stash[FALLBACKS] = {}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unknown = sorted({t for t in [*FILE_TIERS.values(), *TEST_TIERS.values()] if t not in TIERS})
    if unknown:
        raise pytest.UsageError(f"tests/tiers.py names tiers that do not exist: {unknown}; use one of {list(TIERS)}.")
    fallbacks = config.stash[FALLBACKS]
    clashes = []
    for item in items:
        tier = tier_of(item, fallbacks)
        marked = source_tiers(item)
        if marked - {tier}:
            clashes.append(f"{item.nodeid} is marked {sorted(marked)} in its file but tests/tiers.py gives it {tier!r}")
        item.add_marker(tier)
    if clashes:
        raise pytest.UsageError("Every test has exactly one tier:\n  " + "\n  ".join(clashes))


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    fallbacks = config.stash.get(FALLBACKS, {})
    if fallbacks:
        terminalreporter.write_line(
            "tiers: not in tests/tiers.py, given a default tier: "
            + ", ".join(f"{file} -> {tier}" for file, tier in sorted(fallbacks.items())),
            yellow=True,
        )
