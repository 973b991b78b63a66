"""Nobody sees anybody else's work (`python -m bench --only isolation`): two identities (two identity cookies) speak
Streamlit's protocol to one app (bench/protocol.py). The first, Ada, makes a version of every family, a Teach model,
drawings, colour labels and a class; the second, Bea, then visits every page and every list, and every message the
server sends her is searched for any of Ada's names and ids.

Figures: `isolation_checks` (the places Bea looked at: a page, or a list a widget brings up), `isolation_leaks`
(how many of those held one of Ada's names or ids; 0 is the only right answer), `isolation_secrets` (the names and
ids searched for) and `isolation_control_found` (how many of them Ada's own pages show: the search finds them, so a
0 for Bea means something).

Ada works through the pages as a browser does where the protocol client can drive them (the quick retrains, the
class, the Teach project and its training, drawings on the Draw page, sharing with the class); a few things go
through core.store.access with her identity, as the page would: the text version (without the built-in corpus on
this server a quick text retrain needs an upload), the Teach project's photos and her colour labels (a camera, an
upload and a colour pick are not protocol-client widgets here).
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path

from bench.classroom import quick_form
from bench.protocol import Session, canvas_circle
from bench.server import start_app, stop_app

SAVED = re.compile(r"[Ss]aved as version \*\*([^*]+)\*\*")
TRAIN_DEADLINE_S = 600.0


def log(message: str) -> None:
    print(f"[bench.isolation {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _photo(rgb: tuple[int, int, int], seed: int) -> bytes:
    """A PNG photo of one colour with some noise (a Teach sample)."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.clip(np.array(rgb) + np.random.default_rng(seed).normal(0, 20, (48, 64, 3)), 0, 255)
    buf = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _cookie(token: str) -> str:
    from core.store import identity

    return f"{identity.COOKIE}={token}"


async def _until_saved(session: Session, before: set[str]) -> str:
    """Rerun the page until its result names a saved version not in `before`; returns its id."""
    deadline = time.perf_counter() + TRAIN_DEADLINE_S
    while time.perf_counter() < deadline:
        found = [SAVED.search(t) for t in (await session.rerun()).texts]
        found = [m.group(1) for m in found if m and m.group(1) not in before]
        if found:
            return found[0]
        await asyncio.sleep(2.0)
    raise RuntimeError("A training did not finish in time.")


async def _ada(url: str, cookie: str, owner: str) -> dict:
    """Ada's work; returns her names and ids (what must never reach Bea)."""
    from core.engine import registry as families
    from core.families.teach import projects as teach_store
    from core.store import access
    from core.store import models as store

    secrets = {"owner id": owner}
    for family in ("colors", "shapes"):  # a quick retrain of each family the page trains here, named "adasecret"
        session = await Session.open(url, "Retrain", cookie=cookie)
        entry = families.get(family)
        if family != "colors":
            await session.set_widget("retrain.family", f"{entry.icon} {entry.label}")
        form = {**quick_form(family), f"retrain.{family}.name": "adasecret"}
        if f"retrain.{family}.per_class" in form:  # this app generates at most 24 drawings per class
            form[f"retrain.{family}.per_class"] = 24
        run = await session.submit_form("Start training", form)
        if not any(m in t for t in run.texts for m in ("Training now", "Waiting", "Last run")):
            raise RuntimeError(f"Ada's {family} retrain did not start: {run.texts[-3:]}")
        secrets[f"{family} version"] = await _until_saved(session, set(secrets.values()))
        await session.close()
        log(f"Ada's {family} version: {secrets[f'{family} version']}")
    text = store.load_model(families.get("text").shipped_dir())
    version = store.save_version(text.model, "text", "adasecret", {**text.metadata, "owner": owner})
    secrets["text version"] = version.version_id

    session = await Session.open(url, "Teach", cookie=cookie)  # a Teach project (image: the page's default kind)
    await session.submit_form("Create the project", {"teach.new.name": "ada-secret-project"})
    for i in range(8):
        teach_store.add_sample(owner, "ada-secret-project", "Class 1", _photo((220, 30, 30), i))
        teach_store.add_sample(owner, "ada-secret-project", "Class 2", _photo((30, 30, 220), i))
    await session.submit_form("Train the model", {"teach.epochs": 3})
    secrets["Teach project"] = "ada-secret-project"
    secrets["Teach model"] = await _until_saved(session, set(secrets.values()))
    await session.close()
    log(f"Ada's Teach model: {secrets['Teach model']}")

    session = await Session.open(url, "Draw", cookie=cookie)  # two drawings, saved from the Draw page
    for i in range(2):
        canvas = [k for k in session.widgets if k.startswith("draw.canvas.")][-1]  # a saved drawing clears it
        await session.set_json_widget(canvas, canvas_circle(i))
        await session.set_widget("draw.new_label", "adasecretdrawing")
        await session.click("draw.save")
    await session.close()
    secrets["drawing label"] = "adasecretdrawing"
    if not access.drawings(owner, "adasecretdrawing"):
        raise RuntimeError("Ada's drawings were not saved through the Draw page.")
    for rgb in ((250, 10, 10), (10, 250, 10)):
        access.add_color_label(owner, rgb, "adasecretcolour")
    secrets["colour label"] = "adasecretcolour"

    session = await Session.open(url, "Class", cookie=cookie)
    run = await session.submit_form("Open a class", {"class.name": "Ada secret class"})
    shown = next(t for t in run.texts if "data-testid='class-code'" in t)
    secrets["class code"] = re.search(r">([A-Z0-9]{4}-[A-Z0-9]{4})<", shown).group(1)
    secrets["class name"] = "Ada secret class"
    await session.rerun()
    await session.click("class.share")  # her samples go into her class's pool
    await session.close()
    return secrets


