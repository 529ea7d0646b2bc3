"""The ``report`` and ``batch`` sub-commands (hooked into ``progress-kit`` by ``add_commands``)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

log = logging.getLogger("progress_kit.cli")
EXACT = {"exact": True}  # the CLI's own lines (counts, names, usage): not masked


def _formats(text: str) -> tuple[str, ...]:
    from .render import FORMATS

    out = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in out if f not in FORMATS]
    if bad or not out:
        raise argparse.ArgumentTypeError(f"formats are a comma-separated list of {', '.join(FORMATS)}")
    return out


def _month(text: str) -> str:
    from .context import last_full_month
    from .safe import parse_month

    if text == "last":
        return last_full_month()
    try:
        parse_month(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _data_dir(path: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"{p}: not a data folder")
    return p


def _hint(value: str, known) -> str:
    """' (did you mean ...?)' for a near miss among ``known``, else ''."""
    import difflib

    known = sorted({str(k) for k in known})
    close = difflib.get_close_matches(value, known, n=3, cutoff=0.6)
    close += [k for k in known if k.casefold() == value.casefold() and k not in close]
    return f" (did you mean {', '.join(repr(c) for c in close[:3])}?)" if close else ""


def _clean_errors(func):
    """Turn file-system and locking errors into one plain line and exit 1, never a traceback."""
    import functools

    from .files import FolderBusy
    from .resources import NotebookProblem

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            _check_notebooks(args)  # before any data are read or anything renders
            return func(args)
        except NotebookProblem as exc:
            log.error(f"progress-kit {args.command}: {exc}", extra=EXACT)
            return EXIT_USAGE
        except FolderBusy as exc:
            log.error(f"progress-kit {args.command}: {exc}", extra=EXACT)
            return EXIT_FAILED
        except FileNotFoundError:
            raise  # the CLI's own handler: a usage error
        except OSError as exc:
            what = f"{exc.filename}: " if exc.filename else ""
            reason = exc.strerror or str(exc)
            hint = (" (check that the output folder exists and that you may write in it)"
                    if isinstance(exc, PermissionError | IsADirectoryError | NotADirectoryError)
                    else "")
            log.error(f"progress-kit {args.command}: cannot write the reports: {what}{reason}{hint}",
                      extra=EXACT)
            return EXIT_FAILED

    return run


def _check_notebooks(args: argparse.Namespace) -> None:
    """Refuse a notebook of the user's (``--notebook``, ``--client-notebook``,
    ``--cohort-notebook``) whose parameters the kit cannot set; keep its checked path."""
    from .resources import check_notebook

    kind = getattr(args, "kind", None)
    for option, nb_kind in (("notebook", kind), ("client_notebook", "client"),
                            ("cohort_notebook", "cohort")):
        path = getattr(args, option, None)
        if path is not None:
            setattr(args, option, str(check_notebook(path, nb_kind)))


def _load(data_dir: Path, date_format: str | None):
    from .context import load_clinic

    return load_clinic(data_dir, date_format=date_format)


def _rejected(clinic, client: str | None = None) -> str:
    """How many rows validation rejected (of ``client``, or in the whole folder), and how many
    for their dates with the --date-format hint; '' when none. Counts only: a problem's text can
    hold a score, and this goes to the log (``progress-kit validate`` prints the rows)."""
    p = clinic.problems
    p = p[p["severity"] == "error"] if len(p) else p
    if client is not None and "client_id" in p.columns:
        p = p[p["client_id"] == client]
    if not len(p):
        return ""
    dated = int(p["column"].isin(["date", "start_date", "end_date"]).sum())
    return (f"validation rejected {len(p)} row(s)"
            + (f", {dated} of them for their dates (day-first dates need --date-format %d/%m/%Y)"
               if dated else "") + "; progress-kit validate lists them")


def _client_known(clinic, data_dir: Path, client: str, command: str) -> bool:
    """True when the data folder has ``client``; else says so on stderr, with the rows of that
    client that validation rejected (e.g. day-first dates) or a near match."""
    known = set(clinic.clients["client_id"]) | set(clinic.observations["client_id"])
    if client in known:
        return True
    rejected = _rejected(clinic, client)
    if rejected:
        log.error(f"progress-kit {command}: client {client!r} has no valid rows in {data_dir}: "
                  f"{rejected}", extra=EXACT)
        return False
    log.error(f"progress-kit {command}: client {client!r} is not in {data_dir}{_hint(client, known)}",
              extra=EXACT)
    return False


def _checked_out(folder: Path, root: str) -> Path:
    """``folder`` after checking that nobody else can write it or its parents up to ``root``
    (the render functions check the folder they lock; the CLI knows the whole tree)."""
    from .files import check_private_folder

    check_private_folder(folder, Path(root))
    return folder


def _warm_clinic(data_dir: Path, date_format: str | None = None):
    """This command's validated clinic and the ``data_cache`` its reports find it under.

    The command line's warm path (docs/performance.md, round five): the clinic comes from the
    private on-disk cache when its key matches (:mod:`.diskcache`), else it is validated and
    cached; reports then run in this process (:func:`.engine.warm_here`) on this very object.
    """
    import datetime as dt

    from .context import load_clinic, preload
    from .diskcache import ClinicCache

    cache = ClinicCache(data_dir, options=f"today={dt.date.today().isoformat()}\x1f"
                                          f"date_format={date_format}")
    clinic = cache.load()
    if clinic is None:
        clinic = load_clinic(data_dir, date_format=date_format)
    if cache.path is not None and not cache.problem:
        preload(cache.path, clinic)
    return clinic, cache


@contextmanager
def _exporting(formats) -> Iterator:
    """A warm process for this command's HTML and PDF (:class:`.engine.Exporter`), or None.

    Started before the data are read (it holds none) where it can run beside this process: on
    Linux (fork) with two cores or more, and with HTML or PDF to make. It warms nbconvert and
    WeasyPrint up while this process reads the data and runs the notebook; ended on the way out
    (at once if it was given nothing)."""
    import os

    from .engine import start_exporter

    exporter = start_exporter(formats) if (os.cpu_count() or 1) >= 2 else None
    try:
        yield exporter
    finally:
        if exporter is not None:
            exporter.close()


def _render_one(render, prepare, *args, exporter=None, **kwargs):
    """``render(*args, **kwargs)`` in a child forked from this warm process (one report); with
    an ``exporter`` (:func:`_exporting`), the child runs the notebook and the exporter's child
    makes the HTML and PDF.

    ``prepare()`` first computes, here, the whole-clinic results the report takes its row from
    (so that the cache keeps them for the next command). Returns the files written; raises
    RuntimeError with the report's error (numbers masked: a message holds no score) when it
    failed. Without ``fork`` (not Linux), renders here with a Jupyter kernel.
    """
    from .engine import fork_available, fork_each, warm_here

    try:
        prepare()
    except Exception:  # noqa: BLE001, S110 (as in the batch: the report then computes them
        pass  # itself and reports any error in its own process)
    if not fork_available():
        return render(*args, **kwargs).files

    def task():
        from .day import outcome_of

        return outcome_of(render, args, kwargs)

    warm_here()
    # with an exporter, the child runs the notebook only and the exporter's child makes the rest
    (_, outcome), = fork_each([(None, (task, ()))], jobs=1, exporter=exporter)
    if outcome["status"] != "ok":
        raise RuntimeError(outcome["error"])
    return [Path(f) for f in outcome["files"]]


def _keep(cache, clinic) -> None:
    """Save the clinic and its whole-clinic results computed by this command, if any are new."""
    if cache.path is not None and not cache.problem:
        cache.save(clinic, only_if_new=True)


def _cache_param(cache):
    return cache.path if cache.path is not None and not cache.problem else None


def data_end(clinic) -> pd.Timestamp | None:
    """The last day with an observation or a held session (booked sessions do not count)."""
    dates = pd.concat([clinic.observations["date"], clinic.sessions["date"]])
    last = dates.max() if len(dates) else None
    return None if last is None or pd.isna(last) else pd.Timestamp(last)


def _month_has_data(clinic, month: str, command: str, allow_empty: bool) -> bool:
    """False (and why, on stderr) for a month that starts after the data end, unless allowed."""
    from .safe import parse_month

    if allow_empty:
        return True
    start, _ = parse_month(month)
    last = data_end(clinic)
    if last is not None and start <= last:
        return True
    where = (f"the data end on {last:%Y-%m-%d} (the last month with data is {last:%Y-%m})"
             if last is not None else "the data folder holds no dated rows")
    rejected = _rejected(clinic)
    log.error(f"progress-kit {command}: {month} is after the data: {where}. Choose another "
              f"--month, or pass --allow-empty to render it anyway"
              + (f"; {rejected}" if rejected else ""), extra=EXACT)
    return False


@_clean_errors
def _report_client(args: argparse.Namespace) -> int:
    from .render import render_client

    data_dir = _data_dir(args.data_dir)
    with _exporting(args.format) as exporter:
        clinic, cache = _warm_clinic(data_dir, args.date_format)
        if (not _client_known(clinic, data_dir, args.client, "report client")
                or not _month_has_data(clinic, args.month, "report client", args.allow_empty)):
            return EXIT_FAILED
        from .notebook import prepare_batch

        out = _checked_out(Path(args.out) / args.month / "clients", args.out)
        prepare = ((lambda: prepare_batch(clinic, args.month)) if args.reference is None
                   else (lambda: None))
        return _render_printed(args, data_dir, clinic, cache, render_client, prepare, args.month,
                               lambda: out, "client", exporter)


def _render_printed(args: argparse.Namespace, data_dir: Path, clinic, cache, render, prepare,
                    when: str, out, kind: str, exporter=None) -> int:
    """One client's page rendered from this warm process; the files printed, a failure logged.
    ``out()`` gives the output folder (checked inside, so the cache is kept either way)."""
    try:
        files = _render_one(render, prepare, data_dir, args.client, when, out(),
                            exporter=exporter, formats=args.format,
                            reference_dir=args.reference, wait=args.wait,
                            data_cache=_cache_param(cache), date_format=args.date_format,
                            notebook=args.notebook)
    except RuntimeError as exc:
        log.error(f"progress-kit report {kind}: failed: {args.client}: {exc}", extra=EXACT)
        return EXIT_FAILED
    finally:
        _keep(cache, clinic)
    print("\n".join(str(f) for f in files))
    return EXIT_OK


def _day(text: str) -> str:
    from .context import parse_day

    try:
        parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


@_clean_errors
def _report_prep(args: argparse.Namespace) -> int:
    from .render import render_prep

    data_dir = _data_dir(args.data_dir)
    if args.client is None:
        return _report_prep_day(args, data_dir)
    if args.therapist is not None:
        log.error("progress-kit report prep: --therapist chooses a day's clients; leave it out "
                  "with --client", extra=EXACT)
        return EXIT_USAGE
    return _one_sheet(args, data_dir, render_prep, "prep")


def _one_sheet(args: argparse.Namespace, data_dir: Path, render, kind: str) -> int:
    """One client's sheet of ``kind`` (prep or share) for ``--date``, warmed in this process."""
    from .day import prepare_day

    with _exporting(args.format) as exporter:
        clinic, cache = _warm_clinic(data_dir, args.date_format)
        if not _client_known(clinic, data_dir, args.client, f"report {kind}"):
            return EXIT_FAILED
        prepare = ((lambda: prepare_day(clinic, args.date, [args.client], each=True))
                   if args.reference is None else (lambda: None))
        return _render_printed(args, data_dir, clinic, cache, render, prepare, args.date,
                               lambda: _checked_out(Path(args.out) / kind, args.out), kind,
                               exporter)


