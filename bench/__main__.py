"""`python -m bench [--json] [--only NAME ...]`: run every benchmark and print one JSON object or a table.

Each benchmark module in bench/ exposes `run() -> dict[str, float | str]` of figures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
MODULES = [
    "colors",
    "shapes",
    "draw",
    "text",
    "hostile",
    "training",
    "app",
    "class",
    "isolation",
    "teach",
    "cluster",
]  # the order they run in
FILES = {"class": "classroom"}  # a name that is a Python keyword lives in a module named otherwise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--only", nargs="*", choices=MODULES, help="run only these benchmark modules")
    args = parser.parse_args(argv)
    figures: dict = {}
    start = time.perf_counter()
    for name in args.only or MODULES:
        try:
            module = importlib.import_module(f"bench.{FILES.get(name, name)}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{FILES.get(name, name)}":
                continue  # not written yet
            raise
        t0 = time.perf_counter()
        try:
            figures.update(module.run())
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            figures[f"bench_{name}_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        figures[f"bench_{name}_s"] = round(time.perf_counter() - t0, 1)
    figures["bench_total_s"] = round(time.perf_counter() - start, 1)
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
