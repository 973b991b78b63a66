"""core.engine.rq_queue without a server: the fair order the round-robin workers take waiting jobs in, the queue
names of classes, and the choice of queue (core.engine.queues). The Redis queue itself is tested against a real
redis-server in tests/integration/test_jobs_redis.py."""

import pytest
import redis

from core.engine import jobs, queues, rq_queue, rq_worker


def test_classes_take_turns_whatever_their_number_of_waiting_jobs():
    waiting = {"mlx-class-A": ["a1", "a2", "a3"], "mlx-class-B": ["b1"], "mlx-class-C": ["c1", "c2"]}
    assert rq_queue.fair_order(waiting) == ["a1", "b1", "c1", "a2", "c2", "a3"]
    assert rq_queue.fair_order({}) == [] and rq_queue.fair_order({"q": []}) == []


def test_queue_names_are_one_per_class_and_safe():
    assert rq_queue.queue_name("") == "mlx-everyone"
    assert rq_queue.queue_name("ABC123") == "mlx-class-ABC123"
    assert rq_queue.queue_name("a b:c/../*") == "mlx-class-a_b_c_____"
    assert len(rq_queue.queue_name("x" * 500)) < 80


def test_the_embedded_queue_serves_unless_redis_is_configured(monkeypatch):
    assert queues.get_queue() is jobs.QUEUE
    monkeypatch.setenv("MLX_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing is connected until it is used
    queue = queues.get_queue()
    assert isinstance(queue, rq_queue.RedisQueue) and queues.get_queue() is queue


def test_a_worker_job_names_only_the_training_function():
    job = rq_worker.TrainingJob(id="x", connection=redis.Redis.from_url("redis://127.0.0.1:1/0"))  # never connected
    job._func_name = "os.system"
    with pytest.raises(ValueError, match="refused"):
        _ = job.func
    job._func_name = rq_worker.RUN_PATH
    assert job.func is rq_worker.run_payload
    assert job.success_callback is None and job.failure_callback is None and job.stopped_callback is None
