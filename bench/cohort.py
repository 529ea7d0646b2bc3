"""Benchmark 2: cohort statistics at national scale.

Runs a synthetic cohort (N clients x 12 weekly sessions of PHQ-9 and GAD-7) through
``reliable_change`` and ``slopes`` (both measures) and ``talking_therapies_outcomes``, and compares:

* the baseline: a naive ``groupby(...).apply(scipy.stats.linregress)`` slope per client and measure,
  timed on a subsample and extrapolated linearly to N clients;
* the floor: a NumPy closed-form OLS slope over the same arrays (integer client codes, days,
  scores), with ``np.bincount`` sums, and the same with the factorisation of the IDs included.

Peak memory is the process's resident high-water mark during the kit's calls (VmHWM, reset just
before them), reported against the in-memory size of the input table.
"""

from __future__ import annotations

import gc
import time

import numpy as np
import pandas as pd
from scipy import stats

import progress_kit as pk
from progress_kit import _cohort

from .cohort_data import make_cohort
from .memory import peak_bytes, reset_peak, rss_bytes, trim_heap

MEASURES = ("PHQ-9", "GAD-7")


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def kit_run(data: pd.DataFrame) -> dict[str, float]:
    """Seconds per call of the kit on the whole cohort."""
    timings = {}
    for m in MEASURES:
        _, timings[f"reliable_change {m}"] = _timed(pk.reliable_change, data, measure=m)
        _, timings[f"slopes {m}"] = _timed(pk.slopes, data, measure=m)
    _, timings["talking_therapies_outcomes"] = _timed(pk.talking_therapies_outcomes, data)
    return timings


def naive_slopes(data: pd.DataFrame) -> pd.Series:
    """What a user would otherwise write: one scipy linregress per client and measure."""
    days = (data["date"] - pd.Timestamp("1970-01-01")).dt.days / 7.0
    frame = data.assign(t=days)
    return frame.groupby(["client_id", "measure"], observed=True).apply(
        lambda g: stats.linregress(g["t"], g["score"]).slope, include_groups=False)


def floor_slopes(codes: np.ndarray, t: np.ndarray, y: np.ndarray, n_groups: int) -> np.ndarray:
    """Closed-form OLS slope per group from bincount sums: the least work a slope can take."""
    n = np.bincount(codes, minlength=n_groups)
    st = np.bincount(codes, t, n_groups)
    sy = np.bincount(codes, y, n_groups)
    stt = np.bincount(codes, t * t, n_groups)
    sty = np.bincount(codes, t * y, n_groups)
    return (n * sty - st * sy) / (n * stt - st * st)


def floor_run(data: pd.DataFrame) -> dict[str, float]:
    out = {}
    start = time.perf_counter()
    for m in MEASURES:
        rows = (data["measure"] == m).to_numpy()
        codes, uniques = data["client_id"][rows].factorize()
        t = (data["date"].to_numpy()[rows].astype("datetime64[D]").astype(np.int64)) / 7.0
        t = t - t.min()
        floor_slopes(codes, t, data["score"].to_numpy()[rows], len(uniques))
    out["floor incl. factorize"] = time.perf_counter() - start
    # given integer codes already (as a columnar engine would hold them)
    prepared = []
    for m in MEASURES:
        rows = (data["measure"] == m).to_numpy()
        codes, uniques = data["client_id"][rows].factorize()
        t = (data["date"].to_numpy()[rows].astype("datetime64[D]").astype(np.int64)) / 7.0
        prepared.append((codes, t - t.min(), data["score"].to_numpy()[rows], len(uniques)))
    start = time.perf_counter()
    for args in prepared:
        floor_slopes(*args)
    out["floor given codes"] = time.perf_counter() - start
    return out


def run(n_clients: int = 1_000_000, naive_clients: int = 5_000, seed: int = 0,
        categorical_ids: bool = False, order: str = "client", shared: bool = True) -> dict:
    data = make_cohort(n_clients, seed=seed, categorical_ids=categorical_ids, order=order)
    input_bytes = int(data.memory_usage(deep=True).sum())
    gc.collect()
    trim_heap()
    rss_before = rss_bytes()
    reset_peak()
    if shared:
        kit = kit_run(data)
    else:
        with _cohort.plain_path():
            kit = kit_run(data)
    peak = peak_bytes()
    floor = floor_run(data)
    sub_ids = data["client_id"].drop_duplicates().iloc[:naive_clients]
    sub = data[data["client_id"].isin(sub_ids)]
    if categorical_ids:
        sub = sub.assign(client_id=sub["client_id"].cat.remove_unused_categories())
    _, naive_sub = _timed(naive_slopes, sub)
    naive_full = naive_sub * n_clients / naive_clients
    kit_total = sum(kit.values())
    kit_slopes = sum(v for k, v in kit.items() if k.startswith("slopes"))
    return {
        "n_clients": n_clients, "n_rows": len(data), "ids": "categorical" if categorical_ids else "str",
        "order": order, "shared": shared,
        "input_mb": input_bytes / 1e6, "rss_before_mb": rss_before / 1e6, "peak_mb": peak / 1e6,
        "peak_over_input": peak / input_bytes,
        "peak_extra_over_input": (peak - rss_before) / input_bytes,
        "kit": kit, "kit_total_s": kit_total, "kit_slopes_s": kit_slopes,
        "naive_clients": naive_clients, "naive_subsample_s": naive_sub,
        "naive_extrapolated_s": naive_full,
        "speedup_total_vs_naive": naive_full / kit_total,
        "speedup_slopes_vs_naive": naive_full / kit_slopes,
        "floor": floor, "kit_slopes_over_floor": kit_slopes / floor["floor incl. factorize"],
    }


