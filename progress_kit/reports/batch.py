"""The monthly batch: one report per client with activity in the month, plus the cohort report.

The data folder is read and validated once; every report then reads that validated copy (a cache
file passed to the notebook as a path parameter) in its own fresh kernel, so reports share no
state. One report's failure never stops the others. ``manifest.csv`` records, per report, the
status, the files, the seconds taken, a short error (numbers masked: logs hold no scores) and a
fingerprint of everything the report depends on, and the SHA-256 of each file; a re-run skips a
report whose fingerprint is unchanged and whose files still have those hashes, unless ``force``.
The month folder is locked while a batch runs, and the manifest is rewritten after every report,
so a killed batch resumes where it stopped (docs/security.md).
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import hashlib
import logging
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import __version__
from ..measures import registry_state, restore_registry, use_measures
from .context import (
    clients_active_in,
    files_digest,
    input_files,
    last_full_month,
    load_clinic,
    write_cache,
)
from .files import (
    claim_stems,
    is_regular,
    month_lock,
    private_dir,
    private_file,
    remove_stale,
    remove_tree,
)
from .render import FAILED_DIR, FORMATS, failure_text, render_client, render_cohort
from .resources import check_notebook, notebook_path, template_dir
from .safe import csv_cell, csv_uncell, mask_numbers, parse_month

__all__ = ["run_batch", "BatchResult", "MANIFEST_COLUMNS", "EmptyMonth"]

MANIFEST_COLUMNS = ["client", "kind", "status", "files", "seconds", "error", "fingerprint", "sha256"]
_NEEDED = ["client", "kind", "status", "files", "fingerprint"]
COHORT = "(cohort)"
PUBLISHED_COHORT = "(published cohort)"
# the documented names (docs/security.md): a publication run never replaces the internal report
COHORT_STEMS = {"internal": "cohort", "publication": "published-cohort"}

log = logging.getLogger(__name__)


class EmptyMonth(ValueError):
    """No client has any activity in the requested month."""


@dataclass
class BatchResult:
    folder: Path
    manifest: pd.DataFrame
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)


def _code_digest() -> str:
    """The kit version, its Python sources, both notebooks and the template: a change to any
    re-renders everything (a fixed formula must not leave stale reports marked up to date)."""
    package = Path(__file__).resolve().parents[1]
    parts = [notebook_path("client"), notebook_path("cohort"),
             *sorted((template_dir() / "clinical").iterdir()),
             *sorted(package.rglob("*.py")), package / "measures.toml"]
    return hashlib.sha256((__version__ + files_digest(parts)).encode()).hexdigest()


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _mask(message: str, keep=()) -> str:
    """A short, single-line error with every number masked, so a log never holds a score
    (paths, file names, line numbers, measure names and ``keep`` stay readable)."""
    return mask_numbers(message, keep)


def _task(kind: str, client: str | None, stem: str, data_dir: str, cache: str, month: str,
          out_dir: str, formats: tuple[str, ...], reference_dir: str | None,
          audience: str = "internal", notebook: str | None = None) -> dict:
    """Render one report; never raises (the batch goes on). A failure's error names the
    notebook cell it stopped in, numbers masked (:func:`~.render.failure_text`)."""
    t0 = time.perf_counter()
    try:
        if kind == "client":
            res = render_client(data_dir, client, month, out_dir, formats=formats, stem=stem,
                                reference_dir=reference_dir, data_cache=cache, notebook=notebook)
        else:
            res = render_cohort(data_dir, month, out_dir, formats=formats, data_cache=cache,
                                stem=stem, audience=audience, notebook=notebook)
        files = [str(p) for p in res.files]
        outcome = {"status": "ok", "files": files, "seconds": time.perf_counter() - t0, "error": ""}
        if res.export is not None:  # the HTML and PDF are made by the batch's exporter
            outcome["export"] = {**res.export, "keep": _kept(client, data_dir, out_dir,
                                                             reference_dir, notebook)}
        return outcome
    except Exception as exc:  # one report's failure must not stop the batch
        keep = _kept(client, data_dir, out_dir, reference_dir, notebook)
        return {"status": "failed", "files": [], "seconds": time.perf_counter() - t0,
                "error": failure_text(exc, keep)}


def _kept(*texts) -> list[str]:
    """What a failure's message may show unmasked (the paths and the ID it names)."""
    return [k for k in texts if k]


