"""Command-line interface: a thin layer over library calls.

Exit codes: 0 success, 1 the data or a report failed (problems are printed), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _demo_data(args: argparse.Namespace) -> int:
    from .demo import demo_data

    clinic = demo_data(n_clients=args.clients, months=args.months, seed=args.seed, end=args.end)
    folder = clinic.write(args.out_dir)
    n_obs, n_clients = len(clinic.observations), len(clinic.clients)
    print(f"wrote a demo clinic of {n_clients} clients ({n_obs} observations) to {folder}")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from .data import (
        TABLES,
        load_data,
        problems_to_text,
        read_clients,
        read_observations,
        read_sessions,
    )

    path = Path(args.path)
    if not path.exists():
        print(f"progress-kit validate: {path}: no such file or folder", file=sys.stderr)
        return EXIT_USAGE
    if path.is_dir():
        data = load_data(path, errors="report")
        problems = data.problems
        counts = {"observations": len(data.observations), "clients": len(data.clients),
                  "sessions": len(data.sessions)}
    else:
        table = args.table or path.stem
        readers = {"observations": read_observations, "clients": read_clients,
                   "sessions": read_sessions}
        if table not in readers:
            print(f"progress-kit validate: cannot tell which table {path.name} is; name it "
                  f"{' / '.join(TABLES)}.csv or pass --table", file=sys.stderr)
            return EXIT_USAGE
        frame, problems = readers[table](path, errors="report")
        counts = {table: len(frame)}
    errors = problems[problems["severity"] == "error"]
    if len(problems):
        print(problems_to_text(problems))
    summary = ", ".join(f"{n} valid {t} rows" for t, n in counts.items())
    if len(errors):
        print(f"{len(errors)} problem(s) found; {summary}", file=sys.stderr)
        return EXIT_FAILED
    print(f"valid: {summary}", file=sys.stderr)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per job."""
    parser = argparse.ArgumentParser(
        prog="progress-kit",
        description="Routine outcome monitoring: validate data, make the demo clinic, render "
                    "monthly reports.")
    parser.add_argument("--version", action="version", version=f"progress-kit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser("demo-data", help="write the synthetic demo clinic to a folder")
    demo.add_argument("out_dir", metavar="OUT_DIR")
    demo.add_argument("--clients", type=int, default=60, help="number of clients (default 60)")
    demo.add_argument("--months", type=int, default=6, help="months of data (default 6)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--end", help="last day of data, YYYY-MM-DD (default: end of last month)")
    demo.set_defaults(func=_demo_data)

    val = sub.add_parser("validate", help="check a data folder or one table file",
                         description="Check a data folder (observations, clients, sessions) or one "
                                     "table file. Exit 0 when valid, 1 with the problems printed "
                                     "one per line.")
    val.add_argument("path", metavar="DATA_DIR_OR_FILE")
    val.add_argument("--table", choices=["observations", "clients", "sessions"],
                     help="which table a single file holds (default: from its name)")
    val.set_defaults(func=_validate)

    for module in ("reports.cli", "teaching", "ingest.cli"):
        _add_commands_from(module, sub)
    return parser


def _add_commands_from(module: str, sub: argparse._SubParsersAction) -> None:
    """Let a sub-package register its own sub-commands (``add_commands(sub)``), if it has any."""
    import importlib

    try:
        mod = importlib.import_module(f".{module}", __package__)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(__package__):
            return
        raise
    if hasattr(mod, "add_commands"):
        mod.add_commands(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used as the console script's)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"progress-kit {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, FileNotFoundError) else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
