"""The embedded queue across a real restart: a server process with a training under way is killed (SIGKILL, as a
crash or a redeploy does), and the next server's queue shows the owner that training as failed with a plain message,
and lets them start again."""

import json
import os
import subprocess
import sys
import threading

from core.engine import job_records, jobs
from tests.helpers.paths import REPO

WAIT = 120

SERVER = """
import threading
from core.engine import jobs
queue = jobs.JobQueue(limit=lambda: 1, worker="thread")
hold = threading.Event()
running = queue.submit("alice", "Retrain colors: 50 epoch(s)", lambda job: hold.wait(), request={"family": "colors"})
queue.submit("bob", "Retrain shapes: 5 epoch(s)", lambda job: "never")
print(running.id, flush=True)
hold.wait()
"""


def test_a_server_killed_mid_training_leaves_a_failed_job_its_owner_sees(user_data):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen([sys.executable, "-c", SERVER], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        job_id = server.stdout.readline().strip()
        record = user_data / "jobs" / f"{job_id}.json"
        for _ in range(int(WAIT / 0.05)):
            if record.exists() and json.loads(record.read_text())["status"] == "running":
                break
            threading.Event().wait(0.05)
        assert json.loads(record.read_text())["status"] == "running"
    finally:
        server.kill()
        server.wait()
    queue = jobs.JobQueue(limit=lambda: 1)  # the restarted server
    for owner in ("alice", "bob"):  # the running one and the one waiting behind it
        snap = queue.snapshot(owner)
        assert snap is not None and snap.status == "failed" and snap.message == job_records.RESTART_MESSAGE
    assert queue.snapshot("alice").request == {"family": "colors"}  # the page can refill its form from it
    again = queue.submit("alice", "Retrain colors: 50 epoch(s)", lambda job: "done this time")
    assert queue.wait(again, WAIT) and again.result == "done this time"