def _report_prep_day(args: argparse.Namespace, data_dir: Path) -> int:
    """Every client booked on ``--date`` (of ``--therapist``): one sheet each, one PDF to print."""
    from .day import render_prep_day

    # no exporter here (as for one sheet): on 8 sheets the second process per sheet cost as much
    # CPU as the warm-up on both cores saved (docs/performance.md, round five, fifth session)
    clinic, cache = _warm_clinic(data_dir, args.date_format)
    try:
        res = render_prep_day(data_dir, args.date, _checked_out(Path(args.out) / "prep", args.out),
                              clinic=clinic,
                              therapist_id=args.therapist, formats=args.format,
                              reference_dir=args.reference, data_cache=_cache_param(cache),
                              wait=args.wait, date_format=args.date_format,
                              notebook=args.notebook)
    except ValueError as exc:
        log.error(f"progress-kit report prep: {exc}", extra=EXACT)
        return EXIT_FAILED
    _keep(cache, clinic)
    for client, why in res.skipped.items():
        log.warning(f"progress-kit report prep: left out {client}: {why}", extra=EXACT)
    for client, error in res.failed.items():
        log.error(f"progress-kit report prep: failed: {client}: {error}", extra=EXACT)
    n = len(res.files)
    log.info(f"{n} sheet(s) for {args.date} in {res.seconds:.0f} s", extra=EXACT)
    for files in res.files.values():
        print("\n".join(str(f) for f in files))
    if res.combined is not None:
        print(res.combined)
    return EXIT_FAILED if res.failed else EXIT_OK


