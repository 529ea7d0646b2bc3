"""A synthetic national-scale cohort: N clients x S sessions of PHQ-9 and GAD-7, made with NumPy."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_cohort(n_clients: int, n_sessions: int = 12, seed: int = 0,
                categorical_ids: bool = False, order: str = "client") -> pd.DataFrame:
    """Long observations (``client_id``, ``date``, ``measure``, ``score``).

    Each client starts on a random day in 2024-2025 and is seen weekly; PHQ-9 follows a random
    linear course from a random intake, GAD-7 follows it with its own noise. ``order``:
    ``"client"`` (sorted by client, date and measure, as a ROM export and ``write_data`` give
    it), ``"measure"`` (all PHQ-9 rows, then all GAD-7 rows) or ``"shuffled"``.
    """
    rng = np.random.default_rng(seed)
    n = n_clients * n_sessions
    client = np.repeat(np.arange(n_clients, dtype=np.int64), n_sessions)
    session = np.tile(np.arange(n_sessions), n_clients)
    start = np.datetime64("2024-01-01") + rng.integers(0, 600, n_clients).astype("timedelta64[D]")
    dates = np.repeat(start, n_sessions) + (7 * session).astype("timedelta64[D]")
    intake = rng.normal(16, 4, n_clients)
    slope = rng.normal(-0.6, 0.6, n_clients)
    course = np.repeat(intake, n_sessions) + np.repeat(slope, n_sessions) * session
    phq = np.clip(np.rint(course + rng.normal(0, 2, n)), 0, 27)
    gad = np.clip(np.rint(course * 0.75 + rng.normal(0, 2, n)), 0, 21)
    labels = np.char.add("P", np.char.zfill(np.arange(n_clients).astype(str), 7))
    if categorical_ids:
        ids = pd.Categorical.from_codes(client, categories=labels)
    else:
        ids = pd.array(labels, dtype="str").take(client)
    frame = pd.DataFrame({
        "client_id": np.concatenate([ids, ids]) if not categorical_ids else
        pd.Categorical.from_codes(np.concatenate([client, client]), categories=labels),
        "date": np.concatenate([dates, dates]).astype("datetime64[ns]"),
        "measure": pd.Categorical.from_codes(np.repeat([0, 1], n), categories=["PHQ-9", "GAD-7"]),
        "score": np.concatenate([phq, gad]),
    })
    if order == "client":
        # row i of PHQ-9 and row i of GAD-7 are the same client and session: interleave them
        n = n_clients * n_sessions
        frame = frame.take(np.column_stack([np.arange(n), np.arange(n) + n]).ravel())
    elif order == "shuffled":
        frame = frame.take(np.random.default_rng(seed + 1).permutation(len(frame)))
    elif order != "measure":
        raise ValueError(f"order must be 'client', 'measure' or 'shuffled', not {order!r}")
    return frame.reset_index(drop=True)