def _check_manifest_path(path: Path) -> bool:
    """True if a manifest exists; a clear error if something else sits at its name."""
    if not path.exists() and not path.is_symlink():
        return False
    if not is_regular(path):
        raise ValueError(f"{path} is not a regular file (a folder or a link?); move it away, "
                         f"then run the batch again")
    return True


def _read_manifest(path: Path) -> dict[tuple[str, str], dict]:
    """The previous run's rows by (kind, client); a clear error for anything unreadable."""
    if not _check_manifest_path(path):
        return {}
    try:
        old = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} cannot be read as a manifest ({_mask(str(exc))}); delete it or "
                         f"run with --force to render every report again") from None
    missing = [c for c in _NEEDED if c not in old.columns]
    if missing:
        header = ",".join(map(str, old.columns))[:120]
        hint = " It looks ';'-separated (saved by a spreadsheet?)." if ";" in header else ""
        raise ValueError(f"{path} is not a progress-kit manifest: no column(s) "
                         f"{', '.join(missing)} in its header {header!r}.{hint} Delete it or run "
                         f"with --force to render every report again")
    old = old.map(csv_uncell)
    return {(r["kind"], r["client"]): r for r in old.to_dict("records")}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _hashes(folder: Path, files: list[str]) -> list[str] | None:
    """SHA-256 of each file (relative to ``folder``); None if any is missing or not a file."""
    out = []
    for name in files:
        path = folder / name
        if not is_regular(path):
            return None
        out.append(_sha256(path))
    return out


def _up_to_date(prev: dict | None, fp: str, expected: list[str], folder: Path) -> bool:
    """The previous row vouches for these files: same fingerprint, same files, same contents."""
    if not prev or prev.get("fingerprint") != fp or prev.get("status") not in ("ok", "up to date"):
        return False
    files = [f for f in str(prev.get("files", "")).split(";") if f]
    if sorted(files) != sorted(expected):
        return False
    recorded = [h for h in str(prev.get("sha256", "")).split(";") if h]
    return len(recorded) == len(files) and _hashes(folder, files) == recorded


def _expected_files(kind: str, stem: str, formats: tuple[str, ...]) -> list[str]:
    where = "clients/" if kind == "client" else ""
    return [f"{where}{stem}.{ext}" for ext in ("ipynb", *formats)]


