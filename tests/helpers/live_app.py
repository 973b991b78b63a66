"""The live app the browser and protocol tests run against (bench/server.py starts and stops it)."""

from core.settings import Settings

# A live app for browser tests runs the shipped training worker (a separate process), whatever the tests' own mode.
SHIPPED_WORKER = {"MLX_TRAINING_WORKER": Settings.model_fields["training_worker"].default}
