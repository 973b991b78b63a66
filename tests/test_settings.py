"""Settings come from the environment, with clear errors for bad values."""

from pathlib import Path

import pytest

from core.settings import get_settings


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
