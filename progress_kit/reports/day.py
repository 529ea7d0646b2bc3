"""A clinic day's session-preparation sheets: every client with a session booked that day.

``progress-kit report prep DATA_DIR --date YYYY-MM-DD [--therapist ID]`` (without ``--client``)
calls :func:`render_prep_day`. A booked session is a ``sessions`` row with ``attended`` empty
(:func:`progress_kit.booked_sessions`); it may be dated after the last
observation, even in the future. Each client gets the same one-page sheet as
``report prep --client`` (``prep/<client stem>-prep-<date>.*``), and the day gets one combined
PDF to print, ``prep/day-<date>.pdf`` (``prep/day-<date>-<therapist stem>.pdf`` with a
therapist), the sheets in client-ID order.

All the sheets are rendered by one process: it validates the data once (or reads them from the
private cache, :mod:`progress_kit.reports.diskcache`), computes the whole-clinic results every
sheet takes its row from (the expected-response model and the service-wide status as of the day
and as of each client's last session), then forks one child per sheet, as many at once as there
are cores (:func:`progress_kit.reports.engine.fork_each`). Without ``fork`` (not Linux), the
sheets are rendered one after the other in this process.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..data import ClinicData, booked_sessions
from .context import client_data_until, parse_day
from .files import claim_stems, month_lock, remove_stale, write_private
from .render import FORMATS, _abs, render_prep

__all__ = ["render_prep_day", "DayResult", "clients_booked"]


@dataclass
class DayResult:
    """What a day's run wrote: the combined PDF, each sheet's files, and what failed or was left out."""

    combined: Path | None
    files: dict[str, list[Path]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def clients_booked(data_dir: str | Path, clinic: ClinicData, date: str,
                   therapist_id: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The clients with a session booked on ``date`` (of ``therapist_id``), sorted, and the
    booked clients left out with the reason (no data in the folder).

    Raises ValueError for an unknown therapist, naming the therapists there.
    """
    parse_day(date)
    ids = sorted(set(booked_sessions(clinic, on=date)["client_id"]))
    if therapist_id is not None:
        known = set(clinic.clients["therapist_id"].dropna().astype(str))
        if therapist_id not in known:
            listed = ", ".join(sorted(known)[:10]) + (" ..." if len(known) > 10 else "")
            raise ValueError(f"therapist {therapist_id!r} has no clients in {data_dir}; "
                             f"therapists there: {listed or 'none'}")
        theirs = set(clinic.clients.loc[clinic.clients["therapist_id"].astype(str) == therapist_id,
                                        "client_id"])
        ids = [c for c in ids if c in theirs]
    have = set(clinic.observations["client_id"]) | set(clinic.clients["client_id"])
    skipped = {c: "a session is booked but the folder has no other data for this client"
               for c in ids if c not in have}
    return [c for c in ids if c in have], skipped


def prepare_day(clinic: ClinicData, date: str, clients: list[str], each: bool = False) -> None:
    """Compute, once, what the day's sheets derive from the whole clinic (library calls only).

    For each client's primary measure, the expected-response model; and the service-wide
    ``client_flags`` as of the day, kept by :func:`~progress_kit.reports.sections.common.shared`
    for this clinic, so that each sheet takes its own row. With ``each`` (one sheet), also the
    service-wide flags as of the client's last attended session (the "since" comparison); for a
    day, those differ per client and each sheet's process computes its own, side by side.
    """
    from . import sections as S
    from .notebook import _expected_for

    flags = S.common._stat("client_flags") is not None
    for client in clients:
        rd = client_data_until(clinic, client, date)
        measure = S.primary_measure(rd)
        if measure is None:
            continue
        _expected_for(clinic, measure)
        if flags:
            # the flags table judges every client on their own problem's measure: one per day
            for as_of in (rd.end, rd.start - pd.Timedelta(days=1))[:2 if each else 1]:
                S.service_flags(clinic, as_of)


def outcome_of(render, args: tuple, kwargs: dict) -> dict:
    """``render(*args, **kwargs)`` (a ``render_*`` function) as a fork child's outcome dict;
    never raises. The error names the notebook cell it stopped in; its numbers are masked (a
    message holds no score) except in the client ID and the paths among the arguments
    (:func:`~progress_kit.reports.render.failure_text`)."""
    from .render import failure_text

    t0 = time.perf_counter()
    keep = [str(k) for k in (*args, *kwargs.values()) if isinstance(k, str | Path) and k]
    try:
        res = render(*args, **kwargs)
        outcome = {"status": "ok", "files": [str(p) for p in res.files],
                   "seconds": time.perf_counter() - t0, "error": ""}
        if res.export is not None:  # the HTML and PDF are made by an exporter's child
            outcome["export"] = {**res.export, "keep": keep}
        return outcome
    except Exception as exc:  # noqa: BLE001 (one sheet's failure must not stop the day)
        return {"status": "failed", "files": [], "seconds": time.perf_counter() - t0,
                "error": failure_text(exc, keep)}


