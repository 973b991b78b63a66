"""Trainings across a cluster's restart (bench/cluster.py, tests/integration/test_cluster.py): students press Start on
the Retrain page's quick preset through HAProxy, and after everything restarts each job must be finished, running,
queued, or failed with a message its owner sees."""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets

from bench import classroom
from bench.protocol import Session

ENDED_OR_ALIVE = ("done", "running", "queued", "cancelled", "diverged")


def run_async(coro):
    """asyncio.run(coro), in a thread of its own when this thread already runs an event loop (a test session whose
    Playwright driver keeps one), where asyncio.run refuses."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def press_start(url: str, token: str, family: str = "colors", cookie_extra: str = "") -> bool:
    """One student (identity `token`) presses Start on `family`'s quick preset; True when the training panel shows.
    `cookie_extra` ("SRV=r1") goes with the identity cookie, as a browser's other cookies do."""
    from core.engine import registry as families

    entry = families.get(family)
    cookie = f"mlx_id={token}" + (f"; {cookie_extra}" if cookie_extra else "")
    session = await Session.open(url, "Retrain", cookie=cookie)
    try:
        if family != families.with_shipped_model()[0].name:
            await session.set_widget("retrain.family", f"{entry.icon} {entry.label}")
        result = await session.submit_form("Start training", classroom.quick_form(family), "Training now")
        return result.marker_seconds is not None
    finally:
        await session.close()


def submit_quick_trainings(url: str, n: int) -> list[str]:
    """n students press Start one after another; returns their identity tokens (those whose press showed a panel)."""
    tokens = [secrets.token_urlsafe(32) for _ in range(n)]

    async def all_of_them() -> list[bool]:
        return [await press_start(url, t, classroom.TRAIN_FAMILIES[i % 2]) for i, t in enumerate(tokens)]

    pressed = run_async(all_of_them())
    return [t for t, ok in zip(tokens, pressed, strict=True) if ok]


def job_states(redis_url: str, tokens: list[str]) -> list[tuple[str, str]]:
    """(status, message) of each identity's latest training on the cluster's queue, ("", "") for none."""
    from core.engine.rq_queue import RedisQueue
    from core.store import identity

    queue = RedisQueue(redis_url)
    out = []
    for token in tokens:
        snap = queue.snapshot(identity.owner_id(token))
        out.append(("", "") if snap is None else (snap.status, snap.message))
    return out


def lost_jobs(redis_url: str, tokens: list[str]) -> int:
    """Jobs gone, or failed without a message their owner could read."""
    return sum(
        1
        for status, message in job_states(redis_url, tokens)
        if not (status in ENDED_OR_ALIVE or (status == "failed" and message.strip()))
    )
