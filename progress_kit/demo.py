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
* With ``episodes=True``, a few returning clients (episodes of care): each client's course above
  is their current episode, and before it an earlier episode ended 4-10 months before they came
  back (:data:`RETURNING`: one recovered and relapsed, one dropped out and was re-referred, ...).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .data import (
    EPISODE,
    ClinicData,
    assign_episodes,
    write_data,  # noqa: F401  (kept importable from here)
)

__all__ = ["demo_data", "SLEEP_EFFECT", "HOMEWORK_EFFECT", "TRAJECTORIES", "RETURNING"]

SLEEP_EFFECT = 0.6
"""Planted within-person effect: mood points per sleep-quality point on the previous day."""
HOMEWORK_EFFECT = 0.5
"""Planted within-person effect: mood points per homework point on the same day."""
TRAJECTORIES = {"responder": 0.45, "non_responder": 0.17, "deteriorator": 0.12,
                "dropout": 0.14, "sudden_gain": 0.12}
"""Share of each planted trajectory type."""

RETURNING = ("recovered", "dropped", "recovered", "unchanged")
"""The earlier episode of each returning client of ``demo_data(episodes=True)``, in order:
``recovered`` (a responder from intake 16-20 to about a third of it, finished: recovered by
the registry's cut-off and reliable change), ``dropped`` (3-5 weekly sessions, then no more)
and ``unchanged`` (flat, finished still in the clinical range)."""

_PROBLEMS = {"depression": 0.5, "gad": 0.35, "social_anxiety": 0.15}


def _last_full_month_end(today: dt.date) -> dt.date:
    return today.replace(day=1) - dt.timedelta(days=1)


