"""core.engine.job_records with the embedded queue: each job's record on disk, and after a restart, a job a dead server
left queued or running shows as failed with a plain message in its owner's panel; nothing is silently gone."""

import json
import os
import threading
import time

import psutil

from core.engine import job_records, jobs
from tests.helpers.jobs import WAIT

DEAD_SERVER = {"pid": os.getpid(), "boot": 1.0}  # this pid, but a process started in 1970: not this one


def left_behind(folder, job_id, session, status, **changes):
    record = {
        "id": job_id,
        "session_id": session,
        "owner": session,
        "title": "Retrain colors: 5 epoch(s)",
        "kind": "Retrain colors",
        "status": status,
        "message": "",
        "request": {"family": "colors", "epochs": 5},
        "created": time.time() - 60,
        "started": time.time() - 50 if status == "running" else None,
        "finished": None,
        "server": DEAD_SERVER,
        **changes,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{job_id}.json").write_text(json.dumps(record))
    return folder / f"{job_id}.json"


def test_every_status_change_is_written_and_the_result_is_not(user_data):
    queue = jobs.JobQueue(limit=lambda: 1)
    release = threading.Event()
    job = queue.submit("s", "Retrain colors: 2", lambda j: release.wait(WAIT) and {"big": "result"}, request={"a": 1})
    path = user_data / "jobs" / f"{job.id}.json"
    for _ in range(int(WAIT / 0.01)):
        if json.loads(path.read_text())["status"] == "running":
            break
        threading.Event().wait(0.01)
    record = json.loads(path.read_text())
    assert record["status"] == "running" and record["request"] == {"a": 1} and record["session_id"] == "s"
    assert record["server"]["pid"] == os.getpid()
    release.set()
    assert queue.wait(job, WAIT)
    record = json.loads(path.read_text())
    assert record["status"] == "done" and record["finished"] is not None and "result" not in record
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_after_a_restart_a_running_and_a_queued_job_show_as_failed_with_a_plain_message(user_data):
    folder = user_data / "jobs"
    running = left_behind(folder, "aaaaaaaaaaaa", "alice", "running")
    left_behind(folder, "bbbbbbbbbbbb", "bob", "queued")
    queue = jobs.JobQueue(limit=lambda: 1)  # the restarted server's queue
    snap = queue.snapshot("alice")
    assert snap is not None and snap.status == "failed" and not snap.active
    assert snap.message == job_records.RESTART_MESSAGE
    assert snap.message == "The server restarted while this training was running; nothing was saved. Start it again."
    assert snap.request == {"family": "colors", "epochs": 5} and snap.title.startswith("Retrain colors")
    assert queue.snapshot("bob").status == "failed"
    assert json.loads(running.read_text())["status"] == "failed"  # saved, so the next restart says the same
    # The owner can start again at once; the restart note then gives way to the new job.
    job = queue.submit("alice", "Retrain colors: 5", lambda j: "ok")
    assert queue.wait(job, WAIT) and queue.snapshot("alice").status == "done"
    assert not running.exists()
    again = jobs.JobQueue(limit=lambda: 1)  # one more restart: bob's note is still there, alice's is not
    assert again.snapshot("bob").message == job_records.RESTART_MESSAGE
    assert again.snapshot("alice") is None


def test_records_of_a_live_server_are_left_alone(user_data):
    folder = user_data / "jobs"
    me = {"pid": os.getpid(), "boot": round(psutil.Process().create_time(), 2)}
    path = left_behind(folder, "cccccccccccc", "carol", "running", server=me)  # another queue of this process
    before = path.read_text()
    assert jobs.JobQueue(limit=lambda: 1).snapshot("carol") is None
    assert path.read_text() == before


def test_old_finished_and_unreadable_records_are_cleaned_up(user_data):
    folder = user_data / "jobs"
    old = left_behind(folder, "dddddddddddd", "dan", "running", created=time.time() - jobs.KEEP_FINISHED_SECONDS - 60)
    done = left_behind(folder, "eeeeeeeeeeee", "eve", "done", finished=time.time() - 10)
    broken = folder / "ffffffffffff.json"
    broken.write_text("{not json")
    queue = jobs.JobQueue(limit=lambda: 1)
    assert queue.snapshot("dan") is None and queue.snapshot("eve") is None
    assert not old.exists() and not done.exists() and not broken.exists()


def test_only_the_latest_job_of_a_key_is_shown(user_data):
    folder = user_data / "jobs"
    older = left_behind(folder, "111111111111", "frank", "failed", message=job_records.RESTART_MESSAGE)
    left_behind(folder, "222222222222", "frank", "running", created=time.time() - 5, title="Teach image: transfer")
    snap = jobs.JobQueue(limit=lambda: 1).snapshot("frank")
    assert snap.title == "Teach image: transfer" and snap.status == "failed"
    assert not older.exists()


def test_a_queue_without_records_writes_none(user_data):
    queue = jobs.JobQueue(limit=lambda: 1, records=False)
    job = queue.submit("s", "S", lambda j: 1)
    assert queue.wait(job, WAIT) and job.status == "done"
    assert not (user_data / "jobs").exists()