@_clean_errors
def _report_share(args: argparse.Namespace) -> int:
    from .render import render_share

    data_dir = _data_dir(args.data_dir)
    if args.client is None:
        log.error("progress-kit report share: --client is required", extra=EXACT)
        return EXIT_USAGE
    return _one_sheet(args, data_dir, render_share, "share")


@_clean_errors
def _report_cohort(args: argparse.Namespace) -> int:
    from .render import render_cohort

    data_dir = _data_dir(args.data_dir)
    clinic = _load(data_dir, args.date_format)
    if not _month_has_data(clinic, args.month, "report cohort", args.allow_empty):
        return EXIT_FAILED
    if args.therapist is not None:
        known = set(clinic.clients["therapist_id"].dropna().astype(str))
        if args.therapist not in known:
            listed = ", ".join(sorted(known)[:10]) + (" ..." if len(known) > 10 else "")
            log.error(f"progress-kit report cohort: therapist {args.therapist!r} has no clients in "
                      f"{data_dir}{_hint(args.therapist, known)}; therapists there: "
                      f"{listed or 'none'}", extra=EXACT)
            return EXIT_FAILED
    del clinic
    out = _checked_out(Path(args.out) / args.month, args.out)
    res = render_cohort(data_dir, args.month, out, formats=args.format, therapist_id=args.therapist,
                        wait=args.wait, audience=args.audience, date_format=args.date_format,
                        notebook=args.notebook)
    print("\n".join(str(f) for f in res.files))
    return EXIT_OK


