"""The monthly batch: one report per client with activity in the month, plus the cohort report.

The data folder is read and validated once; every report then reads that validated copy (a cache
file passed to the notebook as a path parameter) in its own fresh kernel, so reports share no
state. One report's failure never stops the others. ``manifest.csv`` records, per report, the
status, the files, the seconds taken, a short error (numbers masked: logs hold no scores) and a
fingerprint of everything the report depends on; a re-run skips a report whose fingerprint is
unchanged and whose files exist, unless ``force``.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import multiprocessing
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import __version__
from .context import (
    clients_active_in,
    files_digest,
    input_files,
    last_full_month,
    load_clinic,
    write_cache,
)
from .render import FORMATS, render_client, render_cohort
from .resources import notebook_path, template_dir
from .safe import parse_month, safe_names

__all__ = ["run_batch", "BatchResult", "MANIFEST_COLUMNS"]

MANIFEST_COLUMNS = ["client", "kind", "status", "files", "seconds", "error", "fingerprint"]
COHORT = "(cohort)"


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


def _mask(message: str) -> str:
    """A short, single-line error with every number masked, so a log never holds a score."""
    first = str(message).strip().splitlines()[0] if str(message).strip() else ""
    return re.sub(r"\d+(\.\d+)?", "#", first)[:200]


def _task(kind: str, client: str | None, stem: str, data_dir: str, cache: str, month: str,
          out_dir: str, formats: tuple[str, ...], reference_dir: str | None,
          audience: str = "internal") -> dict:
    """Render one report; never raises (the batch goes on)."""
    t0 = time.perf_counter()
    try:
        if kind == "client":
            res = render_client(data_dir, client, month, out_dir, formats=formats, stem=stem,
                                reference_dir=reference_dir, data_cache=cache)
        else:
            res = render_cohort(data_dir, month, out_dir, formats=formats, data_cache=cache,
                                audience=audience)
        files = [str(p) for p in res.files]
        return {"status": "ok", "files": files, "seconds": time.perf_counter() - t0, "error": ""}
    except Exception as exc:  # one report's failure must not stop the batch
        name = getattr(exc, "ename", type(exc).__name__)
        value = getattr(exc, "evalue", str(exc))
        return {"status": "failed", "files": [], "seconds": time.perf_counter() - t0,
                "error": f"{name}: {_mask(value)}"}


def _read_manifest(path: Path) -> dict[tuple[str, str], dict]:
    if not path.exists():
        return {}
    old = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {(r["kind"], r["client"]): r for r in old.to_dict("records")}


def run_batch(data_dir: str | Path, month: str, out: str | Path = "reports", *, jobs: int = 1,
              formats=FORMATS, force: bool = False, progress: bool = True,
              reference_dir: str | Path | None = None, clients: list[str] | None = None,
              engine: str = "auto", scheduler: str | None = None,
              audience: str = "internal") -> BatchResult:
    """Render every client report for ``month`` and the cohort report.

    Parameters
    ----------
    data_dir : path
        The data folder (validated once; invalid rows are left out and listed in each client's
        data-quality box).
    month : str
        ``YYYY-MM``, or ``"last"`` for the last full calendar month.
    out : path
        Reports go to ``out/YYYY-MM/clients/<safe id>.html|.pdf|.ipynb``,
        ``out/YYYY-MM/cohort.*`` and ``out/YYYY-MM/manifest.csv``.
    jobs : int
        Reports rendered at the same time (each in its own process and kernel).
    force : bool
        Render even reports that are up to date.
    clients : list of str, optional
        Only these clients (default: every client with an observation or session in the month).
    audience : {"internal", "publication"}
        Audience of the cohort report (client reports are always internal).
    engine : {"auto", "fork", "kernel"}
        ``"fork"``: warm worker processes fork one child per report and run the notebook in it
        (:mod:`progress_kit.reports.engine`; Linux). ``"kernel"``: a fresh Jupyter kernel per
        report. ``"auto"`` (default) takes ``"fork"`` where it is available. Both give the same
        reports and the same isolation; the fork server is several times faster.
    scheduler : str, optional
        Render on a Dask distributed cluster instead: a scheduler address (``tcp://host:8786``)
        or ``"local"`` for a ``LocalCluster`` of ``jobs`` single-threaded worker processes. Each
        report is one task, run in a fresh kernel on a worker; the workers must see the data
        folder and the output folder at the same paths (see docs/scaling.md).
    """
    if engine not in ("auto", "fork", "kernel"):
        raise ValueError(f"engine must be 'auto', 'fork' or 'kernel', not {engine!r}")
    started = time.perf_counter()
    month = last_full_month() if month == "last" else month
    parse_month(month)
    formats = tuple(formats)
    data_dir = Path(data_dir).resolve()
    folder = Path(out).resolve() / month
    clients_dir = folder / "clients"
    clients_dir.mkdir(parents=True, exist_ok=True)
    clinic = load_clinic(data_dir)
    ids = clients_active_in(clinic, month) if clients is None else [str(c) for c in clients]
    names = safe_names(ids)
    cache_dir = folder / f".cache-{os.getpid()}"
    cache = write_cache(clinic, cache_dir / "clinic.pkl")
    del clinic
    base = _fingerprint(_code_digest(), files_digest(input_files(data_dir)),
                        files_digest(input_files(reference_dir)) if reference_dir else "",
                        month, ",".join(formats), audience)
    old = {} if force else _read_manifest(folder / "manifest.csv")
    ref = str(Path(reference_dir).resolve()) if reference_dir else None
    tasks = [("client", cid, names[cid], str(clients_dir)) for cid in ids]
    tasks.append(("cohort", None, "cohort", str(folder)))
    rows, todo = [], []
    for kind, cid, stem, out_dir in tasks:
        key = (kind, cid if kind == "client" else COHORT)
        fp = _fingerprint(base, kind, cid or "")
        prev = old.get(key)
        if prev and prev["fingerprint"] == fp and prev["status"] in ("ok", "up to date") and \
                prev["files"] and all(Path(folder, f).exists() for f in prev["files"].split(";")):
            rows.append({**prev, "status": "up to date", "seconds": 0.0, "error": ""})
            continue
        todo.append((key, fp, (kind, cid, stem, str(data_dir), str(cache), month, out_dir,
                               formats, ref, audience)))
    bar = _progress(len(tasks), progress)
    bar.update(len(rows))
    try:
        runs = (_execute_dask(todo, scheduler, jobs, bar) if scheduler
                else _execute(todo, jobs, bar, engine, str(cache)))
        for key, fp, outcome in runs:
            files = ";".join(str(Path(f).relative_to(folder)) for f in outcome["files"])
            rows.append({"client": key[1], "kind": key[0], "status": outcome["status"],
                         "files": files, "seconds": round(outcome["seconds"], 2),
                         "error": outcome["error"], "fingerprint": fp})
    finally:
        bar.close()
        shutil.rmtree(cache_dir, ignore_errors=True)  # the cache holds every client's data
        manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
        order = {t[1] if t[0] == "client" else COHORT: i for i, t in enumerate(tasks)}
        manifest = manifest.sort_values("client", key=lambda s: s.map(order)).reset_index(drop=True)
        _write_manifest(manifest, folder / "manifest.csv")
    counts = manifest["status"].value_counts().to_dict()
    return BatchResult(folder, manifest, time.perf_counter() - started, counts)


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="report", desc="reports", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True)


def _execute(todo, jobs: int, bar, engine: str = "kernel", cache: str | None = None):
    """Yield (key, fingerprint, outcome) as reports finish."""
    from .engine import ForkServer, fork_available

    if engine == "fork" or (engine == "auto" and fork_available()):
        if not todo:
            return
        fps = {key: fp for key, fp, _ in todo}
        with ForkServer(min(jobs, len(todo)), cache=cache) as server:
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


def _execute_dask(todo, scheduler: str, jobs: int, bar):
    """Yield (key, fingerprint, outcome) as reports finish on a Dask distributed cluster."""
    from contextlib import ExitStack

    from distributed import Client, LocalCluster, as_completed

    with ExitStack() as stack:
        if scheduler == "local":
            cluster = stack.enter_context(LocalCluster(n_workers=max(1, jobs), threads_per_worker=1,
                                                       processes=True, dashboard_address=None))
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


def _write_manifest(manifest: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    manifest.to_csv(tmp, index=False, lineterminator="\n")
    os.replace(tmp, path)