def demo_data(n_clients: int = 60, months: int = 6, seed: int = 0,
              end: str | dt.date | None = None, n_therapists: int = 4,
              items: bool = False, episodes: bool = False) -> ClinicData:
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
    items : bool
        Also give item-level answers (``.items``) for every PHQ-9 and GAD-7 score, summing to
        the total. PHQ-9 item 9 (thoughts of self-harm) is mostly 0; a client whose PHQ-9 is 15
        or more answers it 1 or 2 now and then. Off by default, so the default clinic stays the
        same; the totals and everything else are identical either way.
    episodes : bool
        Add a few returning clients (episodes of care, see :func:`progress_kit.assign_episodes`):
        ``min(4, max(1, n_clients // 3))`` clients, picked at random, get an earlier episode
        that ended 4-10 months before the course above (which becomes their current episode),
        planted as :data:`RETURNING` says, with its own sessions, scores and (for a diary
        keeper) diary. ``clients`` then has an ``episode_id`` column (``"1"`` and ``"2"`` for a
        returning client, blank for everyone else) and every observation, session and item
        its episode. The earlier episodes may start before the period: they are the clients'
        history. Off by default; everyone else's data are the same either way.

    Returns
    -------
    ClinicData
        ``.observations``, ``.clients``, ``.sessions`` (with ``duration_minutes``: about 75 for
        an assessment and 50 for a treatment session, NaN when missed), ``.items`` (empty unless
        ``items``) in the validated format, and ``.truth``
        (one row per client: ``trajectory``, ``diary``, ``intake_phq9``, ``gain_session``,
        ``sleep_effect``, ``homework_effect``, all of the current episode; with ``episodes``
        also ``first_episode``: the earlier episode's planted outcome, blank for a client who
        did not come back). Write it with ``.write(folder)``.

    Examples
    --------
    >>> clinic = demo_data(n_clients=10, months=3, seed=0, end="2025-06-30")
    >>> sorted(clinic.observations["measure"].unique())[:3]
    ['GAD-7', 'PHQ-9', 'SPIN']
    >>> clinic.observations["date"].max() <= pd.Timestamp("2025-06-30")
    True
    >>> back = demo_data(n_clients=12, months=6, seed=0, end="2025-06-30", episodes=True)
    >>> back.clients.groupby("client_id").size().value_counts().sort_index().to_dict()
    {1: 8, 2: 4}
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
    sessions_df = pd.DataFrame(sessions, columns=["client_id", "date", "attended", "kind"])
    # separate random streams: the durations, items and earlier episodes never change the rest
    # of the clinic
    sessions_df["duration_minutes"] = _durations(np.random.default_rng([seed, 1]), sessions_df)
    clients_df, truth_df = pd.DataFrame(clients), pd.DataFrame(truth)
    if episodes:
        clients_df, sessions_df, obs, truth_df = _earlier_episodes(
            np.random.default_rng([seed, 3]), clients_df, sessions_df, obs, truth_df,
            n_therapists)
    observations = pd.DataFrame(obs, columns=["client_id", "date", "measure", "score"])
    observations = observations.sort_values(["client_id", "date", "measure"], ignore_index=True)
    clinic = ClinicData(observations, clients_df, sessions_df, truth=truth_df)
    if items:
        clinic.items = _items(np.random.default_rng([seed, 2]), observations)
    if episodes:
        for name in ("observations", "sessions", "items"):
            frame = getattr(clinic, name)
            frame.insert(1, EPISODE, assign_episodes(frame, clients_df).to_numpy(dtype=object))
    return clinic


def _earlier_episodes(rng: np.random.Generator, clients: pd.DataFrame, sessions: pd.DataFrame,
                      obs: list[tuple], truth: pd.DataFrame, n_therapists: int):
    """A few clients get an earlier episode (:data:`RETURNING`) ending 4-10 months before their
    course, which becomes episode "2"; everyone else gets a blank ``episode_id``."""
    k = min(len(RETURNING), max(1, len(clients) // 3))
    who = np.sort(rng.choice(len(clients), size=k, replace=False))
    clients = clients.assign(**{EPISODE: ""})
    clients.insert(1, EPISODE, clients.pop(EPISODE))
    truth = truth.assign(first_episode="")
    earlier, new_sessions = [], []
    for outcome, i in zip(RETURNING, who, strict=False):
        row = clients.iloc[i]
        cid = row["client_id"]
        came_back = row["start_date"] - pd.Timedelta(days=int(rng.integers(120, 305)))
        ep, s, o = _earlier_episode(rng, cid, outcome, came_back, str(row["problem"]),
                                    n_therapists, bool(truth.at[i, "diary"]))
        earlier.append(ep)
        new_sessions.extend(s)
        obs.extend(o)
        clients.iat[i, 1] = "2"
        truth.at[i, "first_episode"] = outcome
    extra = pd.DataFrame(new_sessions, columns=["client_id", "date", "attended", "kind"])
    extra["duration_minutes"] = _durations(rng, extra)
    sessions = pd.concat([sessions, extra], ignore_index=True).sort_values(
        ["client_id", "date"], kind="stable", ignore_index=True)
    clients = pd.concat([clients, pd.DataFrame(earlier)], ignore_index=True)
    # each client's episodes together, in order of start
    clients = clients.sort_values(["client_id", "start_date"], kind="stable", ignore_index=True)
    return clients, sessions, obs, truth


def _earlier_episode(rng: np.random.Generator, cid: str, outcome: str, last_day: pd.Timestamp,
                     problem: str, n_therapists: int, diary: bool):
    """Episode "1": weekly sessions up to ``last_day`` with the planted ``outcome``."""
    n = int(rng.integers(3, 6)) if outcome == "dropped" else int(rng.integers(8, 13))
    dates = [last_day - pd.Timedelta(days=7 * k) for k in range(n - 1, -1, -1)]
    intake = float(rng.uniform(16, 20))
    k = np.arange(n, dtype=float)
    course = (intake * (0.3 + 0.7 * np.exp(-k / 2.5)) if outcome == "recovered" else
              intake - 2 * np.minimum(k, 2) / 2 if outcome == "dropped" else
              intake + rng.normal(0, 0.3, n).cumsum())
    attended = rng.random(n) > 0.08
    attended[[0, -1]] = True  # the intake and the last session are scored
    sessions, obs = [], []
    for j, (day, went) in enumerate(zip(dates, attended, strict=True)):
        sessions.append((cid, day, bool(went), "assessment" if j == 0 else "treatment"))
        if went:
            obs.extend(_questionnaires(rng, cid, day, course[j], problem))
    if diary:
        obs.extend(_diary(rng, cid, dates[0], dates[-1], intake))
    episode = {"client_id": cid, EPISODE: "1",
               "therapist_id": f"T{int(rng.integers(1, n_therapists + 1)):02d}",
               "start_date": dates[0], "end_date": dates[-1],
               "status": "dropped" if outcome == "dropped" else "finished", "problem": problem,
               "session_frequency": "weekly"}
    return episode, sessions, obs


def _durations(rng: np.random.Generator, sessions: pd.DataFrame) -> np.ndarray:
    """Minutes per session, to the nearest 5: assessments run longer; a missed one has none."""
    assessment = (sessions["kind"] == "assessment").to_numpy()
    mean = np.where(assessment, 75.0, 50.0)
    minutes = np.clip(5 * np.round((mean + rng.normal(0, 5, len(sessions))) / 5), 30, 120)
    return np.where(sessions["attended"].to_numpy(dtype=bool), minutes, np.nan)


def _items(rng: np.random.Generator, observations: pd.DataFrame) -> pd.DataFrame:
    """Item answers (0-3) that sum to each PHQ-9 and GAD-7 total."""
    rows = []
    scored = observations[observations["measure"].isin(["PHQ-9", "GAD-7"])]
    for cid, day, measure, score in scored.itertuples(index=False):
        n = 9 if measure == "PHQ-9" else 7
        total = int(score)
        answers = np.zeros(n, dtype=int)
        if measure == "PHQ-9":
            # item 9 stays 0 unless the total is high, and then only now and then
            critical = int(rng.integers(1, 3)) if total >= 15 and rng.random() < 0.25 else 0
            answers[8] = max(critical, total - 24)
        for _ in range(total - answers.sum()):
            free = np.flatnonzero(answers[: 8 if measure == "PHQ-9" else n] < 3)
            answers[rng.choice(free)] += 1
        rows.extend((cid, day, measure, k + 1, float(a)) for k, a in enumerate(answers))
    return pd.DataFrame(rows, columns=["client_id", "date", "measure", "item", "response"]
                        ).astype({"item": "int64"})


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
