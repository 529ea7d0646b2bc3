"""Command-line interface: a thin layer over library calls.

Exit codes: 0 success, 1 the data or a report failed (problems are printed), 2 usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

log = logging.getLogger("progress_kit.cli")
EXACT = {"exact": True}  # the CLI's own lines: counts, names, usage (not masked; see reports.safe)
MEASURES_COMMANDS = ("validate", "report", "batch", "import")


def _demo_data(args: argparse.Namespace) -> int:
    from .demo import demo_data

    clinic = demo_data(n_clients=args.clients, months=args.months, seed=args.seed, end=args.end,
                       items=args.items, episodes=args.episodes)
    folder = clinic.write(args.out_dir)
    n_obs, n_clients = len(clinic.observations), clinic.clients["client_id"].nunique()
    back = len(clinic.clients) - n_clients
    returning = f", {back} of them returning (a second episode of care)" if back else ""
    print(f"wrote a demo clinic of {n_clients} clients{returning} ({n_obs} observations) to "
          f"{folder}")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from .data import (
        TABLES,
        load_data,
        problems_to_text,
        read_clients,
        read_items,
        read_observations,
        read_sessions,
    )

    path = Path(args.path)
    if not path.exists():
        log.error(f"progress-kit validate: {path}: no such file or folder", extra=EXACT)
        return EXIT_USAGE
    if path.is_dir():
        data = load_data(path, errors="report", date_format=args.date_format)
        problems = data.problems
        counts = {"observations": len(data.observations), "clients": len(data.clients),
                  "sessions": len(data.sessions)}
        if len(data.items):
            counts["items"] = len(data.items)
    else:
        table = args.table or path.stem
        readers = {"observations": read_observations, "clients": read_clients,
                   "sessions": read_sessions, "items": read_items}
        if table not in readers:
            log.error(f"progress-kit validate: cannot tell which table {path.name} is; name it "
                      f"{' / '.join(TABLES)}.csv or pass --table", extra=EXACT)
            return EXIT_USAGE
        frame, problems = readers[table](path, errors="report", date_format=args.date_format)
        counts = {table: len(frame)}
    errors = problems[problems["severity"] == "error"]
    if len(problems):
        print(problems_to_text(problems))
    summary = ", ".join(f"{n} valid {t} rows" for t, n in counts.items())
    if len(errors):
        log.error(f"{len(errors)} problem(s) found; {summary}", extra=EXACT)
        return EXIT_FAILED
    log.info(f"valid: {summary}", extra=EXACT)
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
    demo.add_argument("--items", action="store_true",
                      help="also write items.csv: PHQ-9 and GAD-7 item answers summing to the totals")
    demo.add_argument("--episodes", action="store_true",
                      help="add a few returning clients with a second episode of care after a "
                           "gap (clients.csv gets an episode_id column)")
    demo.set_defaults(func=_demo_data)

    val = sub.add_parser("validate", help="check a data folder or one table file",
                         description="Check a data folder (observations, clients, sessions and "
                                     "optional items) or one table file. Exit 0 when valid, 1 "
                                     "with the problems printed (repeated ones grouped).")
    val.add_argument("path", metavar="DATA_DIR_OR_FILE")
    val.add_argument("--table", choices=["observations", "clients", "sessions", "items"],
                     help="which table a single file holds (default: from its name)")
    val.add_argument("--date-format", metavar="FORMAT",
                     help="strptime format of dates that are not YYYY-MM-DD, e.g. %%d/%%m/%%Y "
                          "(ISO dates are always accepted)")
    val.set_defaults(func=_validate)

    for module in ("reports.cli", "teaching", "ingest.cli"):
        _add_commands_from(module, sub)
    for name in MEASURES_COMMANDS:
        if name in sub.choices:
            _add_measures_option(sub.choices[name])
    return parser


def _add_measures_option(parser: argparse.ArgumentParser) -> None:
    """``--measures PATH`` on a command and every sub-command under it."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in subs:
        for child in action.choices.values():
            _add_measures_option(child)
    if not subs and not any("--measures" in a.option_strings for a in parser._actions):
        parser.add_argument("--measures", metavar="PATH",
                            help="the service's measures registry (TOML; default: measures.toml in "
                                 "the data folder, if there is one)")


def _data_folder(args: argparse.Namespace) -> Path | None:
    """The data folder a command reads or writes, where its measures.toml would sit."""
    if getattr(args, "data_dir", None):
        return Path(args.data_dir)
    if args.command == "validate":
        path = Path(args.path)
        return path if path.is_dir() else path.parent
    if args.command == "import":
        return Path(args.out) if getattr(args, "out", None) else None
    return None


def _use_measures(args: argparse.Namespace) -> None:
    """Load the service's measures for this command, and pass the file on to every process it
    starts (kernels inherit the environment; the batch also sends it with its data cache)."""
    from .measures import MEASURES_ENV, use_measures

    if args.command not in MEASURES_COMMANDS:
        return
    chosen = use_measures(_data_folder(args), getattr(args, "measures", None))
    if chosen is not None:
        os.environ[MEASURES_ENV] = str(chosen)
        if hasattr(args, "measures"):
            args.measures = str(chosen)


def _check_wording(args: argparse.Namespace) -> None:
    """Refuse a report or batch whose data folder has a wording.toml with a mistake, before
    anything renders (otherwise every report of a batch would fail on it), and name the file to
    every process the command starts (as the measures file is)."""
    if args.command not in ("report", "batch"):
        return
    from .reports.wording import WORDING_ENV, load_wording, wording_file

    chosen = wording_file(_data_folder(args))
    load_wording(chosen)
    if chosen is not None:
        os.environ[WORDING_ENV] = str(chosen)


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


def console() -> None:
    """The ``progress-kit`` command: :func:`main`, then exit with its code.

    A command that rendered its reports by forking from itself (``report``, ``batch``: engine
    "here") ends without Python's object-by-object teardown of the warmed heap, which took
    0.8 s of a 12 s batch and of a 3.7 s report: the exit handlers run (logging is flushed and
    closed, temporary folders removed), the standard streams are flushed, then the process
    exits. Every report file was already written, synced and closed by then. Anything else
    (and a Python without ``atexit._run_exitfuncs``) exits the usual way.
    """
    import atexit

    code = main()
    engine = sys.modules.get("progress_kit.reports.engine")
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if engine is None or not engine.warmed_here() or run_exit_handlers is None:
        sys.exit(code)
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or gone (a pipe whose reader left): nothing to add
            pass
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used as the console script's)."""
    from .reports.safe import log_to_stderr, stop_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    # messages and warnings through logging, masked; --quiet keeps only errors (issue 24, item 16)
    log_to_stderr(logging.INFO, warnings=not getattr(args, "quiet", False))
    from .measures import MEASURES_ENV, registry_state, restore_registry
    from .reports.wording import WORDING_ENV

    saved = registry_state(), os.environ.get(MEASURES_ENV), os.environ.get(WORDING_ENV)
    try:
        _use_measures(args)
        _check_wording(args)
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        log.error(f"progress-kit {args.command}: {exc}", extra=EXACT)
        return EXIT_USAGE if isinstance(exc, FileNotFoundError) else EXIT_FAILED
    finally:  # main() may be called again in one process (tests, a service's own scripts)
        stop_logging()
        restore_registry(saved[0])
        for name, value in ((MEASURES_ENV, saved[1]), (WORDING_ENV, saved[2])):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


if __name__ == "__main__":
    sys.exit(main())
