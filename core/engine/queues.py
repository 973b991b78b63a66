"""Which training queue serves this process, chosen in one place: with MLX_REDIS_URL set, the Redis queue shared by
every app process and worker (core.engine.rq_queue); unset, this process's embedded queue (core.engine.jobs.QUEUE)."""

from __future__ import annotations

import threading

from core.engine import job_workers, jobs
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


def warm_up() -> bool:
    """Have a training worker with TensorFlow imported wait for this process's next job (the embedded queue's warm
    worker, core.engine.job_workers.warm_worker); on Redis the workers keep their own warm process, so nothing here."""
    if get_settings().redis_url:
        return False
    return job_workers.warm_worker()
