"""A realistic synthetic clinic with documented, planted ground truth.

The demo clinic is for trying the kit, for the reports' demo and for tests that check whether the
statistics recover what was planted. Nothing in it is real client data.

Planted ground truth (the ``truth`` table holds the per-client values):

* Trajectories over weekly sessions (PHQ-9, GAD-7, and SPIN for social anxiety):
  ``responder`` (log-linear decline to 35-55% of intake), ``non_responder`` (flat),
  ``deteriorator`` (rises 7-10 PHQ-9 points over the first four sessions, then stays up),
  ``dropout`` (an early partial response, then no sessions after session 3-5) and
  ``sudden_gain`` (flat, then one between-session drop of 8-10 PHQ-9 points, then flat).
* Daily diary, for about 80% of clients, with missing days (single days and runs of 3-7 days):
  ``mood`` on day t = person level + ``SLEEP_EFFECT`` x (sleep_quality on day t-1 minus its person
  mean) + ``HOMEWORK_EFFECT`` x (homework on day t minus its person mean) + noise. ``sleep_quality``
  on a diary day rates the night that begins on that day, so it moves the *next* day's mood.
* Between persons the homework-mood relation runs the other way: clients with more severe
  intake get more homework and have lower mood (a planted Simpson's paradox), so a pooled
  correlation is negative while the within-person one is positive.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .data import ClinicData, write_data  # noqa: F401  (write_data: kept importable from here)

__all__ = ["demo_data", "SLEEP_EFFECT", "HOMEWORK_EFFECT", "TRAJECTORIES"]

SLEEP_EFFECT = 0.6
"""Planted within-person effect: mood points per sleep-quality point on the previous day."""
HOMEWORK_EFFECT = 0.5
"""Planted within-person effect: mood points per homework point on the same day."""
TRAJECTORIES = {"responder": 0.45, "non_responder": 0.17, "deteriorator": 0.12,
                "dropout": 0.14, "sudden_gain": 0.12}
"""Share of each planted trajectory type."""

_PROBLEMS = {"depression": 0.5, "gad": 0.35, "social_anxiety": 0.15}


def _last_full_month_end(today: dt.date) -> dt.date:
    return today.replace(day=1) - dt.timedelta(days=1)


def demo_data(n_clients: int = 60, months: int = 6, seed: int = 0,
              end: str | dt.date | None = None, n_therapists: int = 4) -> ClinicData:
    """Generate a synthetic clinic with planted trajectories and diary effects.

    Parameters
    ----------
    n_clients : int
        Number of clients (each gets a random start date inside the period).
    months : int
        Length of the period in calendar months, ending on ``end``.
    seed : int
        Random seed; the same seed and ``end`` give the same clinic.
    end : str or date, optional
        The last day of data (default: the last day of the previous calendar month).
    n_therapists : int
        Therapists ``T01`` ... are assigned at random.

    Returns
    -------
    ClinicData
        ``.observations``, ``.clients``, ``.sessions`` in the validated format, and ``.truth``
        (one row per client: ``trajectory``, ``diary``, ``intake_phq9``, ``gain_session``,
        ``sleep_effect``, ``homework_effect``). Write it with ``.write(folder)``.

    Examples
    --------
    >>> clinic = demo_data(n_clients=10, months=3, seed=0, end="2025-06-30")
    >>> sorted(clinic.observations["measure"].unique())[:3]
    ['GAD-7', 'PHQ-9', 'SPIN']
    >>> clinic.observations["date"].max() <= pd.Timestamp("2025-06-30")
    True
    """
    if n_clients < 1 or months < 1:
        raise ValueError(f"n_clients and months must be at least 1 (got {n_clients}, {months})")
    end_day = pd.Timestamp(end) if end is not None else pd.Timestamp(
        _last_full_month_end(dt.date.today()))
    start_day = (end_day + pd.Timedelta(days=1)) - pd.DateOffset(months=months)
    rng = np.random.default_rng(seed)
    width = max(3, len(str(n_clients)))
    obs, clients, sessions, truth = [], [], [], []
    kinds = rng.choice(list(TRAJECTORIES), size=n_clients, p=list(TRAJECTORIES.values()))
    for i, kind in enumerate(kinds):
        cid = f"C{i + 1:0{width}d}"
        c, s, o, t = _one_client(rng, cid, str(kind), start_day, end_day, n_therapists)
        clients.append(c)
        sessions.extend(s)
        obs.extend(o)
        truth.append(t)
    observations = pd.DataFrame(obs, columns=["client_id", "date", "measure", "score"])
    observations = observations.sort_values(["client_id", "date", "measure"], ignore_index=True)
    sessions_df = pd.DataFrame(sessions, columns=["client_id", "date", "attended", "kind"])
    return ClinicData(observations, pd.DataFrame(clients), sessions_df, truth=pd.DataFrame(truth))


def _one_client(rng: np.random.Generator, cid: str, kind: str, start_day: pd.Timestamp,
                end_day: pd.Timestamp, n_therapists: int):
    span = (end_day - start_day).days
    # most clients start in the first two thirds of the period so that courses can unfold
    start = start_day + pd.Timedelta(days=int(rng.integers(0, max(1, int(span * 0.7)))))
    frequency = rng.choice(["weekly", "fortnightly"], p=[0.85, 0.15])
    step = 7 if frequency == "weekly" else 14
    problem = str(rng.choice(list(_PROBLEMS), p=list(_PROBLEMS.values())))
    planned = int(rng.integers(8, 17))
    if kind == "dropout":
        planned = int(rng.integers(3, 6))
    dates = [start + pd.Timedelta(days=step * k) for k in range(planned)]
    dates = [d for d in dates if d <= end_day]
    intake = float(np.clip(rng.normal(16.5, 3.5), 10, 26))
    course = _course(rng, kind, intake, len(dates))
    attended = rng.random(len(dates)) > 0.08
    attended[0] = True
    session_rows, obs_rows = [], []
    for k, (day, went) in enumerate(zip(dates, attended, strict=True)):
        session_rows.append((cid, day, bool(went), "assessment" if k == 0 else "treatment"))
        if went:
            obs_rows.extend(_questionnaires(rng, cid, day, course[k], problem))
    finished_all = len(dates) == planned
    status = "dropped" if kind == "dropout" else ("finished" if finished_all else "active")
    end_date = dates[-1] if status != "active" else pd.NaT
    diary = bool(rng.random() < 0.8)
    last_diary = end_date if status != "active" else end_day
    truth = {"client_id": cid, "trajectory": kind, "diary": diary, "intake_phq9": round(intake),
             "gain_session": _gain_session(kind, len(dates)),
             "sleep_effect": SLEEP_EFFECT if diary else np.nan,
             "homework_effect": HOMEWORK_EFFECT if diary else np.nan}
    if diary:
        obs_rows.extend(_diary(rng, cid, start, last_diary, intake))
    client = {"client_id": cid, "therapist_id": f"T{int(rng.integers(1, n_therapists + 1)):02d}",
              "start_date": start, "end_date": end_date, "status": status, "problem": problem,
              "session_frequency": str(frequency)}
    return client, session_rows, obs_rows, truth


def _gain_session(kind: str, n: int) -> float:
    return float(min(4, n - 1)) if kind == "sudden_gain" and n > 4 else np.nan


def _course(rng: np.random.Generator, kind: str, intake: float, n: int) -> np.ndarray:
    """Expected PHQ-9 at each session for the planted trajectory."""
    k = np.arange(n, dtype=float)
    if kind == "responder":
        floor = intake * rng.uniform(0.35, 0.55)
        return floor + (intake - floor) * np.exp(-k / rng.uniform(2.5, 4.0))
    if kind == "deteriorator":
        return intake + rng.uniform(7, 10) * np.minimum(k, 4) / 4
    if kind == "dropout":
        return intake - rng.uniform(1, 4) * np.minimum(k, 2) / 2
    if kind == "sudden_gain":
        drop = rng.uniform(8, 10)
        return np.where(k < min(4, n - 1), intake, intake - drop)
    return intake + rng.normal(0, 0.5, n).cumsum() * 0.3


def _questionnaires(rng: np.random.Generator, cid: str, day: pd.Timestamp, phq: float,
                    problem: str) -> list[tuple]:
    phq_score = int(np.clip(round(phq + rng.normal(0, 1.5)), 0, 27))
    gad_score = int(np.clip(round(phq * 0.72 + rng.normal(0, 1.5)), 0, 21))
    rows = [(cid, day, "PHQ-9", float(phq_score)), (cid, day, "GAD-7", float(gad_score))]
    if problem == "social_anxiety":
        spin = int(np.clip(round(phq * 1.9 + rng.normal(0, 3)), 0, 68))
        rows.append((cid, day, "SPIN", float(spin)))
    return rows


def _diary(rng: np.random.Generator, cid: str, first: pd.Timestamp, last: pd.Timestamp,
           intake: float) -> list[tuple]:
    days = pd.date_range(first, last, freq="D")
    n = len(days)
    if n < 2:
        return []
    present = rng.random(n) > 0.12
    for _ in range(int(rng.poisson(n / 45))):
        gap_start = int(rng.integers(0, n))
        present[gap_start:gap_start + int(rng.integers(3, 8))] = False
    severity = (intake - 16.5) / 3.5
    sleep = np.clip(np.round(3 + 0.8 * rng.standard_normal(n)), 1, 5)
    # between persons: more severe clients get more homework and have lower mood
    homework = np.clip(np.round(2.5 + 0.8 * severity + 1.1 * rng.standard_normal(n)), 0, 5)
    goals = np.clip(np.round(2.5 + 1.0 * rng.standard_normal(n)), 0, 5)
    takeaways = rng.poisson(1.2, n).astype(float)
    level = 6.0 - 1.2 * severity
    prev_sleep = np.r_[sleep.mean(), sleep[:-1]]
    mood = (level + SLEEP_EFFECT * (prev_sleep - sleep.mean())
            + HOMEWORK_EFFECT * (homework - homework.mean()) + rng.normal(0, 0.7, n))
    mood = np.clip(np.round(mood), 1, 10)
    fields = {"mood": mood, "sleep_quality": sleep, "homework": homework,
              "goals_on_track": goals, "takeaways": takeaways}
    rows = []
    for j in np.flatnonzero(present):
        for name, values in fields.items():
            # a diary day now and then has a field left blank
            if name != "mood" and rng.random() < 0.03:
                continue
            rows.append((cid, days[j], name, float(values[j])))
    return rows