def run_batch(data_dir: str | Path, month: str, out: str | Path = "reports", *, jobs: int = 1,
              formats=FORMATS, force: bool = False, progress: bool = True,
              reference_dir: str | Path | None = None, clients: list[str] | None = None,
              engine: str = "auto", scheduler: str | None = None, allow_empty: bool = False,
              wait: float = 0.0, audience: str = "internal",
              measures: str | Path | None = None,
              date_format: str | None = None, client_notebook: str | Path | None = None,
              cohort_notebook: str | Path | None = None) -> BatchResult:
    """Render every client report for ``month`` and the cohort report.

    Parameters
    ----------
    data_dir : path
        The data folder (validated once; invalid rows are left out and listed in each client's
        data-quality box).
    month : str
        ``YYYY-MM``, or ``"last"`` for the last full calendar month.
    out : path
        Reports go to ``out/YYYY-MM/clients/<stem>.html|.pdf|.ipynb``,
        ``out/YYYY-MM/cohort.*`` (``published-cohort.*`` with ``audience="publication"``, beside
        and never replacing the internal one) and ``out/YYYY-MM/manifest.csv``. A client's stem is its ID
        when that is a safe file name, else a cleaned ID with a hash
        (:func:`~progress_kit.reports.files.claim_stems`); the manifest says which file is
        whose.
    jobs : int
        Reports rendered at the same time (each in its own process and kernel).
    force : bool
        Render even reports that are up to date.
    clients : list of str, optional
        Only these clients (default: every client with an observation or session in the
        month). Rows of other clients already in the manifest are kept.
    audience : {"internal", "publication"}
        Audience of the cohort report (client reports are always internal).
    engine : {"auto", "fork", "kernel"}
        ``"fork"``: warm worker processes fork one child per report and run the notebook in it
        (:mod:`progress_kit.reports.engine`; Linux). ``"kernel"``: a fresh Jupyter kernel per
        report. ``"auto"`` (default) takes ``"fork"`` where it is available. Both give the same
        reports and the same isolation; the fork server is several times faster. ``"here"``
        (the command line's choice, where ``fork`` exists): this process warms itself and forks
        each report from itself (:func:`~progress_kit.reports.engine.fork_each`), saving the
        workers' own start-up; only for a process that exists for the batch, since the reports
        would inherit its state. With ``jobs`` of 2 or more (and HTML or PDF to make), the
        HTML and PDF are made by a second warm process forked before the data are read
        (:class:`~progress_kit.reports.engine.Exporter`), one child per report there too.
    scheduler : str, optional
        Render on a Dask distributed cluster instead: a scheduler address (``tcp://host:8786``)
        or ``"local"`` for a ``LocalCluster`` of ``jobs`` single-threaded worker processes. Each
        report is one task, run in a fresh kernel on a worker; the workers must see the data
        folder and the output folder at the same paths (see docs/scaling.md).
    allow_empty : bool
        Render the month even when no client has any activity in it (otherwise
        :class:`EmptyMonth`, a ``ValueError``, says where the data end).
    date_format : str, optional
        A ``strptime`` format for dates that are not ISO days (``"%d/%m/%Y"``), as for
        :func:`progress_kit.load_data`.
    wait : float
        Seconds to wait for another run writing the same month folder (default 0: refuse at
        once with :class:`~progress_kit.reports.files.FolderBusy`).
    measures : path, optional
        The service's measures file (default: ``measures.toml`` in ``data_dir`` when there is
        one, or ``$PROGRESS_KIT_MEASURES``). It validates the data and reaches every report
        process with the data cache; editing it re-renders every report. The caller's registry
        is restored afterwards.
    client_notebook, cohort_notebook : path, optional
        Notebooks of your own for the client reports and the cohort report (``progress-kit
        report new``), rendered exactly as the built-in ones are: same engines, template, file
        names, locks, file modes and manifest. Their parameters are checked before anything
        renders (:func:`~progress_kit.reports.resources.check_notebook`: a
        :class:`~progress_kit.reports.resources.NotebookProblem` names the file and the
        parameter). A client notebook is given only its client's page, prepared by the kit,
        never the data folder. A notebook's contents are part of each report's fingerprint: an
        edited notebook re-renders its reports. A notebook that fails is a failed row with the
        cell it stopped in; the batch goes on.

    Notes
    -----
    Safety (docs/security.md): the month folder is locked for the whole run; files are written
    privately and atomically; stale temp files and data caches of killed runs are removed at
    the start; every finished report is recorded at once, so a killed batch resumes where it
    stopped; a report is skipped only when its fingerprint matches and its files still have the
    SHA-256 recorded in the manifest.
    """
    if engine not in ("auto", "fork", "kernel", "here"):
        raise ValueError(f"engine must be 'auto', 'fork', 'kernel' or 'here', not {engine!r}")
    notebooks = {kind: str(check_notebook(path, kind)) for kind, path in
                 (("client", client_notebook), ("cohort", cohort_notebook)) if path is not None}
    started = time.perf_counter()
    month = last_full_month() if month == "last" else month
    parse_month(month)
    formats = tuple(formats)
    data_dir = Path(data_dir).resolve()
    root = Path(out).resolve()
    folder = root / month
    clients_dir = folder / "clients"
    # started before the data are read, so that it holds none of them (engine "here" only)
    exporter = _start_exporter(engine, jobs, formats, scheduler)
    try:
        # a folder another account can write could have its data cache swapped while reports
        # run: refused, with the reports root above it (docs/security.md, "Shared folders")
        with month_lock(folder, wait=wait, what="progress-kit batch", root=root), \
                month_lock(clients_dir, wait=wait, what="progress-kit batch", root=root):
            remove_stale(folder, clients_dir, folder / FAILED_DIR, clients_dir / FAILED_DIR)
            manifest_path = folder / "manifest.csv"
            _check_manifest_path(manifest_path)  # checked before anything is rendered
            old = {} if force else {**_read_manifest(manifest_path), **_read_journal(manifest_path)}
            saved = registry_state()
            try:
                measures_path = use_measures(data_dir, measures)
                return _render_month(data_dir, folder, month, clients, allow_empty, old, force,
                                     formats, reference_dir, progress, jobs, engine, scheduler,
                                     started, audience, measures_path, date_format, notebooks,
                                     exporter=exporter)
            finally:
                restore_registry(saved)  # the caller's registry, whatever the service file held
    finally:
        if exporter is not None:
            exporter.close()


