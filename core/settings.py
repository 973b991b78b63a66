"""Every deployment knob in one place: paths and hosted limits, each overridable by an environment variable.

Read with `get_settings()`; it reads the environment on each call so tests and deployments can override it. The
parsing is pydantic-settings' (MLX_<FIELD NAME>, e.g. MLX_MAX_EPOCHS); a bad value is one plain ValueError line that
names the variable and what it accepts.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import get_args

from pydantic import ValidationError, field_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_MODELS_DIR = REPO_ROOT / "saved_models"
DATA_DIR = REPO_ROOT / "core" / "data"  # the real data the app ships (see its SOURCES.md)
TRAINING_WORKERS = ("process", "thread")
ENV_PREFIX = "MLX_"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}

# What each kind of value accepts, for the one-line error of a bad environment variable.
_ACCEPTS = {
    int: "a whole number",
    float: "a number",
    bool: "1 or 0 (also true/false, yes/no, on/off)",
    str: "text",
    Path: "a file or folder path",
}
_FIELD_ACCEPTS = {  # fields with rules beyond their type
    "training_worker": "'process' (each training in its own low-priority process) or 'thread' (in the server process)",
    "training_nice": "a whole number from 0 (off) to 19",
    "live_turns": "a whole number from 1 to 64",
}


class Settings(BaseSettings):
    # Only the environment is read (no .env file); names are matched without regard to case, as pydantic-settings does.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    user_data_dir: Path = REPO_ROOT / "user_data"  # MLX_USER_DATA_DIR
    user_models_dir: Path | None = None  # MLX_USER_MODELS_DIR; default <user_data_dir>/models
    db_path: Path | None = None  # MLX_DB_PATH; default <user_data_dir>/samples.sqlite3
    # MLX_DATABASE_URL: a database server for people's work, e.g. postgresql+psycopg://user:password@host/mlx (several
    # app processes and workers on any machine then share it); unset, the embedded SQLite file at db_path.
    database_url: str = ""
    qdrant_path: Path | None = None  # MLX_QDRANT_PATH; default <user_data_dir>/qdrant ("" or ":memory:" = in memory)
    qdrant_url: str = ""  # MLX_QDRANT_URL; a Qdrant server instead of the embedded store
    max_epochs: int = 200  # MLX_MAX_EPOCHS
    max_text_epochs: int = 3  # MLX_MAX_TEXT_EPOCHS: LSTM epochs are minutes each on a CPU
    max_train_samples: int = 200_000  # MLX_MAX_TRAIN_SAMPLES
    live_turns: int = 1  # MLX_LIVE_TURNS: how many live picks and strokes run at once (ui.common.taking_turns)
    max_text_train_chars: int = 200_000  # MLX_MAX_TEXT_TRAIN_CHARS: about 30 s per LSTM epoch on 2 CPU cores
    max_generated_per_class: int = 400  # MLX_MAX_GENERATED_PER_CLASS: generated drawings per shape class in a retrain
    # MLX_MAX_CONCURRENT_TRAININGS: a fixed cap when set in the environment; unset, core.jobs decides from the cores
    # and the free memory (JobQueue.limit). Later trainings wait in a queue.
    max_concurrent_trainings: int = 1
    # MLX_TRAINING_WORKER: "process" trains each job in its own spawned process, so it cannot hold the server's
    # interpreter; "thread" trains in a thread of the server (no process start-up, but it competes with every page).
    training_worker: str = "process"
    # MLX_REDIS_URL: trainings as RQ jobs on this Redis (core.engine.rq_queue; workers: `python -m core worker`);
    # unset, the embedded worker pool of each app process (core.engine.jobs.JobQueue).
    redis_url: str = ""
    # MLX_JOB_MODULES: comma-separated modules outside `core` whose registered job functions a worker may import when
    # a payload names them (core.engine.job_codec); `core.*` modules are always allowed, anything else never.
    job_modules: str = ""
    # MLX_WORKER_PRELOAD: comma-separated modules a training worker of `python -m core worker` imports as soon as it
    # starts, before its first job, and keeps loaded between jobs (core.engine.rq_worker): TensorFlow, above all.
    worker_preload: str = "keras,core.engine.training,core.engine.registry"  # TensorFlow and the families
    training_nice: int = 10  # MLX_TRAINING_NICE: niceness added to a worker process, so pages win the CPU; 0 = off
    # A training starts only while memory for one more is available (core.engine.job_slots.memory_slots): each worker process is
    # counted at this size (the largest measured peak RSS of a quick-preset retrain, text's, was 1,058 MB: TensorFlow
    # alone is ~580 MB), and this much is kept free for the server's pages and sessions.
    training_rss_mb: float = 1200.0  # MLX_TRAINING_RSS_MB
    training_reserve_mb: float = 2048.0  # MLX_TRAINING_RESERVE_MB
    max_upload_mb: float = 5.0  # MLX_MAX_UPLOAD_MB (text corpora, model files)
    max_model_mb: float = 64.0  # MLX_MAX_MODEL_MB: the largest weights file the store will read
    max_generate_chars: int = 1000  # MLX_MAX_GENERATE_CHARS: 5 x 1,000 chars stay under 1 s of CPU, loaded
    # Bounded work per request (issue 13): each cap is checked BEFORE anything user-supplied is built or decoded, so
    # no request costs more than about 1 s of server CPU or 200 MB (bench/hostile.py measures the worst case).
    max_model_params: int = 10_000_000  # MLX_MAX_MODEL_PARAMS: 40 MB of float32; the tutorial LSTM has 5.3 M
    max_model_layers: int = 64  # MLX_MAX_MODEL_LAYERS
    max_activation_elements: int = 4_000_000  # MLX_MAX_ACTIVATION_ELEMENTS: any one layer's output, per sample
    # Inspect's cost model (core/inspector/cost.py), counted from model.json's bytes and header before any entry is
    # read or anything built (issue 25: 85,000 one-value entries held a core for 12 minutes). The shipped models'
    # model.json files hold about 100 JSON objects and lists and at most 22 tensors in 1 file; 64 allowlisted layers
    # have at most 192 tensors.
    max_model_json_objects: int = 20_000  # MLX_MAX_MODEL_JSON_OBJECTS: '{' and '[' in model.json, counted unparsed
    max_manifest_entries: int = 1000  # MLX_MAX_MANIFEST_ENTRIES: tensors the weights manifest lists
    max_weight_files: int = 64  # MLX_MAX_WEIGHT_FILES: .bin paths the manifest names (TF.js shards are 4 MB each)
    max_seed_chars: int = 1000  # MLX_MAX_SEED_CHARS: the Text page's seed (the widget's max_chars too)
    max_trick_chars: int = 500  # MLX_MAX_TRICK_CHARS: the "try to trick it" prompt (surprisal + continuation)
    max_score_chars: int = 5000  # MLX_MAX_SCORE_CHARS: "how surprised is the model by your text" (Keras forward pass)
    max_typed_chars: int = 100  # MLX_MAX_TYPED_CHARS: short typed fields (a colour, a label, a name)
    max_canvas_pixels: int = 1_000_000  # MLX_MAX_CANVAS_PIXELS: a canvas image (the real one is 280 x 280)
    max_canvas_bytes: int = 4_000_000  # MLX_MAX_CANVAS_BYTES: the canvas' base64 data URL, before decoding
    demo_mode: bool = False  # MLX_DEMO_MODE=1: fixed seeds, expert controls hidden
    # Teach projects (core/teach_data.py): a user's own folder of class subfolders. Each cap is checked from the file
    # size or the header before a sample is decoded.
    max_teach_files: int = 3000  # MLX_MAX_TEACH_FILES: samples in one project folder, all classes together
    max_teach_mb: float = 200.0  # MLX_MAX_TEACH_MB: the project folder's samples, all together
    max_teach_image_pixels: int = 25_000_000  # MLX_MAX_TEACH_IMAGE_PIXELS: one photo (a 24-megapixel camera's)
    max_teach_wav_seconds: float = 120.0  # MLX_MAX_TEACH_WAV_SECONDS: one recording (Speech Commands' noise: ~95 s)

    @field_validator("user_data_dir", "user_models_dir", "db_path", "qdrant_path", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, value):
        if isinstance(value, str) and value == "":  # MLX_DB_PATH= (empty) means the default, not the current folder
            raise PydanticUseDefault()
        return value

    @field_validator("user_data_dir", "user_models_dir", "db_path", "qdrant_path")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("database_url")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        return value.strip()

    @field_validator("demo_mode", mode="before")
    @classmethod
    def _flag(cls, value):
        if isinstance(value, str):  # " On " is on; an empty variable is off
            word = value.strip().lower()
            if word in _TRUE | _FALSE:
                return word in _TRUE
        return value  # anything else: pydantic's bool rules, so "banana" is an error rather than silently off

    @field_validator("training_worker")
    @classmethod
    def _known_worker(cls, value: str) -> str:
        value = value.strip().lower()  # "Process " is fine
        if value not in TRAINING_WORKERS:
            raise ValueError(f"use {_FIELD_ACCEPTS['training_worker']}")
        return value

    @field_validator("live_turns")
    @classmethod
    def _turns(cls, value: int) -> int:
        if not 1 <= value <= 64:  # 0 would stop every live page
            raise ValueError(f"use {_FIELD_ACCEPTS['live_turns']}")
        return value

    @field_validator("training_nice")
    @classmethod
    def _niceness(cls, value: int) -> int:
        if not 0 <= value <= 19:  # a negative increment needs root; above 19 is clamped by the kernel
            raise ValueError(f"use {_FIELD_ACCEPTS['training_nice']}")
        return value

    @property
    def models_dir(self) -> Path:
        return self.user_models_dir or self.user_data_dir / "models"

    @property
    def database(self) -> Path:
        return self.db_path or self.user_data_dir / "samples.sqlite3"

    @property
    def qdrant_location(self) -> str:
        return str(self.qdrant_path) if self.qdrant_path is not None else str(self.user_data_dir / "qdrant")


def _accepts(name: str) -> str:
    """What the environment variable of field `name` accepts, in words."""
    if name in _FIELD_ACCEPTS:
        return _FIELD_ACCEPTS[name]
    annotation = Settings.model_fields[name].annotation
    kinds = [kind for kind in get_args(annotation) if kind is not type(None)] or [annotation]  # Path | None: Path
    return _ACCEPTS.get(kinds[0], "a valid value")


def _plain(exc: ValidationError) -> str:
    """One line per bad variable, e.g. "Environment variable MLX_MAX_EPOCHS='lots' is not valid: use a whole number."""
    lines = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else ""
        if name not in Settings.model_fields:  # not a field (cannot happen from the environment): pydantic's words
            lines.append(error["msg"] + ".")
            continue
        lines.append(
            f"Environment variable {ENV_PREFIX}{name.upper()}={error['input']!r} is not valid: use {_accepts(name)}."
        )
    return " ".join(lines)


def get_settings() -> Settings:
    """Settings from the environment (MLX_<FIELD NAME>), falling back to the defaults above.

    A bad value raises ValueError with one line naming the variable and what it accepts.
    """
    # Built once per distinct environment: pages read settings on every rerun, and building them cost ~1 ms each.
    # Keyed on the MLX_ variables, so a changed variable (tests, a new deployment) is seen at once.
    return _settings_for(tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith(ENV_PREFIX))))


@functools.lru_cache(maxsize=16)
def _settings_for(environment: tuple[tuple[str, str], ...]) -> Settings:
    del environment  # only the cache key: Settings() reads os.environ itself
    try:
        return Settings()
    except ValidationError as exc:
        raise ValueError(_plain(exc)) from None