def _sheet(data_dir: str, client: str, date: str, out_dir: str, stem: str, formats: tuple,
           reference_dir: str | None, data_cache: str | None, date_format: str | None,
           notebook: str | None = None) -> dict:
    """Render one sheet (in a forked child); never raises."""
    return outcome_of(render_prep, (data_dir, client, date, out_dir),
                      {"formats": formats, "stem": stem, "reference_dir": reference_dir,
                       "data_cache": data_cache, "date_format": date_format, "notebook": notebook})


def combine_pdfs(parts: list[Path], target: Path) -> Path:
    """One PDF of ``parts``' pages in order, written privately and atomically."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(str(part))
    buf = io.BytesIO()
    writer.write(buf)
    return write_private(target, buf.getvalue())


def render_prep_day(data_dir: str | Path, date: str, out_dir: str | Path, *, clinic: ClinicData,
                    therapist_id: str | None = None, formats=FORMATS, reference_dir=None,
                    data_cache: str | Path | None = None, wait: float = 0.0,
                    jobs: int | None = None, date_format: str | None = None,
                    notebook: str | Path | None = None) -> DayResult:
    """Render the sheets of everyone booked on ``date`` into ``out_dir`` and the day's combined PDF.

    Parameters
    ----------
    data_dir : path
        The data folder (its sessions table holds the booked sessions).
    date : str
        The clinic day, YYYY-MM-DD.
    out_dir : path
        The prep folder (the command line passes ``OUT/prep``); it is locked while the day runs.
    clinic : ClinicData
        The folder's validated clinic (the command line's, from the cache or freshly validated);
        with ``data_cache``, the key under which report processes find it
        (:func:`~progress_kit.reports.context.preload`).
    therapist_id : str, optional
        Only this therapist's clients; the combined PDF is then ``day-<date>-<therapist stem>.pdf``.
    formats : iterable of {"html", "pdf"}
        Each sheet's formats; a PDF is always made, as the combined PDF is made of them.
    jobs : int, optional
        Sheets rendered at once (default: the number of cores).
    notebook : path, optional
        A prep notebook of your own instead of the built-in one (checked before any sheet).

    Returns
    -------
    DayResult
        Raises ValueError when nobody is booked that day (for that therapist).
    """
    from .resources import check_notebook

    t0 = time.perf_counter()
    parse_day(date)
    notebook = None if notebook is None else str(check_notebook(notebook, "prep"))
    clients, skipped = clients_booked(data_dir, clinic, date, therapist_id)
    if not clients:
        who = f" for therapist {therapist_id!r}" if therapist_id is not None else ""
        raise ValueError(f"no session is booked on {date}{who} in {data_dir} (a booked session "
                         f"is a sessions row with attended empty)"
                         + (f"; left out: {', '.join(skipped)}" if skipped else ""))
    formats = tuple(dict.fromkeys((*formats, "pdf")))
    out_dir = Path(out_dir)
    result = DayResult(None, skipped=skipped)
    with month_lock(out_dir, wait=wait, what="progress-kit report prep"):
        remove_stale(out_dir)
        stems = claim_stems(out_dir, clients)
        day_stem = f"day-{date}" if therapist_id is None else claim_stems(
            out_dir, [therapist_id], kind="therapist", prefix=f"day-{date}-")[therapist_id]
        args = {c: (_abs(data_dir), c, date, str(out_dir), f"{stems[c]}-prep-{date}",
                    formats, _abs(reference_dir), _abs(data_cache), date_format, notebook)
                for c in clients}
        for client, outcome in _render_all(args, clinic, date, jobs):
            if outcome["status"] == "ok":
                result.files[client] = [Path(f) for f in outcome["files"]]
            else:
                result.failed[client] = outcome["error"]
        sheets = [p for c in clients for p in result.files.get(c, []) if p.suffix == ".pdf"]
        if sheets:
            result.combined = combine_pdfs(sheets, out_dir / f"{day_stem}.pdf")
    result.seconds = time.perf_counter() - t0
    return result


def _render_all(args: dict[str, tuple], clinic: ClinicData, date: str, jobs: int | None):
    from .engine import fork_available, fork_each, warm_here

    forks = fork_available()
    if forks:  # warmed first: its demo-clinic results are then the first the cache lets go
        warm_here("prep" if len(args) > 1 else None)
    if all(a[6] is None for a in args.values()):  # the clinic is its own reference
        prepare_day(clinic, date, list(args), each=len(args) == 1)
    if forks:
        jobs = jobs or os.cpu_count() or 1
        yield from fork_each(((c, (_sheet, a)) for c, a in args.items()), jobs)
        return
    for client, a in args.items():  # no fork here: one after the other, in this process
        yield client, _sheet(*a)