def _start_exporter(engine: str, jobs: int, formats: tuple[str, ...], scheduler: str | None):
    """The process that makes the HTML and PDF of an engine-"here" batch, warming up beside this
    one (:func:`~progress_kit.reports.engine.start_exporter`), or None: with one job at a time,
    another engine, or no HTML or PDF to make."""
    from .engine import start_exporter

    if engine != "here" or scheduler is not None or jobs < 2:
        return None
    return start_exporter(formats)


def _render_month(data_dir, folder, month, clients, allow_empty, old, force, formats,
                  reference_dir, progress, jobs, engine, scheduler, started, audience,
                  measures_path, date_format=None, notebooks=None, exporter=None) -> BatchResult:
    """Validate the data once, cache it privately, render the month (the folder is locked)."""
    clients_dir = folder / "clients"
    clinic = load_clinic(data_dir, measures=measures_path, date_format=date_format)
    ids = clients_active_in(clinic, month) if clients is None else [str(c) for c in clients]
    if not ids and not allow_empty:
        raise EmptyMonth(_empty_month_message(clinic, month))
    names = claim_stems(clients_dir, ids)
    cache_dir = private_dir(folder, "cache-")
    try:  # from here on the cache exists: every way out removes it
        cache = write_cache(clinic, cache_dir / "clinic.pkl")  # clinic-<sha256>.pkl, verified on load
        sizes = _client_sizes(clinic)
        del clinic
        return _run(ids, names, old, force, clients is not None, data_dir, folder, month,
                    formats, reference_dir, cache, progress, jobs, engine, scheduler, started,
                    audience, sizes, measures_path, notebooks or {}, exporter=exporter)
    finally:
        remove_tree(cache_dir)  # the cache holds every client's data (a failure is logged)
        remove_stale(folder, clients_dir)  # temp files of report processes that were killed


def _empty_month_message(clinic, month: str) -> str:
    dates = pd.concat([clinic.observations["date"], clinic.sessions["date"]])
    last = dates.max() if len(dates) else None
    where = (f"the data end on {last:%Y-%m-%d}; the last month with data is {last:%Y-%m}"
             if last is not None and pd.notna(last) else "the data folder holds no dated rows")
    p = clinic.problems
    bad = p[p["severity"] == "error"] if len(p) else p
    dated = int(bad["column"].isin(["date", "start_date", "end_date"]).sum()) if len(bad) else 0
    rejected = (f"; validation rejected {len(bad)} row(s)"
                + (f", {dated} of them for their dates (day-first dates need --date-format "
                   f"%d/%m/%Y)" if dated else "") + "; progress-kit validate lists them"
                if len(bad) else "")
    return (f"no client has an observation or a session in {month} ({where}{rejected}). Choose "
            f"another --month, or pass --allow-empty to render an empty month anyway")


