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
