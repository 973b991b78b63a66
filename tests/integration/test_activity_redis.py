"""What a class's teacher sees of a student's training on the Redis queue (RedisQueue.activity_of), against a real
redis-server: where the owner's latest job stands, from any app process, and nothing of its details."""

import pytest

from core.engine import jobs, queues, retrain, rq_queue
from tests.helpers.jobs import request, user_colors
from tests.helpers.redis_server import RedisServer


@pytest.fixture
def server(tmp_path, monkeypatch):
    srv = RedisServer(tmp_path / "redis").start()
    monkeypatch.setenv("MLX_REDIS_URL", srv.url)
    yield srv
    srv.stop()


def test_an_owners_queued_training_is_seen_by_another_process_without_its_details(server, user_data):
    queue = queues.get_queue()
    assert isinstance(queue, rq_queue.RedisQueue)
    assert queue.activity_of("u-anna") is None and queue.activity_of("") is None
    retrain.start_retrain(request(), user_colors(), "u-anna")  # the Retrain page keys a job by its owner
    other_process = rq_queue.RedisQueue(server.url)  # a second app replica's queue object
    seen = other_process.activity_of("u-anna")
    assert seen == jobs.OwnerActivity("queued", 0.0, 1)
    assert set(vars(seen)) == {"status", "progress", "position"}
    assert other_process.activity_of("u-ben") is None
    assert other_process.cancel("u-anna")
    assert other_process.activity_of("u-anna").status == "cancelled"


def test_with_redis_down_the_roster_shows_no_activity_rather_than_an_error(server, user_data):
    queue = rq_queue.RedisQueue(server.url)
    server.stop()
    assert queue.activity_of("u-anna") is None