def _client_sizes(clinic) -> dict[str, int]:
    """Rows per client (observations and sessions): how long its report takes, roughly."""
    ids = pd.concat([clinic.observations["client_id"], clinic.sessions["client_id"]])
    return ids.astype(str).value_counts().to_dict()


def _longest_first(todo: list, sizes: dict[str, int]) -> list:
    """The cohort report first, then clients with the most rows: the longest reports start
    first, so that no worker is left with a long report while the others are idle (the cohort
    report takes about twice a client's; started last it ran alone at the end of a batch)."""
    def cost(item):
        (kind, cid), _, _ = item
        return (0, 0) if kind == "cohort" else (1, -sizes.get(cid, 0))
    return sorted(todo, key=cost)  # stable: equal sizes keep the clients' order


def _inputs(data_dir: Path, measures_path: Path | None = None) -> list[Path]:
    """Every file of the data folder a report reads: the tables, the benchmarks the cohort
    report draws, the service's wording and its measures file (wherever it is)."""
    extra = [data_dir / "benchmarks.toml", data_dir / "wording.toml",
             measures_path or data_dir / "measures.toml"]
    return [*input_files(data_dir), *(p for p in extra if p.is_file())]


def _run(ids, names, old, force, partial, data_dir, folder, month, formats, reference_dir, cache,
         progress, jobs, engine, scheduler, started, audience="internal", sizes=None,
         measures_path=None, notebooks=None, exporter=None) -> BatchResult:
    base = _fingerprint(_code_digest(), files_digest(_inputs(data_dir, measures_path)),
                        files_digest(input_files(reference_dir)) if reference_dir else "",
                        month, ",".join(formats), audience)
    ref = str(Path(reference_dir).resolve()) if reference_dir else None
    clients_dir = folder / "clients"
    tasks = [("client", cid, names[cid], str(clients_dir)) for cid in ids]
    tasks.append(("cohort", None, COHORT_STEMS[audience], str(folder)))
    cohort_key = PUBLISHED_COHORT if audience == "publication" else COHORT
    keys = [(kind, cid if kind == "client" else cohort_key) for kind, cid, _, _ in tasks]
    # what the manifest says while the batch runs: this run's rows over the previous ones
    state: dict[tuple[str, str], dict] = {}
    if partial:
        state.update((k, v) for k, v in old.items() if k not in set(keys))
    # the other audience's cohort report is another file: its row stays
    state.update((k, v) for k, v in old.items()
                 if k[0] == "cohort" and k[1] in (COHORT, PUBLISHED_COHORT) and k not in set(keys))
    notebooks = notebooks or {}
    # a notebook of the user's is part of what its reports depend on: editing it re-renders them
    own = {kind: files_digest([path]) for kind, path in notebooks.items()}
    todo = []
    for key, (kind, cid, stem, out_dir) in zip(keys, tasks, strict=True):
        fp = _fingerprint(base, kind, cid or "", stem, *([own[kind]] if kind in own else []))
        prev = old.get(key)
        if not force and _up_to_date(prev, fp, _expected_files(kind, stem, formats), folder):
            state[key] = {**prev, "status": "up to date", "seconds": 0.0, "error": ""}
            continue
        if prev:
            state[key] = prev  # until re-rendered; its fingerprint no longer matches
        todo.append((key, fp, (kind, cid, stem, str(data_dir), str(cache), month, out_dir,
                               formats, ref, audience, notebooks.get(kind))))
    todo = _longest_first(todo, sizes or {})
    order = {k: i for i, k in enumerate(keys)}
    record = _Recorder(folder / "manifest.csv", lambda: _ordered(state, order))
    bar = _progress(len(tasks), progress)
    bar.update(len(tasks) - len(todo))
    try:
        runs = (_execute_dask(todo, scheduler, jobs, bar) if scheduler
                else _execute(todo, jobs, bar, engine, str(cache), month, exporter))
        for key, fp, outcome in runs:
            files = [str(Path(f).relative_to(folder)) for f in outcome["files"]]
            hashes = (_hashes(folder, files) or []) if outcome["status"] == "ok" else []
            state[key] = {"client": key[1], "kind": key[0], "status": outcome["status"],
                          "files": ";".join(files), "seconds": round(outcome["seconds"], 2),
                          "error": outcome["error"], "fingerprint": fp, "sha256": ";".join(hashes)}
            record(state[key])  # a killed batch resumes after this report
    finally:
        bar.close()
        record.close()  # also on Ctrl-C: the manifest holds every report finished so far
    manifest = pd.DataFrame(_ordered(state, order), columns=MANIFEST_COLUMNS)
    counts = manifest["status"].value_counts().to_dict()
    return BatchResult(folder, manifest, time.perf_counter() - started, counts)