def _found(raw: bytes, secrets: dict[str, str]) -> list[str]:
    forms = {name: {value, value.replace("-", "")} for name, value in secrets.items()}
    return [name for name, values in forms.items() if any(v.encode() in raw for v in values)]


async def _bea(url: str, cookie: str, secrets: dict[str, str]) -> tuple[int, list[str]]:
    """Bea visits every page and list; returns how many places she looked at and what leaked where."""
    from core.engine import registry as families

    checks, leaks = 0, []

    def look(place: str, raw: bytes) -> None:
        nonlocal checks
        checks += 1
        leaks.extend(f"{place}: {name}" for name in _found(raw, secrets))

    for page in ("", "Colors", "Draw", "Text", "Retrain", "Inspect", "Vector_search", "Teach", "Class"):
        session = await Session.open(url, page, cookie=cookie)
        look(page or "Home", session.first_run.raw)
        if page == "Retrain":  # each family's form, versions list and comparison
            for entry in families.with_shipped_model()[1:]:
                look(
                    f"Retrain {entry.name}",
                    (await session.set_widget("retrain.family", f"{entry.icon} {entry.label}")).raw,
                )
        elif page == "Inspect":  # the saved models, then each model's versions to compare
            for family in ("colors", "shapes", "text"):
                look(f"Inspect versions of {family}", (await session.set_widget("inspect.diff_family", family)).raw)
        elif page == "Vector_search":
            for pool in families.pools():
                look(f"Vector search pool {pool}", (await session.set_widget("vectors.pool_name", pool)).raw)
        elif page == "Teach":  # a project of the same name as Ada's: it is Bea's own, with no model of Ada's
            run = await session.submit_form("Create the project", {"teach.new.name": "ada-secret-project"})
            look("Teach, Bea's project named as Ada's", run.raw.replace(b"ada-secret-project", b""))
        elif page == "Class":  # her own class: its roster and pool
            look("Class, Bea's own", (await session.submit_form("Open a class", {"class.name": "Bea's"})).raw)
            retrain = await Session.open(url, "Retrain", cookie=cookie)
            look("Retrain as a class's teacher", retrain.first_run.raw)
            look("Retrain shapes as a class's teacher", (await retrain.set_widget("retrain.family", "✏️ Shapes")).raw)
            await retrain.close()
            tab = await Session.open(url, "Class", cookie=cookie)
            look("Class, Bea's own, in a second tab", tab.first_run.raw)
            await tab.close()
        await session.close()
    return checks, leaks


async def _control(url: str, cookie: str, secrets: dict[str, str]) -> int:
    """How many of Ada's names and ids her own pages show (the search works: they are found there)."""
    raw = b""
    for page in ("Retrain", "Inspect", "Teach", "Class", "Draw"):
        session = await Session.open(url, page, cookie=cookie)
        raw += session.first_run.raw
        if page == "Teach":
            box = next(k for k in session.widgets if k.startswith("teach.project."))
            raw += (await session.set_widget(box, secrets["Teach project"])).raw
        await session.close()
    found = _found(raw, secrets)
    log(f"Ada's own pages show {found}")
    return len(found)


async def measure(url: str) -> dict:
    from core.store import identity

    ada_token, bea_token = identity.new_token(), identity.new_token()
    ada, bea = _cookie(ada_token), _cookie(bea_token)
    secrets = await _ada(url, ada, identity.owner_id(ada_token))
    log(f"Ada made {len(secrets)} names and ids; Bea looks")
    checks, leaks = await _bea(url, bea, secrets)
    for leak in leaks:
        log(f"LEAK {leak}")
    return {
        "isolation_checks": checks,
        "isolation_leaks": len(leaks),
        "isolation_secrets": len(secrets),
        "isolation_control_found": await _control(url, ada, secrets),
    }


def run() -> dict:
    """One app with its own data folder (quick shapes drawings); Ada, then Bea."""
    import os

    with tempfile.TemporaryDirectory(prefix="bench-isolation-") as tmp:
        data_dir = Path(tmp) / "user_data"
        env = {"MLX_MAX_GENERATED_PER_CLASS": "24"}
        old = {k: os.environ.get(k) for k in ("MLX_USER_DATA_DIR", *env)}
        os.environ.update({"MLX_USER_DATA_DIR": str(data_dir), **env})  # Ada's direct writes go to the app's folder
        proc, url = start_app(data_dir, env)
        try:
            return asyncio.run(measure(url))
        finally:
            stop_app(proc)
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
