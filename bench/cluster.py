"""The app past one machine (`python -m bench --only cluster`): a cluster of its own (scripts/cluster.sh: Redis,
PostgreSQL, 2 replicas, 2 workers, HAProxy), a class of 30 through HAProxy against one session on the same path,
30 quick trainings pressed within a minute, a replica killed under live sessions, and a full restart that must lose
no record and no job. Sessions speak Streamlit's protocol (bench/protocol.py), as in bench/classroom.py."""

from __future__ import annotations

import asyncio
import secrets
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from websockets.exceptions import InvalidHandshake

from bench import classroom, cluster_jobs
from bench.cluster_run import Cluster
from bench.protocol import ProtocolError, Session

REPLICAS, WORKERS = 2, 2
KILL_SESSIONS = 10  # live sessions when a replica is killed, half on each replica
RECOVER_S = 10.0  # a session must be served again within this long after its replica died
RESTART_JOBS = 6  # trainings queued or running when everything is restarted


def log(message: str) -> None:
    print(f"[bench.cluster {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def identity_cookie(token: str, replica: int | None = None) -> str:
    cookie = f"mlx_id={token}"
    return cookie + (f"; SRV=r{replica}" if replica else "")


async def pick(session: Session, seed: int) -> bool:
    r, g, b = (int(v) for v in np.random.default_rng(seed).integers(0, 256, 3))
    pick = {"pick": {"rgb": [r, g, b], "at": seed}}  # what the picker sends on release (ui.colors_picker)
    result = await session.set_json_widget("colors.pick", pick, f"RGB ({r}, {g}, {b})", timeout=30)
    return result.marker_seconds is not None


async def replica_kill(cluster: Cluster) -> dict:
    """KILL_SESSIONS people on the Colors page, half pinned to each replica; replica 1 is killed; each person's next
    pick goes through HAProxy with the same cookies. A session counts as failed if it is not answered within
    RECOVER_S of the kill."""
    tokens = [secrets.token_urlsafe(32) for _ in range(KILL_SESSIONS)]
    sessions = []
    for i, token in enumerate(tokens):
        session = await Session.open(cluster.url, "Colors", cookie=identity_cookie(token, 1 + i % 2))
        await pick(session, i)
        sessions.append(session)
    cluster.kill("replica1")
    killed_at = time.perf_counter()

    async def next_action(i: int, session: Session) -> float | None:
        while time.perf_counter() - killed_at < RECOVER_S:
            try:
                if await pick(session, 1000 + i):
                    return time.perf_counter() - killed_at
            except (ProtocolError, OSError, InvalidHandshake):
                pass  # its replica is gone: the browser reconnects, as Streamlit's client does
            try:
                await session.close()
            except Exception:  # noqa: BLE001 - a dead socket may fail to close; nothing to keep
                pass
            try:
                session = await Session.open(
                    cluster.url, "Colors", timeout=RECOVER_S, cookie=identity_cookie(tokens[i], 1 + i % 2)
                )
            except (ProtocolError, OSError, InvalidHandshake):
                await asyncio.sleep(0.2)
        return None

    took = await asyncio.gather(*(next_action(i, s) for i, s in enumerate(sessions)))
    for s in sessions:
        try:
            await s.close()
        except Exception:  # noqa: BLE001
            pass
    served = [t for t in took if t is not None]
    return {
        "cluster_replica_kill_failed_sessions": sum(t is None for t in took),
        "cluster_replica_kill_recover_max_s": round(max(served), 2) if served else None,
    }


def count_rows(database_url: str) -> dict[str, int]:
    """Rows in every table of the database (but Alembic's own): what a restart must keep."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            names = [t for t in sa.inspect(conn).get_table_names() if t != "alembic_version"]
            return {t: int(conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one()) for t in names}
    finally:
        engine.dispose()


async def class_load(url: str) -> dict:
    warm = classroom.Tally()
    await asyncio.gather(*classroom.class_sessions(url, 2, 1, warm, seed0=900))
    one = await classroom.one_session_baseline(url)
    many = classroom.Tally()
    n = classroom.SESSIONS
    await asyncio.gather(*classroom.class_sessions(url, n, classroom.LOAD_ACTIONS, many, seed0=100, paced=True))
    log(f"one session p95 {one.p95():.1f} ms; {n} sessions p95 {many.p95():.1f} ms")
    return {
        "cluster_class_load_p95_ms_1_session": round(one.p95(), 1),
        f"cluster_class_load_p95_ms_{n}": round(many.p95(), 1),
        f"cluster_class_load_p95_ratio_{n}": round(many.p95() / one.p95(), 2),
        "cluster_class_load_p50_ms_1_session": round(one.percentile(50), 1),
        f"cluster_class_load_p50_ms_{n}": round(many.percentile(50), 1),
        "cluster_class_load_errors": len(one.errors) + len(many.errors),
        "cluster_class_load_error_list": (one.errors + many.errors)[:10],
    }


async def trainings(url: str) -> dict:
    trainers, done_at = classroom.Tally(), {}
    t0 = time.perf_counter()
    delays = np.linspace(0.0, classroom.TRAIN_SPREAD_S, classroom.SESSIONS)

    async def one(i: int, delay: float) -> None:
        try:
            await classroom.train_session(url, i, delay, t0, done_at, trainers)
        except (OSError, InvalidHandshake) as exc:  # a refused or timed-out page load counts against the cluster
            trainers.error(f"trainer {i}: {type(exc).__name__}: {exc}")

    await asyncio.gather(*(one(i, float(d)) for i, d in enumerate(delays)))
    n = classroom.SESSIONS
    return {
        "cluster_trainings_all_done_s": round(max(done_at.values()), 1) if len(done_at) == n else None,
        "cluster_trainings_seen_done": len(done_at),
        "cluster_trainings_errors": len(trainers.errors),
        "cluster_trainings_error_list": trainers.errors[:10],
    }


def phase(out: dict, name: str, fn) -> None:
    """Run one part and keep its figures; a part that breaks says so and the others still run."""
    t0 = time.perf_counter()
    try:
        out.update(fn())
    except Exception as exc:  # noqa: BLE001 - one broken part must not hide the others' figures
        out[f"cluster_{name}_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    log(f"{name}: {time.perf_counter() - t0:.1f} s")


def measure(cluster: Cluster) -> dict:
    out: dict = {"cluster_replicas": cluster.replicas, "cluster_workers": cluster.workers}
    phase(out, "class_load", lambda: asyncio.run(class_load(cluster.url)))
    phase(out, "trainings", lambda: asyncio.run(trainings(cluster.url)))
    phase(out, "restart", lambda: restart(cluster))
    phase(out, "replica_kill", lambda: asyncio.run(replica_kill(cluster)))
    return out


def restart(cluster: Cluster) -> dict:
    out: dict = {}
    tokens = cluster_jobs.submit_quick_trainings(cluster.url, RESTART_JOBS)
    before = count_rows(cluster.env["MLX_DATABASE_URL"])
    cluster.restart()
    after = count_rows(cluster.env["MLX_DATABASE_URL"])
    out["cluster_restart_records_before"] = sum(before.values())
    out["cluster_restart_lost_records"] = sum(max(0, n - after.get(t, 0)) for t, n in before.items())
    out["cluster_restart_jobs_pressed"] = len(tokens)
    out["cluster_jobs_lost_on_restart"] = cluster_jobs.lost_jobs(cluster.env["MLX_REDIS_URL"], tokens) + (
        RESTART_JOBS - len(tokens)
    )
    return out


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="mlx-cluster-") as tmp:
        cluster = Cluster(Path(tmp) / "cluster", replicas=REPLICAS, workers=WORKERS)
        t0 = time.perf_counter()
        cluster.start()
        log(f"cluster up in {time.perf_counter() - t0:.1f} s at {cluster.url}")
        try:
            return measure(cluster)
        finally:
            cluster.stop()


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
