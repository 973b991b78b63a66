"""Which training queue serves this process, chosen in one place: with MLX_REDIS_URL set, the Redis queue shared by
every app process and worker (core.engine.rq_queue); unset, this process's embedded queue (core.engine.jobs.QUEUE)."""

from __future__ import annotations

import threading

from core.engine import jobs
from core.engine.rq_queue import RedisQueue
from core.settings import get_settings

_REDIS: dict[str, RedisQueue] = {}
_LOCK = threading.Lock()


def get_queue() -> jobs.JobQueue | RedisQueue:
    """The queue pages and start_* functions use: read per call, so a changed setting (tests) is seen at once."""
    url = get_settings().redis_url
    if not url:
        return jobs.QUEUE
    with _LOCK:
        if url not in _REDIS:
            _REDIS[url] = RedisQueue(url)
        return _REDIS[url]