@_clean_errors
def _batch(args: argparse.Namespace) -> int:
    from .batch import run_batch
    from .engine import fork_available

    data_dir = _data_dir(args.data_dir)
    # the command's own process exists for the batch: it is the warm process the reports fork
    # from (engine "here", docs/performance.md round five), where fork is available
    engine = "here" if args.engine == "auto" and fork_available() else args.engine
    res = run_batch(data_dir, args.month, args.out, jobs=args.jobs, formats=args.format,
                    force=args.force, progress=not args.quiet, reference_dir=args.reference,
                    engine=engine, scheduler=args.scheduler, allow_empty=args.allow_empty,
                    wait=args.wait, audience=args.audience, measures=getattr(args, "measures", None),
                    date_format=args.date_format, client_notebook=args.client_notebook,
                    cohort_notebook=args.cohort_notebook)
    m = res.manifest
    counts = ", ".join(f"{n} {s}" for s, n in sorted(res.counts.items()))
    log.info(f"{len(m)} report(s) for {args.month} in {res.seconds:.0f} s: {counts}", extra=EXACT)
    for _, row in m[m["status"] == "failed"].iterrows():
        log.error(f"  failed: {row['client']}: {row['error']}", extra=EXACT)
    print(f"reports are in {res.folder} (manifest: {res.folder / 'manifest.csv'})")
    return EXIT_FAILED if res.failed else EXIT_OK


