"""Benchmark 3: the client decision layer at scale (issues 10 and 16).

Runs ``pk.client_flags`` on a synthetic cohort (N clients x 12 weekly PHQ-9 and GAD-7 scores,
the cohort of benchmark 2) with item data for every client's latest PHQ-9 administration, and
compares it, in the same process, with:

* ``pk.reliable_change`` on the same rows: a vectorised kit call that reads the same scores, as
  the yardstick for "one pass over the data";
* a naive per-client loop (``groupby(...).apply``) computing only the three simplest rules
  (reliable deterioration, stalled, severity), timed on a subsample and extrapolated linearly.

Targets: 100k clients x 12 scores in at most 10 s (issue 10), 1M clients in at most 20 s
(issue 16). Timings are printed, never asserted: the machine varies. Wall-clock and CPU seconds
are both reported, with the load average: on a shared machine the wall clock measures the
neighbours as much as the code, while CPU seconds of this single-threaded call do not.
"""

from __future__ import annotations

import gc
import os
import time

import numpy as np
import pandas as pd

import progress_kit as pk

from .cohort_data import make_cohort
from .memory import peak_bytes, reset_peak, rss_bytes


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _timed_cpu(fn, *args, **kwargs):
    start, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start, time.process_time() - cpu


def make_items(data: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """PHQ-9 item responses for each client's latest administration (one item left blank in 5%,
    so prorated totals occur), item 9 endorsed by about 4%."""
    rng = np.random.default_rng(seed)
    phq = data[data["measure"] == "PHQ-9"]
    last = phq.groupby("client_id", observed=True, sort=False)["date"].max()
    n = len(last)
    response = rng.integers(0, 4, (n, 9)).astype(float)
    response[:, 8] = np.where(rng.random(n) < 0.04, rng.integers(1, 4, n), 0)
    blank = rng.random(n) < 0.05
    response[blank, rng.integers(0, 8, int(blank.sum()))] = np.nan
    items = pd.DataFrame({"client_id": np.repeat(last.index.to_numpy(), 9),
                          "date": np.repeat(last.to_numpy(), 9), "measure": "PHQ-9",
                          "item": np.tile(np.arange(1, 10), n), "response": response.ravel()})
    return items.dropna(subset=["response"]).reset_index(drop=True)


def naive_rules(data: pd.DataFrame) -> pd.DataFrame:
    """What a user would otherwise write: a Python function per client."""
    m = pk.get_measure("PHQ-9")

    def one(g: pd.DataFrame) -> pd.Series:
        g = g.sort_values("date")
        first, last = g["score"].iloc[0], g["score"].iloc[-1]
        weeks = (g["date"].iloc[-1] - g["date"].iloc[0]).days / 7
        return pd.Series({"rd": last - first >= m.reliable_change,
                          "stalled": len(g) >= 6 and weeks >= 6 and first - last < m.reliable_change
                          and last >= m.cutoff,
                          "severity": pk.severity_band([last], "PHQ-9")[0]})

    phq = data[data["measure"] == "PHQ-9"]
    return phq.groupby("client_id", observed=True).apply(one, include_groups=False)


def run(n_clients: int = 100_000, naive_clients: int = 2_000, seed: int = 0,
        with_items: bool = True) -> dict:
    data = make_cohort(n_clients, seed=seed)
    items = make_items(data, seed) if with_items else None
    input_bytes = int(data.memory_usage(deep=True).sum())
    gc.collect()
    rss_before = rss_bytes()
    reset_peak()
    load = os.getloadavg()[0]
    flags, t_flags, cpu_flags = _timed_cpu(pk.client_flags, data, items=items)
    peak = peak_bytes()
    _, t_rc, cpu_rc = _timed_cpu(pk.reliable_change, data, measure="PHQ-9")
    _, t_eval, cpu_eval = _timed_cpu(pk.evaluate_on_track, data, at_session=4)
    sub_ids = data["client_id"].drop_duplicates().iloc[:naive_clients]
    _, t_naive_sub = _timed(naive_rules, data[data["client_id"].isin(sub_ids)])
    naive_full = t_naive_sub * n_clients / naive_clients
    counts = flags["status"].value_counts().to_dict()
    return {
        "n_clients": n_clients, "n_rows": len(data), "n_item_rows": 0 if items is None else len(items),
        "input_mb": input_bytes / 1e6, "peak_mb": peak / 1e6,
        "peak_extra_over_input": (peak - rss_before) / input_bytes,
        "load_average": load,
        "client_flags_s": t_flags, "reliable_change_s": t_rc, "evaluate_on_track_s": t_eval,
        "client_flags_cpu_s": cpu_flags, "reliable_change_cpu_s": cpu_rc,
        "evaluate_on_track_cpu_s": cpu_eval,
        "flags_over_reliable_change": cpu_flags / cpu_rc,
        "naive_clients": naive_clients, "naive_subsample_s": t_naive_sub,
        "naive_extrapolated_s": naive_full, "speedup_vs_naive": naive_full / t_flags,
        "status_counts": counts,
        "critical_items": int(flags["critical_item"].sum()),
    }


def to_markdown(res: dict) -> str:
    target = 10 if res["n_clients"] <= 100_000 else 20
    lines = [f"Decision layer: {res['n_clients']:,} clients x 12 weeks x 2 measures = {res['n_rows']:,} "
             f"rows, plus {res['n_item_rows']:,} PHQ-9 item rows; input {res['input_mb']:.0f} MB.", "",
             f"Load average at the start: {res['load_average']:.1f}.", "",
             "| step | wall s | CPU s |", "|---|---|---|",
             f"| `client_flags` (every questionnaire: PHQ-9 and GAD-7; leave-one-client-out bands, items) | "
             f"**{res['client_flags_s']:.2f}** | **{res['client_flags_cpu_s']:.2f}** |",
             f"| `reliable_change` (PHQ-9), same rows | {res['reliable_change_s']:.2f} | "
             f"{res['reliable_change_cpu_s']:.2f} |",
             f"| `evaluate_on_track` (PHQ-9, session 4) | {res['evaluate_on_track_s']:.2f} | "
             f"{res['evaluate_on_track_cpu_s']:.2f} |",
             f"| naive per-client apply (3 simple rules), {res['naive_clients']:,} clients | "
             f"{res['naive_subsample_s']:.2f} | |",
             f"| naive, extrapolated to {res['n_clients']:,} clients | {res['naive_extrapolated_s']:.0f} | |",
             "",
             f"- client_flags / reliable_change (CPU): **{res['flags_over_reliable_change']:.1f}x**; "
             f"vs the naive loop: **{res['speedup_vs_naive']:.0f}x** faster; target <= {target} s",
             f"- peak RSS above the start during client_flags: {res['peak_extra_over_input']:.2f}x "
             "the input",
             f"- statuses: {res['status_counts']}; critical items: {res['critical_items']:,}"]
    return "\n".join(lines)
