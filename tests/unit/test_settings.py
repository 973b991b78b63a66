"""Settings come from the environment, with clear errors for bad values."""

from pathlib import Path

import pytest

from core.settings import Settings, get_settings


def test_defaults_and_overrides(monkeypatch, tmp_path):
    s = get_settings()
    assert s.models_dir == s.user_data_dir / "models" and s.max_concurrent_trainings >= 1
    monkeypatch.setenv("MLX_MAX_EPOCHS", "7")
    monkeypatch.setenv("MLX_DB_PATH", str(tmp_path / "x.db"))
    monkeypatch.setenv("MLX_DEMO_MODE", "1")
    s = get_settings()
    assert s.max_epochs == 7 and s.database == Path(tmp_path / "x.db") and s.demo_mode is True


def test_bad_environment_value_is_explained(monkeypatch):
    monkeypatch.setenv("MLX_MAX_EPOCHS", "lots")
    with pytest.raises(ValueError, match="MLX_MAX_EPOCHS"):
        get_settings()


def test_training_worker_defaults_to_a_niced_process_and_refuses_unknown_modes(monkeypatch):
    monkeypatch.delenv("MLX_TRAINING_WORKER", raising=False)  # conftest runs tests' jobs in threads
    s = get_settings()
    assert (s.training_worker, s.training_nice) == ("process", 10)
    monkeypatch.setenv("MLX_TRAINING_WORKER", " Thread ")
    assert get_settings().training_worker == "thread"
    monkeypatch.setenv("MLX_TRAINING_WORKER", "fork")
    with pytest.raises(ValueError, match="MLX_TRAINING_WORKER='fork' is not valid: use 'process'"):
        get_settings()


@pytest.mark.parametrize("raw", ["-5", "20", "low"])
def test_a_bad_training_niceness_is_explained(monkeypatch, raw):
    monkeypatch.setenv("MLX_TRAINING_NICE", raw)
    with pytest.raises(ValueError, match="MLX_TRAINING_NICE"):
        get_settings()


@pytest.mark.parametrize(
    ("var", "raw", "accepts"),
    [
        ("MLX_MAX_EPOCHS", "lots", "a whole number"),
        ("MLX_MAX_UPLOAD_MB", "five", "a number"),
        ("MLX_DEMO_MODE", "banana", "1 or 0"),
        ("MLX_TRAINING_NICE", "low", "a whole number from 0 (off) to 19"),
    ],
)
def test_a_bad_value_is_one_plain_line_naming_the_variable(monkeypatch, var, raw, accepts):
    monkeypatch.setenv(var, raw)
    with pytest.raises(ValueError) as caught:
        get_settings()
    message = str(caught.value)
    assert message.startswith(f"Environment variable {var}={raw!r} is not valid: use {accepts}")
    assert "\n" not in message and "pydantic" not in message.lower() and "validation error" not in message.lower()


def test_every_bad_variable_is_named_on_the_same_line(monkeypatch):
    monkeypatch.setenv("MLX_MAX_EPOCHS", "lots")
    monkeypatch.setenv("MLX_TRAINING_WORKER", "fork")
    with pytest.raises(ValueError) as caught:
        get_settings()
    message = str(caught.value)
    assert "MLX_MAX_EPOCHS='lots'" in message and "MLX_TRAINING_WORKER='fork'" in message and "\n" not in message


def test_values_are_parsed_as_before(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MLX_USER_MODELS_DIR", "~/versions")  # a leading ~ is the home folder
    monkeypatch.setenv("MLX_DB_PATH", "")  # an empty path is the default, not the current folder
    monkeypatch.setenv("MLX_QDRANT_PATH", ":memory:")
    monkeypatch.setenv("MLX_MAX_UPLOAD_MB", " 0.5 ")
    monkeypatch.setenv("MLX_MAX_TRAIN_SAMPLES", "1_000")  # int() accepted underscores; so does pydantic
    monkeypatch.setenv("MLX_TRAINING_NICE", "0")
    s = get_settings()
    assert s.models_dir == tmp_path / "versions" and s.database == s.user_data_dir / "samples.sqlite3"
    assert s.qdrant_location == ":memory:" and s.max_upload_mb == 0.5 and s.max_train_samples == 1000
    assert s.training_nice == 0 and s.max_epochs == 200 and isinstance(s.max_model_mb, float)
    monkeypatch.delenv("MLX_QDRANT_PATH")
    monkeypatch.setenv("MLX_TRAINING_NICE", "19")
    s = get_settings()
    assert s.qdrant_location == str(s.user_data_dir / "qdrant") and s.training_nice == 19


@pytest.mark.parametrize(
    ("raw", "on"), [("1", True), (" On ", True), ("yes", True), ("", False), ("0", False), ("off", False)]
)
def test_demo_mode_words(monkeypatch, raw, on):
    monkeypatch.setenv("MLX_DEMO_MODE", raw)
    assert get_settings().demo_mode is on


def test_settings_are_frozen_and_defaults_readable_from_the_fields():
    s = get_settings()
    with pytest.raises(ValueError):  # pydantic's ValidationError is a ValueError
        s.max_epochs = 1
    assert s.max_epochs == 200
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert defaults["training_worker"] == "process" and defaults["max_epochs"] == 200  # tests/conftest.py reads these