def _report_new(args: argparse.Namespace) -> int:
    """``report new KIND DEST``: an editable copy of a built-in notebook, and what to do next."""
    from .resources import new_notebook

    try:
        dest = new_notebook(args.template, args.dest)
    except FileExistsError:
        log.error(f"progress-kit report new: {args.dest} already exists; it is left as it is. "
                  f"Choose another file name, or delete it first", extra=EXACT)
        return EXIT_FAILED
    except OSError as exc:
        log.error(f"progress-kit report new: cannot write {args.dest}: {exc.strerror or exc}",
                  extra=EXACT)
        return EXIT_FAILED
    kind = args.template
    when = "--month YYYY-MM" if kind in ("client", "cohort") else "--date YYYY-MM-DD"
    who = "" if kind == "cohort" else " --client ID"
    batch = ({"client": "--client-notebook", "cohort": "--cohort-notebook"}.get(kind))
    lines = [f"wrote {dest}: an editable copy of the built-in {kind} report; each code cell is "
             f"one step (one section).",
             "next:",
             f"  1. open it in JupyterLab (jupyter lab {dest}) and run it as it is: it shows the "
             f"built-in demo clinic",
             "  2. change it: delete a cell to drop its section, add one of your own "
             "(docs/reports.md, 'Write your own report')",
             f"  3. render it: progress-kit report {kind} DATA_DIR{who} {when} --notebook {dest}"]
    if batch:
        lines.append(f"     or every report of a month: progress-kit batch DATA_DIR --month YYYY-MM "
                     f"{batch} {dest}")
    print("\n".join(lines))
    return EXIT_OK


def _notebook_option(parser, kind: str) -> None:
    parser.add_argument("--notebook", metavar="PATH",
                        help=f"render your own {kind} notebook instead of the built-in one (start "
                             f"from 'progress-kit report new {kind} PATH'); same engine, template, "
                             f"names and privacy; its parameters are checked first (exit 2)")


def _audience_option(parser) -> None:
    parser.add_argument("--audience", choices=["internal", "publication"], default="internal",
                        help="cohort report audience: internal (default; exact counts, names clients "
                             "to review) or publication (NHS Digital rules: <5 as *, others rounded "
                             "to 5, no client named; files published-cohort*)")


def _date_format_option(parser) -> None:
    parser.add_argument("--date-format", metavar="FORMAT",
                        help="strptime format of dates that are not YYYY-MM-DD, e.g. %%d/%%m/%%Y "
                             "(ISO dates are always accepted), as for validate")


def _allow_empty_option(parser) -> None:
    parser.add_argument("--allow-empty", action="store_true",
                        help="render a month after the data's last day anyway (otherwise the "
                             "report says where the data end and exits 1)")