def _ordered(state: dict, order: dict) -> list[dict]:
    keys = sorted(state, key=lambda k: (order.get(k, len(order)), k))
    return [{c: state[k].get(c, "") for c in MANIFEST_COLUMNS} for k in keys]


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="report", desc="reports", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True)


def _prepare_shared(cache: str, month: str) -> None:
    """In a fork-server zygote: compute what every report of the month derives from the whole
    clinic (:func:`~progress_kit.reports.notebook.prepare_batch`) on the batch's cached data."""
    from .notebook import prepare_batch

    prepare_batch(load_clinic(None, cache), month)


def _execute(todo, jobs: int, bar, engine: str = "kernel", cache: str | None = None,
             month: str | None = None, exporter=None):
    """Yield (key, fingerprint, outcome) as reports finish."""
    from .engine import ForkServer, fork_available

    if engine == "here" and fork_available():
        yield from _execute_here(todo, jobs, bar, cache, month, exporter)
        return
    if engine in ("fork", "here") or (engine == "auto" and fork_available()):
        if not todo:
            return
        fps = {key: fp for key, fp, _ in todo}
        prepare = (_prepare_shared, (cache, month)) if cache and month else None
        with ForkServer(min(jobs, len(todo)), cache=cache, prepare=prepare) as server:
            for key, outcome in server.map((key, (_task, args)) for key, _, args in todo):
                yield key, fps[key], outcome
                bar.update(1)
        return
    if jobs <= 1 or len(todo) <= 1:
        for key, fp, args in todo:
            yield key, fp, _task(*args)
            bar.update(1)
        return
    # spawn: a clean interpreter per worker (no forked kernel/zmq state)
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = {pool.submit(_task, *args): (key, fp) for key, fp, args in todo}
        for fut in cf.as_completed(futures):
            key, fp = futures[fut]
            try:
                outcome = fut.result()
            except Exception as exc:  # a worker died (e.g. out of memory)
                outcome = {"status": "failed", "files": [], "seconds": 0.0,
                           "error": f"{type(exc).__name__}: {_mask(str(exc))}"}
            yield key, fp, outcome
            bar.update(1)


def _execute_here(todo, jobs: int, bar, cache: str | None, month: str | None, exporter=None):
    """This process as the zygote: warmed once (as a fork-server worker is), then one forked
    child per report, ``jobs`` at a time (engine ``"here"``, the command line's). With an
    ``exporter``, each report's child runs its notebook and the exporter's child makes its HTML
    and PDF; ``jobs`` counts both."""
    from .context import preload_cache
    from .engine import fork_each, warm_here

    if not todo:
        return
    warm_here("client", exporter=exporter)
    if cache:
        preload_cache(cache)
        if month:
            try:
                _prepare_shared(cache, month)
            except Exception:  # noqa: BLE001, S110 (each report then computes and reports it)
                pass
    fps = {key: fp for key, fp, _ in todo}
    for key, outcome in fork_each(((key, (_task, args)) for key, _, args in todo), jobs,
                                  exporter=exporter):
        yield key, fps[key], outcome
        bar.update(1)


