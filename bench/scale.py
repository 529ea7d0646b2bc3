"""Benchmark: cohort statistics on ten million clients from Parquet on disk, through Dask.

1. Writes the synthetic cohort of ``bench.cohort_data`` (N clients x 12 weekly sessions of PHQ-9
   and GAD-7, 24 rows a client) to a folder of Parquet files in client order, whole clients per
   row group (:func:`progress_kit.distributed.write_parquet_by_client`), one chunk of clients
   at a time, so the whole table is never in memory.
2. Checks, on the first ``--sample`` clients (1M by default), that the Dask path gives exactly
   the in-memory path's tables (``assert_frame_equal(check_exact=True)``, index dtype aside:
   Parquet gives the IDs back as pyarrow strings), and times the in-memory path there.
3. Runs ``reliable_change`` and ``slopes`` for PHQ-9 and GAD-7 and
   ``talking_therapies_outcomes`` on all N clients through
   :func:`~progress_kit.distributed.read_parquet_by_client` (one partition per row group, no
   shuffle) with Dask's threaded scheduler, timing each call and recording the process's peak
   resident memory (VmHWM) from just before the first call.

``python -m bench scale [--clients 10000000] [--sample 1000000] [--workers 2] [--folder DIR]``
(``--folder`` keeps the Parquet files, about 1 GB per 10M clients, for a second run).
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import progress_kit as pk
from progress_kit.distributed import read_parquet_by_client, write_parquet_by_client

from .cohort_data import make_cohort
from .memory import peak_bytes, reset_peak, rss_bytes, trim_heap

MEASURES = ("PHQ-9", "GAD-7")
SESSIONS = 12
CHUNK = 250_000  # clients per file
GROUP = 50_000  # clients per row group (1.2M rows)


def write_cohort(folder: Path, n_clients: int) -> list[Path]:
    """The cohort as Parquet files of ``CHUNK`` clients, IDs ``P0000000`` upwards (8 digits
    from 10M clients on, so that text order stays client order)."""
    folder.mkdir(parents=True, exist_ok=True)
    width = max(7, len(str(n_clients - 1)))
    files = []
    for i, lo in enumerate(range(0, n_clients, CHUNK)):
        path = folder / f"part-{i:05d}.parquet"
        files.append(path)
        if path.exists():
            continue
        n = min(CHUNK, n_clients - lo)
        chunk = make_cohort(n, SESSIONS, seed=i, order="client")
        labels = np.char.add("P", np.char.zfill(np.arange(lo, lo + n).astype(str), width))
        chunk["client_id"] = pd.array(labels, dtype="str").take(
            np.arange(len(chunk)) // (2 * SESSIONS))
        write_parquet_by_client(chunk, str(path), clients_per_group=GROUP)
    return files


def _calls(data) -> dict[str, pd.DataFrame]:
    out = {}
    for m in MEASURES:
        out[f"reliable_change {m}"] = lambda m=m: pk.reliable_change(data, measure=m)
        out[f"slopes {m}"] = lambda m=m: pk.slopes(data, measure=m)
    out["talking_therapies_outcomes"] = lambda: pk.talking_therapies_outcomes(data)
    return out


def check_sample(files: list[Path]) -> dict:
    """Dask against in-memory on the sample's files: identical tables; the in-memory time."""
    import dask

    ddf = read_parquet_by_client([str(f) for f in files])
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    same, seconds = {}, {}
    for name, call in _calls(frame).items():
        t0 = time.perf_counter()
        want = call()
        seconds[name] = time.perf_counter() - t0
        with dask.config.set(scheduler="threads"):
            got = _calls(ddf)[name]()
        try:
            pd.testing.assert_frame_equal(got, want.sort_index(), check_exact=True,
                                          check_index_type=False)
            same[name] = True
        except AssertionError:
            same[name] = False
    return {"clients": frame["client_id"].nunique(), "same": same, "memory_s": seconds,
            "memory_total_s": sum(seconds.values())}


def run_dask(files: list[Path], workers: int) -> dict:
    import dask

    ddf = read_parquet_by_client([str(f) for f in files])
    gc.collect()
    trim_heap()
    base = rss_bytes()
    reset_peak()
    seconds, rows = {}, {}
    with dask.config.set(scheduler="threads", num_workers=workers):
        for name, call in _calls(ddf).items():
            t0 = time.perf_counter()
            res = call()
            seconds[name] = time.perf_counter() - t0
            rows[name] = len(res)
            del res
            gc.collect()
    return {"seconds": seconds, "total_s": sum(seconds.values()), "rows": rows,
            "peak_bytes": peak_bytes(), "rss_before_bytes": base,
            "partitions": ddf.npartitions, "load": os.getloadavg()}


def run(n_clients: int = 10_000_000, sample: int = 1_000_000, workers: int = 2,
        folder: str | None = None) -> dict:
    where = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="pk-bench-scale-"))
    t0 = time.perf_counter()
    files = write_cohort(where, n_clients)
    written = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in files)
    check = check_sample(files[: max(1, sample // CHUNK)]) if sample else None
    gc.collect()
    trim_heap()
    res = run_dask(files, workers)
    return {"clients": n_clients, "rows": n_clients * SESSIONS * 2, "files": len(files),
            "parquet_bytes": size, "write_s": written, "sample": check, "dask": res,
            "workers": workers, "folder": str(where), "cores": os.cpu_count()}


def to_markdown(res: dict) -> str:
    d = res["dask"]
    lines = [f"{res['clients']:,} clients x {SESSIONS} sessions x 2 measures = {res['rows']:,} rows "
             f"in {res['files']} Parquet files ({res['parquet_bytes'] / 1e9:.2f} GB, written in "
             f"{res['write_s']:.0f} s); {d['partitions']} partitions (row groups of {GROUP:,} "
             f"clients); Dask threaded scheduler, {res['workers']} workers, {res['cores']} cores; "
             f"load average at the end {' '.join(f'{x:.2f}' for x in d['load'])}.", "",
             "| call (all clients, through Dask) | seconds | rows out |", "|---|---|---|"]
    for name, s in d["seconds"].items():
        lines.append(f"| {name} | {s:.1f} | {d['rows'][name]:,} |")
    lines += [f"| **total** | **{d['total_s']:.1f}** | |", "",
              f"- peak resident memory: **{d['peak_bytes'] / 2**30:.2f} GiB** (the process held "
              f"{d['rss_before_bytes'] / 2**30:.2f} GiB before the first call)"]
    s = res["sample"]
    if s:
        lines += [f"- on the first {s['clients']:,} clients: Dask equal to in-memory, exactly: "
                  + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in s["same"].items()),
                  f"- the in-memory path on those {s['clients']:,} clients: "
                  f"{s['memory_total_s']:.1f} s in all ("
                  + ", ".join(f"{k} {v:.1f}" for k, v in s["memory_s"].items()) + ")"]
    return "\n".join(lines)
