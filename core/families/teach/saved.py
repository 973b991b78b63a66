"""A Teach project's trained models as the page shows them, rebuilt from the store (core.store.access) on every run:
the newest one's result, "Try it" and "Export" survive a reload, a new tab and a server restart. Deleting a model,
or a project with its samples and models, goes through the same layer with the caller's identity."""

from __future__ import annotations

from core.families.teach import projects
from core.families.teach.job import family_name
from core.store import access
from core.store import models as store
from core.store.topology import StoreError


def outcome_of(row: access.VersionRow) -> dict | None:
    """The outcome dict the page shows (as run_teach returns it) for one saved Teach model; None for a model saved
    without what the page shows (before it was recorded) or one that cannot be read any more."""
    try:
        meta = store.load_metadata(row.path)
    except (StoreError, OSError):
        return None
    metrics, shown = meta.get("metrics") or {}, meta.get("shown")
    if not isinstance(shown, dict) or "confusion" not in shown or "per_class" not in metrics:
        return None
    return {
        "kind": meta.get("kind", ""),
        "method": meta.get("method", "scratch"),  # models saved before transfer learning were all CNNs
        "class_names": list(meta.get("class_names") or []),
        "history": meta.get("history") or {},
        "seconds": float(meta.get("train_seconds") or 0.0),
        **metrics,
        **shown,
        "version_id": row.version_id,
        "version_path": row.path,
    }


def models(owner: str, project: projects.Project) -> list[access.VersionRow]:
    """The caller's models of this project, newest first."""
    return access.teach_models(owner, family_name(project.kind), project.name)


def last_model(owner: str, project: projects.Project) -> dict | None:
    """The newest of the project's models that the page can show, as its outcome; None before the first training."""
    for row in models(owner, project):
        outcome = outcome_of(row)
        if outcome is not None:
            return outcome
    return None


def delete_model(owner: str, project: projects.Project, version_id: str) -> None:
    """Delete one of the project's models (NotYours for another person's, or one of another project)."""
    if version_id not in {r.version_id for r in models(owner, project)}:
        raise access.NotYours(f"The project {project.name!r} has no model {version_id!r} of yours.")
    access.delete_teach_model(owner, family_name(project.kind), version_id)


def delete_project(owner: str, name: str) -> int:
    """Delete one of the caller's projects with its samples and its trained models; returns how many models."""
    project = projects.load_project(owner, name)  # a plain "no project" first
    rows = models(owner, project)
    for row in rows:
        access.delete_teach_model(owner, family_name(project.kind), row.version_id)
    projects.delete_project(owner, name)
    return len(rows)
