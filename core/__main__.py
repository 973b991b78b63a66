"""The command line: `python -m core --help`. Each command calls the same core functions the pages use,
prints one JSON object on stdout, and reports bad input as one plain line on stderr with exit code 2."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path


def _add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--out", help="write the model here instead of saved_models/<family>")
    p.add_argument("--seed", type=int)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's commands; `train` and `evaluate` list every family in core.families' registry."""
    from core.engine import registry as families

    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model and save it in the store format")
    train_sub = train.add_subparsers(dest="family", required=True)
    for family in families.FAMILIES.values():
        p = train_sub.add_parser(family.name, help=f"{family.label}: {family.description}")
        _add_train_options(p)
        family.add_cli_options(p)

    evaluate = sub.add_parser("evaluate", help="evaluate a shipped model on a file")
    evaluate.add_argument("family", choices=families.names())
    evaluate.add_argument("file")
    evaluate.add_argument("--model", help="a model folder (default: the shipped one)")
    evaluate.add_argument("--tail", type=float, help="text only: evaluate the last FRACTION of the file")

    inspect = sub.add_parser("inspect", help="JSON summary of a model folder: layers, manifest, checks")
    inspect.add_argument("path")

    export = sub.add_parser("export", help="export a model folder")
    export.add_argument("format", choices=["tfjs"])
    export.add_argument("source")
    export.add_argument("outdir")

    experiment = sub.add_parser("experiment", help="run an experiment")
    experiment.add_argument("name", choices=["vector-search"])
    experiment.add_argument("--pool", choices=[f.pool for f in families.FAMILIES.values() if f.pool], default="colors")
    experiment.add_argument("--concept", default="teal")
    experiment.add_argument("--budget", type=int, default=200)
    experiment.add_argument("--seed", type=int, default=0)
    experiment.add_argument("--seeds", type=int, default=5, help="how many seeds from --seed on (mean and spread)")
    experiment.add_argument("--target", type=float, default=0.9)
    experiment.add_argument("--pool-size", type=int)

    worker = sub.add_parser("worker", help="run a training worker on the Redis at MLX_REDIS_URL (RQ)")
    worker.add_argument("--burst", action="store_true", help="quit once every queue is empty")
    worker.add_argument("--name", help="the worker's name (default: RQ's, unique per process)")
    database = sub.add_parser(
        "db", help="the database of people's work (MLX_DATABASE_URL, or the embedded SQLite file)"
    )
    database_sub = database.add_subparsers(dest="db_command", required=True)
    database_sub.add_parser("upgrade", help="bring the database to the newest schema revision")
    folder = database_sub.add_parser("import-folder", help="move a user_data/ folder of the file layout into it")
    folder.add_argument("folder")

    from core.families.teach.cli import add_teach_parser

    add_teach_parser(sub)
    return parser


def run(args: argparse.Namespace) -> dict:
    """Dispatch to the family (through the registry) or the module that owns the command."""
    from core.engine import registry as families

    if args.command == "train" and args.out is not None:
        from pathlib import Path

        from core.store import models as store

        if not args.out.strip():  # an empty --out used to fall through to saved_models/<family>, the shipped model
            raise ValueError("--out is empty: give the folder to write the model to, or leave --out out.")
        out = Path(args.out).resolve()
        if (
            out.is_relative_to(store.SHIPPED_MODELS_DIR.resolve())
            and out != families.get(args.family).shipped_dir().resolve()
        ):
            raise ValueError(
                f"--out {args.out} is another shipped model's folder; a {args.family} model cannot go there."
            )
        store.check_replaceable(Path(args.out))  # refuse a non-model --out folder now, not after an hour of training
    if args.command == "train":
        return families.get(args.family).train_cli(args)
    if args.command == "evaluate":
        return families.get(args.family).evaluate_cli(args)
    if args.command == "inspect":
        from core.inspector import inspect as inspector

        return inspector.inspect_cli(args)
    if args.command == "export":
        from core.store import export

        return export.export_cli(args)
    if args.command == "db":
        from core.store import importer

        return importer.upgrade() if args.db_command == "upgrade" else importer.import_folder(args.folder)
    if args.command == "teach":
        from core.families.teach.cli import teach_cli

        return teach_cli(args)
    if args.command == "worker":
        from core.engine import rq_worker

        return rq_worker.main(burst=args.burst, name=args.name)
    if args.command == "experiment":
        from core.vectors import experiment as vector_experiment

        return vector_experiment.experiment_cli(args)
    raise ValueError(f"Unknown command {args.command!r}.")


def plain_error(exc: BaseException) -> str:
    """One line for the user: a core error's own message; anything else names its type and where the details are."""
    if isinstance(exc, (ValueError, OSError)) and str(exc).strip():  # every core error type subclasses one of these
        return " ".join(str(exc).split())
    return (
        f"the command failed unexpectedly ({type(exc).__name__}); this is a bug, not your input's fault. "
        f"Details: {_log_file()}"
    )


def _log_file() -> str:
    from core.settings import get_settings

    return str(get_settings().user_data_dir / "logs" / "cli-errors.log")


def _log_details(exc: BaseException) -> None:
    """The traceback goes to a log file, never to the terminal (Python's last-resort handler would print it)."""
    path = Path(_log_file())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"--- {' '.join(sys.argv)}\n")
            traceback.print_exception(exc, file=f)
    except OSError:
        pass  # a read-only data folder: the one-line message is still printed


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = run(args)
        text = json.dumps(result, indent=1)
    except (Exception, RecursionError, MemoryError) as exc:  # the boundary: one plain line, exit 2, never a traceback
        if not isinstance(exc, (ValueError, OSError)):
            _log_details(exc)
        print(f"error: {plain_error(exc)}", file=sys.stderr)
        return 2
    print(text)
    return 1 if args.command == "inspect" and result.get("ok") is False else 0  # a model that fails its checks


if __name__ == "__main__":
    sys.exit(main())
