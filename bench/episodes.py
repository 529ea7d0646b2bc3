"""Benchmark: what episodes of care cost (issue 26), against the same rows without them.

A data folder of N clients, each referred twice: two closed episodes (``clients.csv`` with
``episode_id``), six PHQ-9 scores and two sessions per episode. The baseline, run in the same
process, is the same folder without the ``episode_id`` column (one course per client, the
clients table spanning both episodes).

* **load_data**: reading and validating, with the episode assignment and its checks;
* **reliable_change**: per (client, episode) against per client, on the same observations;
* **client_flags**: the current episode against the whole course (on ``--flag-clients``).

``python -m bench episodes [--clients N] [--flag-clients M]``
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import progress_kit as pk

TODAY = pd.Timestamp("2026-11-25").date()


def write_folders(with_eps: Path, without: Path, n_clients: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    ids = np.char.add("P", np.char.zfill(np.arange(n_clients).astype(str), 7))
    start1 = np.datetime64("2023-01-02") + rng.integers(0, 300, n_clients).astype("timedelta64[D]")
    end1 = start1 + 7 * 8
    start2 = end1 + 60 + rng.integers(0, 120, n_clients).astype("timedelta64[D]")
    end2 = start2 + 7 * 8
    day = lambda a: np.datetime_as_string(a, unit="D")  # noqa: E731
    common = {"therapist_id": "T01", "status": "finished", "problem": "depression",
              "session_frequency": "weekly"}
    pd.DataFrame({"client_id": np.repeat(ids, 2), "episode_id": np.tile(["1", "2"], n_clients),
                  "start_date": day(np.column_stack([start1, start2]).ravel()),
                  "end_date": day(np.column_stack([end1, end2]).ravel()), **common}
                 ).to_csv(with_eps / "clients.csv", index=False)
    pd.DataFrame({"client_id": ids, "start_date": day(start1), "end_date": day(end2), **common}
                 ).to_csv(without / "clients.csv", index=False)
    weeks = (np.arange(6) * 8 * 7 // 5).astype("timedelta64[D]")
    dates = np.concatenate([start1[:, None] + weeks, start2[:, None] + weeks], axis=1).ravel()
    obs = pd.DataFrame({"client_id": np.repeat(ids, 12), "date": day(dates), "measure": "PHQ-9",
                        "score": rng.integers(0, 28, 12 * n_clients)})
    sessions = pd.DataFrame({"client_id": np.repeat(ids, 2),
                             "date": day(np.column_stack([start1 + 7, start2 + 7]).ravel()),
                             "attended": "true", "kind": "treatment"})
    for folder in (with_eps, without):
        obs.to_csv(folder / "observations.csv", index=False)
        sessions.to_csv(folder / "sessions.csv", index=False)


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def run(n_clients: int = 200_000, n_flag_clients: int = 20_000) -> dict:
    res: dict = {"clients": n_clients, "flag_clients": n_flag_clients}
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "episodes", Path(tmp) / "plain"
        a.mkdir()
        b.mkdir()
        write_folders(a, b, n_clients)
        plain, base = _timed(pk.load_data, b, today=TODAY)
        eps, kit = _timed(pk.load_data, a, today=TODAY)
        assert eps.problems.empty and len(eps.observations) == 12 * n_clients
        res["load_data"] = {"episodes s": kit, "plain s": base, "ratio": kit / base}
        _, base = _timed(pk.reliable_change, plain.observations, measure="PHQ-9")
        rc, kit = _timed(pk.reliable_change, eps.observations, measure="PHQ-9")
        assert len(rc) == 2 * n_clients
        res["reliable_change"] = {"episodes s": kit, "plain s": base, "ratio": kit / base}
        keep = plain.observations["client_id"].isin(plain.clients["client_id"][:n_flag_clients])
        _, base = _timed(pk.client_flags, plain.observations[keep], clients=plain.clients)
        fl, kit = _timed(pk.client_flags, eps.observations[keep.to_numpy()], clients=eps.clients)
        assert len(fl) == n_flag_clients
        res["client_flags"] = {"episodes s": kit, "plain s": base, "ratio": kit / base}
    return res


def to_markdown(res: dict) -> str:
    rows = ["| call | with episodes (s) | same rows, no episodes (s) | ratio |",
            "|---|---|---|---|"]
    for name, n in (("load_data", res["clients"]), ("reliable_change", res["clients"]),
                    ("client_flags", res["flag_clients"])):
        r = res[name]
        rows.append(f"| {name}, {n:,} clients x 2 episodes | {r['episodes s']:.2f} | "
                    f"{r['plain s']:.2f} | {r['ratio']:.2f}x |")
    return "\n".join(rows)