def add_commands(sub) -> None:
    """Add ``report client``, ``report cohort`` and ``batch`` to the CLI's sub-parsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("data_dir", metavar="DATA_DIR")
    common.add_argument("--month", required=True, type=_month,
                        help="the report month, YYYY-MM (or 'last': the last full month)")
    common.add_argument("--format", type=_formats, default=("html", "pdf"),
                        help="comma-separated: html,pdf (default both; the executed notebook is "
                             "always kept)")
    common.add_argument("--out", default="reports", help="output folder (default: reports)")
    common.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="if another run is writing the same month folder, wait up to this "
                             "long for it (default 0: refuse at once)")
    _date_format_option(common)

    report = sub.add_parser("report", help="render one client's or the cohort's monthly report")
    kinds = report.add_subparsers(dest="kind", metavar="KIND", required=True)
    client = kinds.add_parser("client", parents=[common], help="one client's report",
                              description="Render one client's report to "
                                          "OUT/YYYY-MM/clients/<safe id>.html|.pdf|.ipynb.")
    client.add_argument("--client", required=True, metavar="ID", help="the client ID (text)")
    client.add_argument("--reference", metavar="DIR",
                        help="data folder of reference clients for the expected course")
    _allow_empty_option(client)
    _notebook_option(client, "client")
    client.set_defaults(func=_report_client)
    cohort = kinds.add_parser("cohort", parents=[common], help="the service (cohort) report",
                              description="Render the cohort report to OUT/YYYY-MM/cohort.*")
    cohort.add_argument("--therapist", metavar="ID", help="only this therapist's clients")
    _audience_option(cohort)
    _allow_empty_option(cohort)
    _notebook_option(cohort, "cohort")
    cohort.set_defaults(func=_report_cohort)
    day = argparse.ArgumentParser(add_help=False)
    day.add_argument("data_dir", metavar="DATA_DIR")
    day.add_argument("--client", metavar="ID", help="the client ID (text); report prep without "
                     "it: every client with a session booked on --date")
    day.add_argument("--date", required=True, type=_day, help="the session date, YYYY-MM-DD")
    day.add_argument("--format", type=_formats, default=("html", "pdf"),
                     help="comma-separated: html,pdf (default both; the executed notebook is kept)")
    day.add_argument("--out", default="reports", help="output folder (default: reports)")
    day.add_argument("--reference", metavar="DIR",
                     help="data folder of reference clients for the expected course")
    day.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                     help="if another run is writing the folder, wait up to this many seconds")
    _date_format_option(day)
    prep = kinds.add_parser("prep", parents=[day],
                            help="session-preparation sheets: one client's, or a clinic day's",
                            description="Render a one-page sheet for the next session to "
                                        "OUT/prep/<safe id>-prep-YYYY-MM-DD.html|.pdf|.ipynb. "
                                        "Without --client: a sheet for every client with a "
                                        "session booked on --date (a sessions row with attended "
                                        "empty), plus OUT/prep/day-YYYY-MM-DD.pdf (with "
                                        "--therapist: day-YYYY-MM-DD-<therapist>.pdf) holding "
                                        "them all, to print.")
    prep.add_argument("--therapist", metavar="ID",
                      help="without --client: only this therapist's booked clients")
    _notebook_option(prep, "prep")
    prep.set_defaults(func=_report_prep)
    share = kinds.add_parser("share", parents=[day], help="the client's own one-page summary",
                             description="Render one A4 page for the client to keep or bring to "
                                         "the session (plain words, no item answers, no clinician "
                                         "labels) to OUT/share/<safe id>-share-YYYY-MM-DD."
                                         "html|.pdf|.ipynb.")
    _notebook_option(share, "share")
    share.set_defaults(func=_report_share)
    new = kinds.add_parser("new", help="write an editable copy of a built-in report notebook",
                           description="Write an editable copy of the built-in client, cohort, "
                                       "prep or share notebook to DEST (never overwriting a file); "
                                       "render it with --notebook (report) or --client-notebook / "
                                       "--cohort-notebook (batch).")
    new.add_argument("template", choices=["client", "cohort", "prep", "share"], metavar="KIND",
                     help="client, cohort, prep or share")
    new.add_argument("dest", metavar="DEST.ipynb", help="the new notebook's file")
    new.set_defaults(func=_report_new)

    batch = sub.add_parser("batch", parents=[common], help="every client report for a month + cohort",
                           description="Render a report for every client with activity in the "
                                       "month and the cohort report; skips up-to-date reports "
                                       "unless --force. Exit 1 if any report failed.")
    batch.add_argument("--jobs", type=int, default=1, help="reports rendered in parallel (default 1)")
    batch.add_argument("--force", action="store_true", help="re-render up-to-date reports too")
    batch.add_argument("--engine", choices=["auto", "fork", "kernel"], default="auto",
                       help="fork: warm workers fork a process per report (fast; Linux); kernel: a "
                            "fresh Jupyter kernel per report (default auto: fork where available)")
    batch.add_argument("--scheduler", metavar="ADDRESS|local",
                       help="render on a Dask distributed cluster: a scheduler address "
                            "(tcp://host:8786) or 'local' for a LocalCluster of --jobs workers; "
                            "workers must see the data and output folders")
    batch.add_argument("--quiet", action="store_true",
                       help="no progress bar, and no Python warnings (numpy's, say) on stderr")
    _audience_option(batch)
    batch.add_argument("--allow-empty", action="store_true",
                       help="render the month even if no client has any activity in it (otherwise "
                            "the batch says where the data end and exits 1)")
    batch.add_argument("--reference", metavar="DIR", help="reference data for the expected course")
    batch.add_argument("--client-notebook", metavar="PATH",
                       help="your own client report notebook for every client (from 'progress-kit "
                            "report new client PATH'); checked first (exit 2)")
    batch.add_argument("--cohort-notebook", metavar="PATH",
                       help="your own cohort report notebook (from 'progress-kit report new "
                            "cohort PATH'); checked first (exit 2)")
    batch.set_defaults(func=_batch)
