"""``progress-kit import fhir|redcap|wide|sql``: outside sources into a validated data folder."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

log = logging.getLogger("progress_kit.ingest.cli")
EXACT = {"exact": True}  # the command's own lines (paths, counts): not masked


def _recipe(value: str) -> str | Path:
    """A recipe file, or the name of a shipped recipe (``redcap_phq9_gad7``, ``novopsych`` ...)."""
    from .wide import recipe_path

    path = Path(value)
    return path if path.exists() or path.suffix else recipe_path(value)


def _read(args: argparse.Namespace):
    if args.source == "fhir":
        from .fhir import read_fhir

        return read_fhir([Path(p) for p in args.paths], errors="report")
    if args.source == "redcap":
        from .redcap import read_redcap

        return read_redcap(Path(args.records), recipe=_recipe(args.recipe), dictionary=args.dictionary,
                           errors="report")
    if args.source == "wide":
        from .wide import read_wide

        return read_wide(Path(args.table), _recipe(args.recipe), errors="report")
    from .sql import load_sql

    return load_sql(args.url, episode=args.episode, errors="report")


def _import(args: argparse.Namespace) -> int:
    from ..data import problems_to_text

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        log.error(f"progress-kit import: --out {out} is a file; give a folder to write the data "
                  "folder into (it is created when missing)", extra=EXACT)
        return EXIT_USAGE
    existing = [p.name for p in out.glob("*.csv")] if out.is_dir() else []
    if existing:
        log.error(f"progress-kit import: {out} already holds {', '.join(sorted(existing))}; "
                  "choose an empty folder", extra=EXACT)
        return EXIT_USAGE
    data = _read(args)
    try:
        data.write(out)
    except (FileExistsError, NotADirectoryError, PermissionError) as exc:
        log.error(f"progress-kit import: cannot write {out}: {exc.strerror or exc}", extra=EXACT)
        return EXIT_FAILED
    problems = data.problems
    errors = problems[problems["severity"] == "error"] if len(problems) else problems
    if len(problems):
        print(problems_to_text(problems))
    counts = (f"{len(data.observations)} observations, {len(data.items)} item answers, "
              f"{len(data.clients)} clients, {len(data.sessions)} sessions")
    skipped = int(data.skipped["count"].sum()) if len(data.skipped) else 0
    if skipped:
        counts += "; skipped (not a registered measure or no data): " + ", ".join(
            f"{r.source} {r.what}: {r.count}" for r in data.skipped.itertuples())
    log.info(f"wrote {out}: {counts}", extra=EXACT)
    if len(errors):
        log.error(f"{len(errors)} problem(s); the valid rows were written and every problem is "
                  f"in {out / 'problems.csv'}", extra=EXACT)
        return EXIT_FAILED
    return EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``progress-kit import`` (called by :mod:`progress_kit.cli`)."""
    imp = sub.add_parser("import", help="read FHIR, REDCap, wide exports or a database into a data folder",
                         description="Read an outside source into a validated data folder "
                                     "(observations, items, stub clients). Prints the counts; exits 1 "
                                     "listing the problems when there are any (the valid rows are "
                                     "still written, the problems go to problems.csv).")
    isub = imp.add_subparsers(dest="source", metavar="SOURCE", required=True)
    fhir = isub.add_parser("fhir", help="FHIR JSON resources, Bundles, NDJSON files or folders")
    fhir.add_argument("paths", nargs="+", metavar="PATH")
    redcap = isub.add_parser("redcap", help="a REDCap records export read through a recipe")
    redcap.add_argument("records", metavar="RECORDS")
    redcap.add_argument("--recipe", required=True,
                        help="recipe TOML, or a shipped recipe name (redcap_phq9_gad7)")
    redcap.add_argument("--dictionary", help="the project's data dictionary (CSV)")
    wide = isub.add_parser("wide", help="a one-row-per-administration export read through a recipe")
    wide.add_argument("table", metavar="TABLE")
    wide.add_argument("--recipe", required=True,
                      help="recipe TOML, or a shipped recipe name (openfit_ors_srs, novopsych)")
    sql = isub.add_parser("sql", help="tables observations, clients, sessions, items of a database")
    sql.add_argument("url", metavar="URL", help="SQLAlchemy URL, e.g. sqlite:///clinic.db")
    sql.add_argument("--episode", metavar="COLUMN",
                     help="the column holding the episode of care (e.g. referral_no) where it is "
                          "not called episode_id; the clients table must have it")
    for p in (fhir, redcap, wide, sql):
        p.add_argument("--out", required=True, metavar="DATA_DIR", help="folder to write (must hold "
                                                                         "no CSV files yet)")
        p.set_defaults(func=_import)