def _execute_dask(todo, scheduler: str, jobs: int, bar):
    """Yield (key, fingerprint, outcome) as reports finish on a Dask distributed cluster."""
    from contextlib import ExitStack

    from distributed import Client, LocalCluster, as_completed

    with ExitStack() as stack:
        if scheduler == "local":
            # no dashboard, and the scheduler's small HTTP server on a free loopback port: the
            # default (8787, with a warning when taken) would only alarm and expose nothing useful
            cluster = stack.enter_context(LocalCluster(
                n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                dashboard_address=None, scheduler_kwargs={"dashboard": False,
                                                          "dashboard_address": "127.0.0.1:0"}))
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(Client(scheduler))
        futures = {client.submit(_task, *args, pure=False, key=f"report-{i}"): (key, fp)
                   for i, (key, fp, args) in enumerate(todo)}
        for fut in as_completed(futures):
            key, fp = futures[fut]
            try:
                outcome = fut.result()
            except Exception as exc:  # a worker was lost
                outcome = {"status": "failed", "files": [], "seconds": 0.0,
                           "error": f"{type(exc).__name__}: {_mask(str(exc))}"}
            yield key, fp, outcome
            bar.update(1)


JOURNAL = ".manifest.journal.csv"


class _Recorder:
    """Records each finished report at once, so a killed batch loses none of them.

    Each outcome is appended (one line, flushed) to a private journal beside the manifest;
    the manifest itself is rewritten atomically at the start, at most every few seconds while
    the batch runs (never more than 5% of the time: a 10k-row manifest takes about 0.1-1 s to
    write) and at the end, when the journal is removed. The next run reads the manifest and
    then the journal, so a report finished just before SIGKILL is skipped, not rendered again.
    """

    def __init__(self, path: Path, rows):
        self.path, self.rows = path, rows
        self.journal = path.with_name(JOURNAL)
        self._rewrite()  # the previous journal's rows are in ``rows`` now, on disk before it goes
        flags = (os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
                 | getattr(os, "O_CLOEXEC", 0))
        self.fh = os.fdopen(os.open(self.journal, flags, 0o600), "w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.fh, lineterminator="\n")

    def _rewrite(self) -> None:
        t0 = time.perf_counter()
        _write_manifest(self.rows(), self.path)
        self.cost, self.last = time.perf_counter() - t0, time.monotonic()

    def __call__(self, row: dict) -> None:
        self.writer.writerow([csv_cell(row.get(c, "")) for c in MANIFEST_COLUMNS])
        self.fh.flush()
        if time.monotonic() - self.last >= max(2.0, 20 * self.cost):
            self._rewrite()

    def close(self) -> None:
        self._rewrite()
        self.fh.close()
        self.journal.unlink(missing_ok=True)


def _read_journal(manifest: Path) -> dict[tuple[str, str], dict]:
    """Rows a killed batch recorded after its last manifest rewrite (a torn last line is ignored)."""
    path = manifest.with_name(JOURNAL)
    if not is_regular(path):
        return {}
    out = {}
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        for cells in csv.reader(fh):
            if len(cells) == len(MANIFEST_COLUMNS):
                row = dict(zip(MANIFEST_COLUMNS, map(csv_uncell, cells), strict=True))
                out[(row["kind"], row["client"])] = row
    return out


def _write_manifest(rows: list[dict], path: Path) -> None:
    """Write the manifest privately and atomically; text cells are spreadsheet-safe (csv_cell)."""
    with private_file(path, "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS)
        for row in rows:
            writer.writerow([csv_cell(row.get(c, "")) for c in MANIFEST_COLUMNS])
