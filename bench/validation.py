"""Benchmark 3: validation at national scale, and the conflicting-duplicate check.

Two scenarios, each timed against a baseline run in the same process: reading the same CSV files
with a plain ``pd.read_csv(dtype=str)``, the least work any validation must do.

* **scale**: a data folder of N clients (``clients.csv``), two PHQ-9 scores per client
  (``observations.csv``) and one session per client (``sessions.csv``), through
  ``pk.load_data``.
* **duplicates**: an observations file of R rows in which P pairs are conflicting duplicates
  (same client, date and measure, different scores), through
  ``pk.read_observations(errors="report")``; every one of the 2P rows must be listed.

``python -m bench validation [--clients N] [--rows R] [--pairs P]``
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import progress_kit as pk

TODAY = pd.Timestamp("2026-11-25").date()


def _ids(n: int) -> np.ndarray:
    return np.char.add("P", np.char.zfill(np.arange(n).astype(str), 7))


def _days(rng: np.random.Generator, n: int) -> np.ndarray:
    start = np.datetime64("2024-01-01") + rng.integers(0, 600, n).astype("timedelta64[D]")
    return np.datetime_as_string(start, unit="D")


def write_folder(folder: Path, n_clients: int, seed: int = 0) -> None:
    """clients, observations (two PHQ-9 scores per client) and sessions (one per client)."""
    rng = np.random.default_rng(seed)
    ids = _ids(n_clients)
    start = _days(rng, n_clients)
    pd.DataFrame({"client_id": ids, "therapist_id": "T01", "start_date": start, "end_date": "",
                  "status": "active", "problem": "depression", "session_frequency": "weekly"}
                 ).to_csv(folder / "clients.csv", index=False)
    later = np.datetime_as_string(start.astype("datetime64[D]") + 7, unit="D")
    pd.DataFrame({"client_id": np.repeat(ids, 2), "date": np.column_stack([start, later]).ravel(),
                  "measure": "PHQ-9", "score": rng.integers(0, 28, 2 * n_clients)}
                 ).to_csv(folder / "observations.csv", index=False)
    pd.DataFrame({"client_id": ids, "date": start, "attended": "true", "kind": "assessment"}
                 ).to_csv(folder / "sessions.csv", index=False)


def write_duplicates(path: Path, n_rows: int, n_pairs: int, seed: int = 0) -> None:
    """``n_rows`` rows, of which ``n_pairs`` pairs share client, date and measure but differ."""
    rng = np.random.default_rng(seed)
    unique = n_rows - n_pairs
    ids = _ids(unique)
    days = _days(rng, unique)
    score = rng.integers(0, 27, unique)
    pick = rng.choice(unique, n_pairs, replace=False)
    frame = pd.DataFrame({"client_id": np.r_[ids, ids[pick]], "date": np.r_[days, days[pick]],
                          "measure": "PHQ-9", "score": np.r_[score, score[pick] + 1]})
    frame.take(rng.permutation(len(frame))).to_csv(path, index=False)


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def run(n_clients: int = 1_000_000, n_rows: int = 1_000_000, n_pairs: int = 100_000) -> dict:
    """Seconds for the kit and for the plain-read baseline, and their ratio, per scenario."""
    res: dict = {"clients": n_clients, "rows": n_rows, "pairs": n_pairs}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if n_clients:
            write_folder(folder, n_clients)
            _, base = _timed(lambda: [pd.read_csv(folder / f"{t}.csv", dtype=str,
                                                  keep_default_na=False)
                                      for t in ("observations", "clients", "sessions")])
            data, kit = _timed(pk.load_data, folder, today=TODAY)
            assert data.problems.empty and len(data.clients) == n_clients
            res["scale"] = {"load_data s": kit, "read_csv s": base, "ratio": kit / base}
        if n_pairs:
            path = folder / "dup.csv"
            write_duplicates(path, n_rows, n_pairs)
            _, base = _timed(pd.read_csv, path, dtype=str, keep_default_na=False)
            (valid, problems), kit = _timed(pk.read_observations, path, errors="report",
                                            today=TODAY)
            assert len(problems) == 2 * n_pairs and len(valid) == n_rows - 2 * n_pairs
            res["duplicates"] = {"read_observations s": kit, "read_csv s": base,
                                 "ratio": kit / base}
    return res


def to_markdown(res: dict) -> str:
    rows = ["| scenario | kit (s) | plain read_csv (s) | ratio |", "|---|---|---|---|"]
    if "scale" in res:
        s = res["scale"]
        rows.append(f"| load_data, {res['clients']:,} clients (3 files) | {s['load_data s']:.2f} | "
                    f"{s['read_csv s']:.2f} | {s['ratio']:.1f}x |")
    if "duplicates" in res:
        d = res["duplicates"]
        rows.append(f"| read_observations, {res['rows']:,} rows with {res['pairs']:,} conflicting "
                    f"pairs | {d['read_observations s']:.2f} | {d['read_csv s']:.2f} | "
                    f"{d['ratio']:.1f}x |")
    return "\n".join(rows)