def to_markdown(res: dict) -> str:
    lines = [f"Cohort: {res['n_clients']:,} clients x 12 sessions x 2 measures = {res['n_rows']:,} rows "
             f"(client_id as {res['ids']}, rows in {res['order']} order, "
             f"{'shared factorisation' if res.get('shared', True) else 'plain path per call'}); "
             f"input {res['input_mb']:.0f} MB "
             "in memory.", "",
             "| step | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in res["kit"].items()]
    lines += [f"| **kit total** | **{res['kit_total_s']:.2f}** |",
              f"| naive groupby.apply(linregress), {res['naive_clients']:,} clients | "
              f"{res['naive_subsample_s']:.2f} |",
              f"| naive, extrapolated to {res['n_clients']:,} clients | {res['naive_extrapolated_s']:.0f} |",
              f"| floor: NumPy closed form incl. factorize (both measures) | "
              f"{res['floor']['floor incl. factorize']:.2f} |",
              f"| floor: NumPy closed form given integer codes | {res['floor']['floor given codes']:.2f} |",
              "", f"- kit total vs naive slope baseline: **{res['speedup_total_vs_naive']:.0f}x**",
              f"- kit slopes alone vs naive: {res['speedup_slopes_vs_naive']:.0f}x; kit slopes / floor "
              f"(incl. factorize): {res['kit_slopes_over_floor']:.1f}x",
              f"- peak RSS during the kit's calls {res['peak_mb']:.0f} MB = "
              f"**{res['peak_over_input']:.2f}x** the input (RSS before: {res['rss_before_mb']:.0f} MB; "
              f"peak above that: {res['peak_extra_over_input']:.2f}x the input)"]
    return "\n".join(lines)


def shared_vs_plain(n_clients: int = 200_000, order: str = "shuffled", rounds: int = 2,
                    seed: int = 0) -> dict:
    """CPU seconds of the five calls on one frame, plain path against the shared preparation.

    CPU time (``time.process_time``), the minimum over ``rounds`` alternating rounds, because it
    is less disturbed than wall time when other processes share the machine.
    """
    data = make_cohort(n_clients, seed=seed, order=order)
    calls = [(f"reliable_change {m}", pk.reliable_change, m) for m in MEASURES[:1]] + \
        [(f"slopes {m}", pk.slopes, m) for m in MEASURES[:1]] + \
        [(f"reliable_change {m}", pk.reliable_change, m) for m in MEASURES[1:]] + \
        [(f"slopes {m}", pk.slopes, m) for m in MEASURES[1:]]
    best: dict[str, dict[str, float]] = {"plain": {}, "shared": {}}
    for _ in range(rounds):
        for mode in ("plain", "shared"):
            _cohort.clear()
            gc.collect()
            for name, fn, m in [*calls, ("talking_therapies_outcomes", None, None)]:
                start = time.process_time()
                if mode == "plain":
                    with _cohort.plain_path():
                        _ = fn(data, measure=m) if fn else pk.talking_therapies_outcomes(data)
                else:
                    _ = fn(data, measure=m) if fn else pk.talking_therapies_outcomes(data)
                cpu = time.process_time() - start
                best[mode][name] = min(best[mode].get(name, float("inf")), cpu)
    return {"n_clients": n_clients, "n_rows": len(data), "order": order, "rounds": rounds,
            "cpu": best, "plain_total": sum(best["plain"].values()),
            "shared_total": sum(best["shared"].values())}


def shared_to_markdown(res: dict) -> str:
    lines = [f"{res['n_clients']:,} clients, {res['n_rows']:,} rows ({res['order']}); CPU seconds, "
             f"minimum of {res['rounds']} rounds", "", "| call | plain | shared |", "|---|---|---|"]
    lines += [f"| {k} | {v:.2f} | {res['cpu']['shared'][k]:.2f} |" for k, v in res["cpu"]["plain"].items()]
    lines.append(f"| **total** | **{res['plain_total']:.2f}** | **{res['shared_total']:.2f}** "
                 f"({res['plain_total'] / res['shared_total']:.2f}x) |")
    return "\n".join(lines)
