"""Service outcomes the NHS Talking Therapies way: recovery, reliable improvement, deterioration.

:func:`talking_therapies_outcomes` gives one row per client (first and last score of the
depression and the anxiety measure, and the outcome flags); :func:`service_rates` turns those rows
into rates with numerators, denominators and Wilson confidence intervals, per service, therapist
or month, with small-cell suppression for publication.

As in :mod:`progress_kit.change`, the per-client reduction (first/last score per measure, a
factorise and at most one sort) is separate from the classification, which only looks at
per-client numbers.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from . import _cohort, _episodes
from ._dask import dask_dispatch, is_dask_collection
from ._dist import norm  # scipy.stats.norm's ppf without importing scipy.stats
from .change import _sort_order
from .measures import anxiety_measure_for, get_measure, reaches

__all__ = ["talking_therapies_outcomes", "service_rates", "wilson_interval", "period_bounds",
           "publication_counts", "protect_counts", "outcome_counts", "with_complements", "funnel_limits",
           "read_benchmarks", "published_rate", "PUBLICATION_RULE"]

_OBS_COLUMNS = ("client_id", "date", "measure", "score")


def _require(df: pd.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, not {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; it has {list(df.columns)}")


def _first_last(codes: np.ndarray, day: np.ndarray, slot: np.ndarray, score: np.ndarray,
                n_clients: int, n_slots: int) -> dict[str, np.ndarray]:
    """Per client and measure slot: first/last score and the number of scored days.

    Rows must be sorted by (client, day): each client's rows form one run. Returns arrays of
    shape (n_slots, n_clients).
    """
    first = np.full((n_slots, n_clients), np.nan)
    last = np.full((n_slots, n_clients), np.nan)
    count = np.zeros((n_slots, n_clients), dtype=np.int64)
    if not len(codes):
        return {"first": first, "last": last, "count": count}
    starts = np.flatnonzero(_cohort.starts(codes))
    client = codes[starts]
    for j in range(n_slots):
        is_j = slot == j
        # the slot's rows in sequence order; run r owns entries before[r] .. before[r]+k[r]-1
        # (no masking of the other columns: measures alternate row by row, which makes
        # boolean selection slow)
        where = np.flatnonzero(is_j)
        k = np.add.reduceat(is_j.view(np.int8), starts, dtype=np.int64)
        before = np.cumsum(k) - k
        has = k > 0
        c = client[has]
        first[j, c] = score[where[before[has]]]
        last[j, c] = score[where[before[has] + k[has] - 1]]
        count[j, client] = k
    return {"first": first, "last": last, "count": count}


def _slot_of(categories: pd.Index, names: list[str]) -> np.ndarray:
    """Measure slot per category code (-1: not used); the last entry serves code -1 (missing)."""
    slot_of_cat = np.full(len(categories) + 1, -1, dtype=np.int8 if len(names) < 127 else np.int64)
    for j, n in enumerate(names):
        hit = categories.get_indexer([n])[0]
        if hit >= 0:
            slot_of_cat[hit] = j
    return slot_of_cat


def _rows_by_client(observations: pd.DataFrame, names: list[str]):
    """The scored rows of the named measures, ordered by client and day:
    ``(codes, uniques, day, slot, score)``, ``slot`` indexing ``names``.

    Codes number the clients in their order of first appearance among those rows. They come
    from the frame's shared factorisation and sort where it applies (:mod:`progress_kit._cohort`),
    else from a factorisation and at most one sort here.
    """
    ids, dates, scores = observations["client_id"], observations["date"], observations["score"]
    prep = _cohort.prepared(observations, "client_id", "date") \
        if pd.api.types.is_datetime64_any_dtype(dates) and isinstance(scores.dtype, np.dtype) \
        and scores.dtype.kind in "fiu" else None
    if prep is not None:
        slot = _slot_of(prep.mcats, names)[prep.measure_codes()]
        score = prep.sorted_column(observations, "score")
        keep = (slot >= 0) & ~np.isnan(score)
        if keep.all():  # no copies of 24-million-row columns when every row counts
            keep = None
        else:
            slot, score = slot[keep], score[keep]
        rows, codes, toff = prep.decode(keep)
        del keep
        if prep.missing_time and (toff == 0).any():
            raise ValueError("observations column 'date' has missing dates in scored rows")
        # one 24-million-row array at a time: each costs 100-200 MB at national scale
        sub, uniques = prep.first_appearance(rows, codes)
        del rows, codes
        return sub, uniques, prep.times(toff), slot, score
    mcol = observations["measure"]
    # measure slot per row via the (few) distinct measure names, never a per-row string op
    if isinstance(mcol.dtype, pd.CategoricalDtype):
        mcodes, mcats = mcol.cat.codes.to_numpy(), pd.Index(mcol.cat.categories)
    else:
        mcodes, mcats = pd.factorize(mcol)
        mcats = pd.Index(mcats)
    slot = _slot_of(mcats, names)[mcodes]
    score = pd.to_numeric(scores).to_numpy(dtype=float)
    keep = (slot >= 0) & ~np.isnan(score)
    return _rows_by_client_plain(ids, dates, keep, slot, score)


def _rows_by_client_plain(ids: pd.Series, dates: pd.Series, keep: np.ndarray, slot: np.ndarray,
                          score: np.ndarray):
    if not keep.all():
        ids, slot, score = ids[keep], slot[keep], score[keep]
        dates = dates[keep]
    codes, uniques = pd.factorize(ids)
    if (codes < 0).any():
        raise ValueError("observations column 'client_id' is missing in scored rows")
    if not pd.api.types.is_datetime64_any_dtype(dates):
        raise ValueError(f"observations column 'date' must hold dates (datetime64), not "
                         f"{dates.dtype}; read the data with progress_kit.read_observations()")
    if dates.isna().any():
        raise ValueError("observations column 'date' has missing dates in scored rows")
    day = dates.to_numpy(dtype="datetime64[ns]").view(np.int64)
    codes = codes.astype(np.int64)
    order = _sort_order(codes, day)
    if order is not None:
        # one array at a time, so each original is freed before the next copy (peak memory)
        codes = codes[order]
        day = day[order]
        slot = slot[order]
        score = score[order]
        del order
    return codes, uniques, day, slot, score


def talking_therapies_outcomes(observations: pd.DataFrame, sessions: pd.DataFrame | None = None,
                               *, depression: str = "PHQ-9", anxiety: str = "GAD-7",
                               clients: pd.DataFrame | None = None,
                               period: str | tuple | None = None) -> pd.DataFrame:
    """Per-client outcomes as NHS Talking Therapies reports them, for referrals that ended.

    Parameters
    ----------
    observations : DataFrame
        Long table with ``client_id``, ``date``, ``measure``, ``score`` (other measures are
        ignored, as are missing scores).
    sessions : DataFrame, optional
        ``client_id``, ``attended`` (bool), ``kind``: attended ``treatment`` sessions count
        towards *finished*. Without it, days with a score stand in for sessions.
    depression : str
        Registry name of the depression measure.
    anxiety : str
        Registry name of the default anxiety measure.
    clients : DataFrame, optional
        ``client_id`` and ``problem``: a problem with a registered anxiety-disorder-specific
        measure (:func:`progress_kit.anxiety_measure_for`, e.g. social_anxiety -> SPIN) uses that
        measure when the client has scores on it, else ``anxiety``. A ``therapist_id`` column is
        carried over for :func:`service_rates`. With ``status`` and ``end_date`` (the data
        model's clients table) it says whose referral has *ended*: status ``finished`` or
        ``dropped`` with an end date. Scores after a client's end date are then ignored.
    period : str or (start, end), optional
        Keep only the referrals that ended in this period, as the national statistics count:
        a month ``"2026-10"``, a quarter ``"2026Q4"``, a year ``"2026"`` or a pair of dates
        (both days included). Needs ``clients`` with ``status`` and ``end_date``.

    Returns
    -------
    DataFrame
        One row per client, indexed by ``client_id`` (one row per referral, indexed by
        ``client_id`` and ``episode_id``, when ``observations`` has an ``episode_id`` column;
        ``sessions`` and ``clients`` then need it too): ``depression_measure``,
        ``anxiety_measure``, ``n_scored`` (days with a score on either), ``first_date``,
        ``last_date``, ``depression_first``/``_last``, ``anxiety_first``/``_last``, ``paired``
        (both measures scored on two or more days), ``n_treatment_sessions`` (with sessions),
        ``status`` and ``end_date`` (when ``clients`` has them), and the flags ``ended``,
        ``finished``, ``caseness_start``, ``recovery``, ``reliable_improvement``,
        ``reliable_deterioration``, ``reliable_recovery``.

    Notes
    -----
    *Finished a course of treatment* (NHS England 2023; NHS Digital, NHS Talking Therapies
    monthly statistics, "finished a course of treatment"): the referral has **ended** (status
    finished or dropped, with an end date) **and** the client attended at least two treatment
    sessions. A client still in treatment (status active, or no end date) has no outcome: every
    flag is False, so mid-treatment scores never count as an outcome.

    Without ``clients`` (or without its ``status`` and ``end_date`` columns) the kit cannot know
    whose referral ended, so every client is treated as ended: pass only completed referrals
    then. ``attrs["method"]`` says which rule was applied.

    For each measure the first and the last score are compared (NHS England 2023):

    - caseness at start: first depression score clinical (PHQ-9 >= 10) or first anxiety score
      clinical (GAD-7 >= 8, or the disorder-specific measure's cut-off);
    - recovery: finished, a case at start, and neither last score clinical;
    - reliable improvement: finished, at least one measure improved by at least its published
      threshold (PHQ-9 6, GAD-7 4 points) and neither reliably deteriorated;
    - reliable deterioration: finished, at least one deteriorated by its threshold and neither
      reliably improved (mixed change counts as neither);
    - reliable recovery: recovery and reliable improvement.

    A measure without scores does not count as clinical; check ``paired`` when the service
    requires paired scores on both measures. All flags are False for clients who have not
    finished. Clients in ``clients`` or ``sessions`` without any score are included (with
    ``n_scored`` 0), so a client finished by sessions but never scored counts in the
    denominators of :func:`service_rates`; filter on ``paired`` first if that is not wanted.

    References
    ----------
    NHS England (2023). NHS Talking Therapies for anxiety and depression manual, v7.
    Clark, D. M., et al. (2018). Transparency about the outcomes of mental health services
    (IAPT approach). Lancet 391, 679-686.

    Examples
    --------
    >>> obs = pd.DataFrame({
    ...     "client_id": ["a"] * 4 + ["b"] * 4,
    ...     "date": pd.to_datetime(["2026-01-05", "2026-01-05", "2026-03-02", "2026-03-02"] * 2),
    ...     "measure": ["PHQ-9", "GAD-7"] * 4,
    ...     "score": [16, 12, 7, 5, 14, 6, 12, 9]})
    >>> clients = pd.DataFrame({"client_id": ["a", "b"], "status": ["finished", "dropped"],
    ...                         "end_date": pd.to_datetime(["2026-03-09", "2026-03-20"])})
    >>> out = talking_therapies_outcomes(obs, clients=clients, period="2026-03")
    >>> out[["caseness_start", "recovery", "reliable_improvement", "reliable_recovery"]]
    ... # doctest: +NORMALIZE_WHITESPACE
               caseness_start  recovery  reliable_improvement  reliable_recovery
    client_id
    a                    True      True                  True               True
    b                    True     False                 False              False
    """
    if _episodes.has_episodes(observations):
        return _episodes.per_episode(
            talking_therapies_outcomes, {"observations": observations, "sessions": sessions,
                                         "clients": clients},
            depression=depression, anxiety=anxiety, period=period)
    if any(is_dask_collection(f) for f in (observations, sessions, clients)):
        return dask_dispatch("talking_therapies_outcomes", observations, sessions, clients,
                             depression=depression, anxiety=anxiety, period=period)
    _require(observations, "observations", _OBS_COLUMNS)
    bounds = None if period is None else period_bounds(period)
    ends = _referral_ends(clients)
    if bounds is not None and ends is None:
        raise ValueError("period= needs clients with the columns 'status' and 'end_date', to know "
                         "whose referral ended in the period")
    dep_m = get_measure(depression)
    default_anx = get_measure(anxiety)
    for m in (dep_m, default_anx):
        if m.cutoff is None or not m.reliable_change:
            raise ValueError(f"measure {m.name!r} needs a cut-off and a reliable-change threshold "
                             "in the registry for Talking Therapies outcomes")

    # which anxiety measure each client should use, decided per distinct problem (few)
    anx_names = [anxiety]
    client_pref: pd.Series | None = None
    if clients is not None:
        _require(clients, "clients", ("client_id",))
        if "problem" in clients.columns:
            problems = clients["problem"].astype(object)
            uniq = pd.unique(problems)
            choice = {p: (anxiety_measure_for(p) if isinstance(p, str) else anxiety) for p in uniq}
            choice = {p: (anxiety if name == "GAD-7" else name) for p, name in choice.items()}
            anx_names += sorted({n for n in choice.values() if n != anxiety})
            client_pref = pd.Series(problems.map(choice).to_numpy(),
                                    index=clients["client_id"].to_numpy())
    names = [depression] + [n for n in anx_names if n != depression]
    measures = [get_measure(n) for n in names]

    codes, uniques, day, slot, score = _rows_by_client(observations, names)
    index = uniques.rename("client_id") if isinstance(uniques, pd.Index) else \
        pd.Index(uniques, name="client_id")
    extra = []
    if clients is not None:
        extra.append(clients["client_id"])
    if sessions is not None:
        _require(sessions, "sessions", ("client_id", "attended", "kind"))
        extra.append(sessions["client_id"])
    for col in extra:
        new = pd.Index(pd.unique(col))
        new = new[index.get_indexer(new) < 0]
        if len(new):
            index = index.append(new).rename("client_id")
    n = len(index)

    if ends is not None:
        # scores after the referral ended (follow-up) are not the end-of-treatment score;
        # dropping rows keeps the client/day order that _rows_by_client made
        end_day = _end_days(ends, index)
        within = day <= end_day[codes]
        if not within.all():
            codes, day, slot, score = codes[within], day[within], slot[within], score[within]

    per = _first_last(codes, day, slot, score, n, len(names))
    first, last, count = per["first"], per["last"], per["count"]

    # anxiety slot per client: preferred measure if the client has scores on it, else default
    default_slot = names.index(anxiety) if anxiety in names else 1
    anx_slot = np.full(n, default_slot, dtype=np.int64)
    if client_pref is not None:
        pref = client_pref[~client_pref.index.duplicated()].reindex(index).to_numpy()
        for j, name in enumerate(names):
            if j == 0 or name == anxiety:
                continue
            want = (pref == name) & (count[j] > 0)
            anx_slot[want] = j
    rows = np.arange(n)
    dep_first, dep_last = first[0], last[0]
    anx_first, anx_last = first[anx_slot, rows], last[anx_slot, rows]

    # days with a score on either used measure (rows are sorted by client and day)
    if len(names) == 2 and (anx_slot == 1).all():
        c_u, d_u = codes, day  # both measures in use for everyone: every row counts
    else:
        used = (slot == 0) | (slot == anx_slot[codes])
        c_u, d_u = codes[used], day[used]
    n_scored = np.zeros(n, dtype=np.int64)
    first_day = np.full(n, np.iinfo(np.int64).min)
    last_day = np.full(n, np.iinfo(np.int64).min)
    if len(c_u):
        s = _cohort.starts(c_u)
        n_scored = np.bincount(c_u[_cohort.starts(c_u, d_u)], minlength=n)
        e = _cohort.ends(s)
        first_day[c_u[s]], last_day[c_u[e]] = d_u[s], d_u[e]

    if sessions is not None:
        att = sessions["attended"].to_numpy(dtype=bool, na_value=False) & (
            sessions["kind"] == "treatment").to_numpy(dtype=bool, na_value=False)
        s_codes = index.get_indexer(sessions["client_id"][att])
        n_sessions = np.bincount(s_codes, minlength=n)
        enough = n_sessions >= 2
    else:
        enough = n_scored >= 2
    ended = np.ones(n, dtype=bool) if ends is None else ends["ended"].reindex(index).fillna(
        False).to_numpy(dtype=bool)
    finished = ended & enough

    def clinical(values: np.ndarray, slots: np.ndarray | int) -> np.ndarray:
        out = np.zeros(len(values), dtype=bool)
        for j, m in enumerate(measures):
            sel = slots == j if not isinstance(slots, int) else np.full(len(values), slots == j)
            if sel.any():
                out[sel] = m.is_clinical(values[sel])
        return out

    def reliable(first_v: np.ndarray, last_v: np.ndarray, slots: np.ndarray | int):
        imp = np.zeros(len(first_v), dtype=bool)
        det = np.zeros(len(first_v), dtype=bool)
        good = last_v - first_v
        for j, m in enumerate(measures):
            sel = slots == j if not isinstance(slots, int) else np.full(len(first_v), slots == j)
            if sel.any():
                signed = m.direction * good[sel]
                imp[sel] = reaches(signed, m.reliable_change)
                det[sel] = reaches(-signed, m.reliable_change)
        return imp, det

    case_start = clinical(dep_first, 0) | clinical(anx_first, anx_slot)
    clinical_end = clinical(dep_last, 0) | clinical(anx_last, anx_slot)
    imp_d, det_d = reliable(dep_first, dep_last, 0)
    imp_a, det_a = reliable(anx_first, anx_last, anx_slot)
    recovery = finished & case_start & ~clinical_end
    rel_imp = finished & (imp_d | imp_a) & ~det_d & ~det_a
    rel_det = finished & (det_d | det_a) & ~imp_d & ~imp_a

    nat = np.iinfo(np.int64).min
    out = pd.DataFrame({
        "depression_measure": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8),
                                                        categories=[depression]),
        "anxiety_measure": pd.Categorical.from_codes(anx_slot, categories=names),
        "n_scored": n_scored,
        "first_date": np.where(first_day == nat, nat, first_day).view("datetime64[ns]"),
        "last_date": np.where(last_day == nat, nat, last_day).view("datetime64[ns]"),
        "depression_first": dep_first, "depression_last": dep_last,
        "anxiety_first": anx_first, "anxiety_last": anx_last,
        "paired": (count[0] >= 2) & (count[anx_slot, rows] >= 2),
    }, index=index)
    if clients is not None and "therapist_id" in clients.columns:
        th = clients.drop_duplicates("client_id").set_index("client_id")["therapist_id"]
        out.insert(0, "therapist_id", th.reindex(index).to_numpy())
    if sessions is not None:
        out["n_treatment_sessions"] = n_sessions
    if ends is not None:
        out["status"] = ends["status"].reindex(index).to_numpy()
        out["end_date"] = ends["end_date"].reindex(index).to_numpy(dtype="datetime64[ns]")
    out["ended"] = ended
    out["finished"] = finished
    out["caseness_start"] = case_start
    out["recovery"] = recovery
    out["reliable_improvement"] = rel_imp
    out["reliable_deterioration"] = rel_det
    out["reliable_recovery"] = recovery & rel_imp
    out.attrs["method"] = (
        f"NHS Talking Therapies outcomes: depression {depression} "
        f"({dep_m.describe_cutoff()}, reliable change {dep_m.reliable_change:g} points); anxiety "
        + "; ".join(f"{m.name} ({m.describe_cutoff()}, reliable change {m.reliable_change:g} "
                    "points)" for m in measures[1:])
        + "; finished = " + ("referral ended (status finished or dropped, with an end date)"
                             if ends is not None else "every client taken as ended (no clients "
                             "table with status and end date)")
        + " and " + ("at least 2 attended treatment sessions" if sessions is not None
                     else "scores on at least 2 days (no sessions table)")
        + ("" if bounds is None else
           f"; referrals that ended {bounds[0]:%d %b %Y} to {bounds[1]:%d %b %Y}"))
    if bounds is not None:
        sel = out["ended"].to_numpy() & (out["end_date"] >= bounds[0]).to_numpy() & (
            out["end_date"] <= bounds[1]).to_numpy()
        method = out.attrs["method"]
        out = out[sel].copy()
        out.attrs["method"] = method
    return out


_PERIOD_FORMS = {r"\d{4}": "Y", r"\d{4}-\d{2}": "M", r"\d{4}Q[1-4]": "Q"}


def period_bounds(period: str | tuple) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of a reporting period (both included).

    Parameters
    ----------
    period : str or (start, end)
        ``"2026-10"`` (a month), ``"2026Q4"`` (a quarter), ``"2026"`` (a calendar year) or a
        pair of dates.

    Returns
    -------
    tuple of Timestamp
        Midnight of the first and of the last day.

    Examples
    --------
    >>> [f"{d:%Y-%m-%d}" for d in period_bounds("2026Q4")]
    ['2026-10-01', '2026-12-31']
    >>> [f"{d:%Y-%m-%d}" for d in period_bounds(("2026-10-05", "2026-11-04"))]
    ['2026-10-05', '2026-11-04']
    """
    if isinstance(period, tuple | list):
        if len(period) != 2:
            raise ValueError(f"period {period!r}: a pair of dates (start, end) has two items")
        try:
            start, end = (pd.Timestamp(d).normalize() for d in period)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"period {period!r}: not a pair of dates ({exc})") from None
        if pd.isna(start) or pd.isna(end) or start > end:
            raise ValueError(f"period {period!r}: the start must be a date on or before the end")
        return start, end
    text = str(period).strip()
    for pattern, freq in _PERIOD_FORMS.items():
        if re.fullmatch(pattern, text):
            try:
                p = pd.Period(text, freq=freq)
            except ValueError as exc:
                raise ValueError(f"period {period!r}: {exc}") from None
            return p.start_time.normalize(), p.end_time.normalize()
    raise ValueError(f"period {period!r}: use a month '2026-10', a quarter '2026Q4', a year '2026' "
                     "or a pair of dates (start, end)")


def _referral_ends(clients: pd.DataFrame | None) -> pd.DataFrame | None:
    """Per client: status, end date and whether the referral ended; None when not known."""
    if clients is None or not {"status", "end_date"} <= set(clients.columns):
        return None
    c = clients.drop_duplicates("client_id").set_index("client_id")
    end = pd.to_datetime(c["end_date"])
    status = c["status"].astype(object)
    ended = status.isin(["finished", "dropped"]) & end.notna()
    return pd.DataFrame({"status": status, "end_date": end, "ended": ended})


def _end_days(ends: pd.DataFrame, index: pd.Index) -> np.ndarray:
    """Last day (ns) on which a client's scores count: the end date, or no limit."""
    end = ends["end_date"].where(ends["ended"]).reindex(index)
    out = np.full(len(index), np.iinfo(np.int64).max)
    have = end.notna().to_numpy()
    out[have] = end[have].to_numpy(dtype="datetime64[ns]").view(np.int64)
    return out


def wilson_interval(successes, trials, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion (vectorised).

    Parameters
    ----------
    successes, trials : int or array-like
        Numerator and denominator.
    level : float
        Confidence level.

    Returns
    -------
    tuple of ndarray
        Lower and upper limits.

    Notes
    -----
    :math:`(\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}) / (1 + z^2/n)`,
    Wilson (1927); Newcombe (1998) method 3. NaN when ``trials`` is 0.

    References
    ----------
    Newcombe, R. G. (1998). Two-sided confidence intervals for the single proportion.
    Stat Med 17, 857-872.

    Examples
    --------
    >>> lo, hi = wilson_interval(81, 263)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.2553, 0.3662)
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = norm.ppf(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    bad = n <= 0
    return np.where(bad, np.nan, centre - half), np.where(bad, np.nan, centre + half)


SMALL_COUNT = 5
"""NHS Digital's threshold: counts below it are published as ``*`` (the kit's one home for it)."""

PUBLICATION_RULE = (
    "publication rule (progress-kit, extending NHS Digital's): counts below 5 shown as *, others "
    "rounded to the nearest 5; a * is 0-4, or a larger count withheld so that a small one cannot "
    "be worked out from a total, a sum of months or the other side of a rate (denominator minus "
    "numerator, where none on the other side counts as small: 'all of them' is withheld too); "
    "every rate, interval, funnel position and limit is computed from the published (rounded) "
    "counts, never the exact ones, and is withheld where its numerator, denominator or other "
    "side is withheld")
"""The rule every publication figure follows, printed in the methods (docs/change.md)."""


def _rounded(x) -> np.ndarray:
    """Nearest multiple of 5, a remainder of 3 or 4 rounding up (NHS Digital)."""
    return (np.asarray(x, dtype=np.int64) + 2) // 5 * 5

_RATES = [  # outcome, numerator count, denominator count
    ("finished", "finished", "ended"),
    ("caseness_start", "case_finished", "finished"),
    ("recovery", "recovery", "case_finished"),
    ("reliable_improvement", "reliable_improvement", "finished"),
    ("reliable_deterioration", "reliable_deterioration", "finished"),
    ("reliable_recovery", "reliable_recovery", "case_finished"),
]
_COUNTS = ["ended", "finished", "case_finished", "recovery", "reliable_improvement",
           "reliable_deterioration", "reliable_recovery"]
_AUDIENCES = ("publication", "internal")


def publication_counts(counts, hidden=None) -> np.ndarray:
    """Counts as NHS Digital publishes them: ``*`` below 5, others rounded to the nearest 5.

    Parameters
    ----------
    counts : array-like of int
        Exact counts.
    hidden : array-like of bool, optional
        Cells withheld for another reason (complementary suppression): shown as ``*`` too.

    Returns
    -------
    ndarray of str

    Notes
    -----
    NHS Digital's rule for its NHS Talking Therapies (IAPT) statistics: counts from 0 to 4 are
    replaced by ``*`` and every other count is rounded to the nearest 5 (a remainder of 3 or 4
    rounds up); rates are computed from the unrounded counts and withheld where the numerator
    or the denominator is below 5 (see :func:`service_rates`).

    References
    ----------
    NHS Digital. NHS Talking Therapies for anxiety and depression, monthly statistics: data
    quality and methodology statement ("Suppression and rounding").

    Examples
    --------
    >>> publication_counts([23, 7, 3, 0, 12, 5]).tolist()
    ['25', '5', '*', '*', '10', '5']
    """
    x = np.asarray(counts)
    if x.size and (np.any(x < 0) or np.any(x != np.round(x))):
        raise ValueError("publication_counts takes whole, non-negative counts")
    x = x.astype(np.int64)
    rounded = _rounded(x)
    out = np.where(x < SMALL_COUNT, "*", rounded.astype(str)).astype(object)
    if hidden is not None:
        out[np.asarray(hidden, dtype=bool)] = "*"
    return out


def protect_counts(counts, constraints, *, below: int = SMALL_COUNT,
                   zero_matters=None) -> np.ndarray:
    """Which cells to withhold: small counts (primary) and complements, so none is recoverable.

    Parameters
    ----------
    counts : array-like of int
        Every published count, flattened (one cell each).
    constraints : iterable of (int, sequence of int)
        Additive relations a reader knows: the cell ``total`` equals the sum of the cells
        ``parts`` (a service total and its therapists; a quarter and its months).
    below : int
        Counts below this are withheld (primary suppression).
    zero_matters : array-like of bool, optional
        Cells whose 0 must stay hidden too: the other side of a rate, where 0 says "all of
        them" (every finished client recovered). Elsewhere a withheld zero protects nothing.

    Returns
    -------
    ndarray of bool
        True where the cell must be withheld.

    Notes
    -----
    Complementary suppression by the usual heuristic: while some relation has exactly one
    withheld non-zero cell (a withheld zero protects nothing), the smallest shown part of it
    (or, when every part is withheld, its total) is withheld as well. A relation with none or
    at least two withheld non-zero cells cannot be solved for a single cell. Repeats until
    nothing changes, so a complement hidden for one relation is then
    protected in every other relation it belongs to. Relations that are not listed (for example
    with figures published in earlier months) are not covered.

    References
    ----------
    Hundepool, A., et al. (2012). Statistical Disclosure Control. Wiley, section 4.3 (secondary
    cell suppression).

    Examples
    --------
    Service total 23 = therapists 12 + 8 + 3: withholding 3 alone would leave it as 23 - 12 - 8.

    >>> protect_counts([23, 12, 8, 3], [(0, [1, 2, 3])]).tolist()
    [False, False, True, True]
    """
    x = np.asarray(counts, dtype=np.int64)
    hidden = x < below
    # a withheld zero protects nothing (a reader may well know the cell is empty), except
    # where a zero is itself the disclosure
    matters = x > 0
    if zero_matters is not None:
        matters = matters | np.asarray(zero_matters, dtype=bool).reshape(-1)
    rels = [(int(t), np.asarray(p, dtype=np.int64)) for t, p in constraints]
    changed = True
    while changed:
        changed = False
        for total, parts in rels:
            if (hidden[total] & matters[total]) + (hidden[parts] & matters[parts]).sum() != 1:
                continue
            shown = parts[~hidden[parts]]
            if len(shown):
                hidden[shown[np.argmin(x[shown])]] = True
            elif not hidden[total]:
                hidden[total] = True
            else:
                continue  # a total with no parts: nothing to protect
            changed = True
    return hidden


def _audience(audience: str, suppress: bool | None) -> str:
    if suppress is not None:
        warnings.warn("service_rates(suppress=...) is deprecated: use audience='publication' "
                      "(suppress=True) or audience='internal' (suppress=False)",
                      DeprecationWarning, stacklevel=3)
        audience = "publication" if suppress else "internal"
    if audience not in _AUDIENCES:
        raise ValueError(f"audience {audience!r}: choose 'publication' or 'internal'")
    return audience


def outcome_counts(outcomes: pd.DataFrame, by: str | list[str] | None = None) -> pd.DataFrame:
    """Exact counts behind :func:`service_rates`, one row per group (one row without ``by``).

    Columns ``ended`` (referrals ended; every row when ``outcomes`` has no ``ended`` column),
    ``finished``, ``case_finished`` (finished and a case at the start), ``recovery``,
    ``reliable_improvement``, ``reliable_deterioration``, ``reliable_recovery``.

    Examples
    --------
    >>> out = pd.DataFrame({"ended": [True, True, False], "finished": [True, False, False],
    ...     "caseness_start": True, "recovery": [True, False, False],
    ...     "reliable_improvement": [True, False, False], "reliable_deterioration": False,
    ...     "reliable_recovery": [True, False, False]})
    >>> outcome_counts(out)[["ended", "finished", "recovery"]].iloc[0].tolist()
    [2, 1, 1]
    """
    need = ("finished", "caseness_start", "recovery", "reliable_improvement",
            "reliable_deterioration", "reliable_recovery")
    _require(outcomes, "outcomes", need)
    ended = (outcomes["ended"].to_numpy(dtype=bool) if "ended" in outcomes.columns
             else np.ones(len(outcomes), dtype=bool))
    flags = pd.DataFrame({
        "ended": ended.astype(np.int64),
        "finished": outcomes["finished"].to_numpy(dtype=bool),
        "case_finished": (outcomes["finished"] & outcomes["caseness_start"]).to_numpy(dtype=bool),
        **{c: outcomes[c].to_numpy(dtype=bool) for c in need[2:]},
    }, index=outcomes.index)
    keys: list[str] = [] if by is None else ([by] if isinstance(by, str) else list(by))
    for k in keys:
        if k == "month":
            # referrals count in the month they ended (the national statistics' rule)
            col = "end_date" if "end_date" in outcomes.columns else "last_date"
            if col not in outcomes.columns:
                raise ValueError("by='month' needs the column 'end_date' (or 'last_date') in outcomes")
            flags["month"] = outcomes[col].dt.to_period("M").astype(str).to_numpy()
        elif k in outcomes.columns:
            flags[k] = outcomes[k].to_numpy()
        else:
            raise ValueError(f"by column {k!r} is not in outcomes; columns are "
                             f"{list(outcomes.columns)} (or 'month')")
    if keys:
        return flags.groupby(keys, observed=True, dropna=False)[_COUNTS].sum().astype(np.int64)
    return flags[_COUNTS].sum().astype(np.int64).to_frame().T


def service_rates(outcomes: pd.DataFrame, by: str | list[str] | None = None, *,
                  audience: str = "publication", level: float = 0.95,
                  suppress: bool | None = None) -> pd.DataFrame:
    """Service-level rates from :func:`talking_therapies_outcomes`, with Wilson intervals.

    Parameters
    ----------
    outcomes : DataFrame
        Output of :func:`talking_therapies_outcomes` (usually with ``period=``).
    by : str or list of str, optional
        Group by these columns, e.g. ``"therapist_id"``; ``"month"`` groups by the calendar
        month in which the referral ended (``end_date``; ``last_date`` without it).
    audience : {"publication", "internal"}
        ``"publication"`` (default) follows NHS Digital: counts below 5 are shown as ``"*"``,
        other counts are rounded to the nearest 5, and a rate is withheld where its numerator,
        denominator or other side is withheld. Rates and intervals come from the *rounded*
        counts (:func:`published_rate`), so none can be worked back to an exact count. In a
        breakdown, complementary suppression withholds more cells so that no hidden count can be
        recovered from the service total. ``"internal"`` gives exact integer counts and every
        rate from them.
    level : float
        Confidence level of the Wilson interval.
    suppress : bool, optional
        Deprecated alias: ``True`` is ``audience="publication"``, ``False`` is ``"internal"``.

    Returns
    -------
    DataFrame
        Counts are of ``outcomes``' rows: referrals when it is indexed by client and episode
        (episodes of care), so a client who came back counts twice.
        Long table, one row per group and outcome: the ``by`` columns, ``outcome``,
        ``numerator``, ``denominator`` (text in publication, integers internally), ``rate``,
        ``ci_low``, ``ci_high`` (NaN where withheld).

    Notes
    -----
    - finished rate = finished / referrals ended;
    - caseness_start = finished and a case at the start / finished;
    - recovery rate = recovered / (finished and a case at the start);
    - reliable improvement and reliable deterioration rates: over finished;
    - reliable recovery rate: over finished and a case at the start, like recovery.

    Publication (:data:`PUBLICATION_RULE`, docs/change.md) goes beyond NHS Digital's rule in
    three ways. The other side of each rate (denominator minus numerator) is protected like a
    count, a 0 included: "finished 7 of 8" would tell that one referral did not finish, and
    "10 of 10" that every one did, so the numerator is withheld too. A rate and its interval
    come from the rounded counts, never the exact ones: NHS Digital's unrounded rates are safe
    for national tables but give 7 of 12 away for a therapist. And every count is protected
    against the service total and the rate relations together (:func:`protect_counts`).
    Tables broken down by several columns at once are protected only against the overall
    total: check their margins before publishing.

    References
    ----------
    NHS England (2023). NHS Talking Therapies for anxiety and depression manual, v7.
    NHS Digital. NHS Talking Therapies monthly statistics, data quality and methodology
    statement (suppression and rounding).

    Examples
    --------
    >>> outcomes = pd.DataFrame({"finished": [True] * 10,
    ...     "caseness_start": [True] * 8 + [False] * 2,
    ...     "recovery": [True] * 6 + [False] * 4,
    ...     "reliable_improvement": [True] * 7 + [False] * 3,
    ...     "reliable_deterioration": False, "reliable_recovery": [True] * 5 + [False] * 5})
    >>> r = service_rates(outcomes, audience="internal").set_index("outcome")
    >>> [int(r.loc["recovery", "numerator"]), int(r.loc["recovery", "denominator"])]
    [6, 8]
    >>> float(r.loc["recovery", "rate"])
    0.75
    >>> pub = service_rates(outcomes).set_index("outcome")
    >>> pub.loc["recovery", ["numerator", "denominator"]].tolist()
    ['*', '10']
    >>> pub.loc["reliable_deterioration", "numerator"]
    '*'
    """
    audience = _audience(audience, suppress)
    keys: list[str] = [] if by is None else ([by] if isinstance(by, str) else list(by))
    sums = outcome_counts(outcomes, by)
    hidden = None
    if audience == "publication":
        full = with_complements(sums)
        hidden = pd.DataFrame(_protect_outcome_table(full.to_numpy(np.int64), list(full.columns),
                                                     total=bool(keys)),
                              index=full.index, columns=full.columns)
    parts = []
    for outcome, num, den in _RATES:
        part = pd.DataFrame({"outcome": outcome, "numerator": sums[num], "denominator": sums[den]})
        if hidden is not None:
            part["_hide_num"], part["_hide_den"] = hidden[num], hidden[den]
            part["_hide_rate"] = hidden[num] | hidden[den] | hidden[f"not_{outcome}"]
        parts.append(part.reset_index() if keys else part.reset_index(drop=True))
    table = pd.concat(parts, ignore_index=True)
    if keys:
        table = table.sort_values(keys, kind="stable", ignore_index=True)
    x, n = table["numerator"].to_numpy(np.int64), table["denominator"].to_numpy(np.int64)
    if hidden is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            table["rate"] = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
        table["ci_low"], table["ci_high"] = wilson_interval(x, n, level)
    else:
        hide_num = table.pop("_hide_num").to_numpy(bool)
        hide_den = table.pop("_hide_den").to_numpy(bool)
        withheld = table.pop("_hide_rate").to_numpy(bool)
        table["rate"], table["ci_low"], table["ci_high"] = published_rate(x, n, withheld, level)
        table["numerator"] = publication_counts(x, hide_num)
        table["denominator"] = publication_counts(n, hide_den)
    table.attrs["audience"] = audience
    table.attrs["suppressed"] = audience == "publication"
    table.attrs["method"] = f"Wilson {level:.0%} intervals" + (
        f"; {PUBLICATION_RULE}" + (
            "; complementary suppression across the groups and the service total (publish the "
            "total with service_rates(outcomes), protected the same way)" if keys else "")
        if audience == "publication" else "; exact counts (internal use)")
    if _episodes.EPISODE in outcomes.index.names:
        # each row is an episode of care: a client who came back counts once per referral
        table.attrs["method"] = _episodes.add_to_method(
            table.attrs["method"], "counts referrals (one per client_id and episode_id, as NHS "
            "Talking Therapies counts them), not people")
    return table


def published_rate(numerator, denominator, withheld=None,
                   level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rate and Wilson interval of a publication table, from the counts as published.

    Parameters
    ----------
    numerator, denominator : array-like of int
        Exact counts; only their published (rounded) values enter the result.
    withheld : array-like of bool, optional
        Rates to withhold (NaN): where the numerator, the denominator or the other side
        (denominator minus numerator) is withheld.
    level : float
        Confidence level of the Wilson interval.

    Returns
    -------
    tuple of ndarray
        Rate, lower and upper limit (NaN where withheld or where the denominator is 0).

    Notes
    -----
    NHS Digital computes published percentages from the unrounded counts, which is safe for
    denominators in the hundreds; for a therapist with 12 finished cases, "58.3%" is 7/12 and
    the rounding hid nothing (progress-kit issue 22). Here the rate is :math:`R(x) / R(n)` and the
    interval is Wilson's for :math:`R(x)` of :math:`R(n)`, :math:`R` rounding to the nearest 5,
    so every printed figure follows from printed counts and adds nothing a reader could solve
    for. The price: a rate off by up to a few points on small denominators (an approximate
    interval); the exact ones stay in the internal audience.

    Examples
    --------
    The demo's therapist T02 with 7 recovered of 12 is published as 5 of 10, 50%:

    >>> rate, lo, hi = published_rate([7], [12])
    >>> float(rate[0]), round(float(lo[0]), 4)
    (0.5, 0.2366)
    """
    x, n = _rounded(numerator), _rounded(denominator)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
    lo, hi = wilson_interval(x, n, level)
    if withheld is not None:
        w = np.asarray(withheld, dtype=bool)
        rate, lo, hi = (np.where(w, np.nan, a) for a in (rate, lo, hi))
    return rate, lo, hi


def _rate_relations(cell: np.ndarray, columns: list[str]) -> list:
    """Per row of ``cell`` (cell numbers, last axis = ``columns``): each rate's
    denominator = numerator + other side."""
    col = {c: j for j, c in enumerate(columns)}
    rows = np.asarray(cell).reshape(-1, len(columns))
    return [(r[col[den]], [r[col[num]], r[col[f"not_{o}"]]]) for r in rows for o, num, den in _RATES]


def _zero_matters(values: np.ndarray, columns: list[str]) -> np.ndarray:
    """The other side of each rate over a denominator above 0: a 0 there says 'all of them'."""
    col = {c: j for j, c in enumerate(columns)}
    v = np.asarray(values).reshape(-1, len(columns))
    out = np.zeros(v.shape, dtype=bool)
    for o, _, den in _RATES:
        out[:, col[f"not_{o}"]] = v[:, col[den]] > 0
    return out.reshape(np.shape(values))


def _protect_outcome_table(values: np.ndarray, columns: list[str], *, total: bool) -> np.ndarray:
    """Hidden cells of a group x count table (with the complements); with ``total``, protected
    beside the service total (the sum of the rows) as well."""
    cube = np.vstack([values, values.sum(axis=0, keepdims=True)]) if total else values
    cell = np.arange(cube.size).reshape(cube.shape)
    rel = _rate_relations(cell, columns)
    if total:
        rel += [(cell[-1, j], cell[:-1, j]) for j in range(cube.shape[1])]
    hidden = protect_counts(cube.reshape(-1), rel, zero_matters=_zero_matters(cube, columns))
    return hidden.reshape(cube.shape)[:len(values)]


def with_complements(counts: pd.DataFrame) -> pd.DataFrame:
    """Counts plus, for each rate, the other side: ``not_<outcome>`` = denominator - numerator.

    A rate with its interval gives the exact numerator and denominator away, and so their
    difference: "finished 7 of 8" tells that 1 did not finish. The differences are therefore
    protected like any published count, and a rate is withheld where its difference is.

    Examples
    --------
    >>> c = pd.DataFrame({k: [8] for k in _COUNTS}).assign(finished=7)
    >>> int(with_complements(c).loc[0, "not_finished"])
    1
    """
    extra = {f"not_{o}": counts[den] - counts[num] for o, num, den in _RATES}
    return pd.concat([counts, pd.DataFrame(extra, index=counts.index)], axis=1)


def funnel_limits(target: float, n, levels=(0.95, 0.998)) -> pd.DataFrame:
    """Control limits of a funnel plot for a proportion (exact binomial, interpolated).

    Parameters
    ----------
    target : float
        The proportion every unit is compared with (the service's overall rate, or a benchmark).
    n : int or array-like of int
        Denominators (e.g. finished cases per therapist) at which to give the limits.
    levels : sequence of float
        Two-sided coverage of each pair of limits: 0.95 (about 2 SD) and 0.998 (about 3 SD).

    Returns
    -------
    DataFrame
        ``n`` and, per level, ``lower_<level>`` and ``upper_<level>`` (e.g. ``lower_95``,
        ``upper_99.8``), proportions in [0, 1].

    Notes
    -----
    Spiegelhalter (2005), section 3 and appendix A.1.1: for the quantile :math:`p`, let
    :math:`r_p` be the smallest :math:`r` with :math:`P(R \\le r) \\ge p` for
    :math:`R \\sim \\mathrm{Binomial}(n, \\theta_0)`; then
    :math:`\\alpha = (P(R \\le r_p) - p) / (P(R \\le r_p) - P(R \\le r_p - 1))` and the limit is
    :math:`(r_p - \\alpha) / n`. The interpolation gives smooth limits for small :math:`n`; for
    large :math:`n` they approach :math:`\\theta_0 \\pm z \\sqrt{\\theta_0 (1 - \\theta_0) / n}`.
    A unit outside the 99.8% limits differs from the target by more than chance would give in
    about 1 in 500 comparisons (units are assumed independent, without over-dispersion).

    References
    ----------
    Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
    Statistics in Medicine 24, 1185-1202.

    Examples
    --------
    >>> lim = funnel_limits(0.5, [10, 100])
    >>> lim["lower_95"].round(4).tolist()
    [0.1324, 0.3968]
    """
    from ._dist import binom  # scipy.stats.binom's ppf and cdf without importing scipy.stats

    if not 0 < target < 1:
        raise ValueError(f"target {target!r}: a proportion strictly between 0 and 1")
    n = np.atleast_1d(np.asarray(n, dtype=np.int64))
    if (n < 1).any():
        raise ValueError("funnel_limits needs denominators of at least 1")
    out = {"n": n}
    for level in levels:
        if not 0 < level < 1:
            raise ValueError(f"level {level!r}: a coverage strictly between 0 and 1")
        name = f"{level * 100:g}"
        for side, p in (("lower", (1 - level) / 2), ("upper", 1 - (1 - level) / 2)):
            r = binom.ppf(p, n, target)  # smallest r with P(R <= r) >= p
            f_r, f_below = binom.cdf(r, n, target), binom.cdf(r - 1, n, target)
            with np.errstate(invalid="ignore", divide="ignore"):
                alpha = np.where(f_r > f_below, (f_r - p) / (f_r - f_below), 0.0)
            out[f"{side}_{name}"] = np.clip((r - alpha) / n, 0.0, 1.0)
    return pd.DataFrame(out)


_BENCHMARK_FIELDS = {"outcome": str, "rate": float, "label": str, "source": str, "date": str}


def read_benchmarks(path) -> pd.DataFrame:
    """Benchmark rates from a TOML file, each with its source, for the service report.

    Parameters
    ----------
    path : path
        A TOML file with ``[[benchmark]]`` tables, each with ``outcome`` (one of finished,
        recovery, reliable_improvement, reliable_deterioration, reliable_recovery), ``rate``
        (a proportion 0-1), ``label``, ``source`` and ``date`` (text: when it applies).

    Returns
    -------
    DataFrame
        One row per benchmark, in file order.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "benchmarks.toml"
    >>> _ = f.write_text('[[benchmark]]\\noutcome = "recovery"\\nrate = 0.5\\nlabel = "standard"\\n'
    ...                  'source = "NHS England"\\ndate = "2016"\\n')
    >>> read_benchmarks(f)[["outcome", "rate"]].values.tolist()
    [['recovery', 0.5]]
    """
    import tomllib
    from pathlib import Path

    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    items = doc.get("benchmark", [])
    if not isinstance(items, list):
        raise ValueError(f"{path}: 'benchmark' must be a list of tables ([[benchmark]])")
    outcomes = {o for o, _, _ in _RATES if o != "caseness_start"}
    rows = []
    for k, item in enumerate(items, start=1):
        where = f"{path}: benchmark {k}"
        extra = set(item) - set(_BENCHMARK_FIELDS)
        if extra:
            raise ValueError(f"{where}: unknown field(s) {sorted(extra)}")
        for name, kind in _BENCHMARK_FIELDS.items():
            value = item.get(name)
            ok = (isinstance(value, int | float) and not isinstance(value, bool)) if kind is float \
                else isinstance(value, str) and value.strip() != ""
            if not ok:
                raise ValueError(f"{where}: field {name!r} must be {'a number' if kind is float else 'text'}"
                                 f", not {value!r}")
        if item["outcome"] not in outcomes:
            raise ValueError(f"{where}: outcome {item['outcome']!r} is not one of {sorted(outcomes)}")
        if not 0 <= item["rate"] <= 1:
            raise ValueError(f"{where}: rate {item['rate']!r} must be a proportion from 0 to 1")
        rows.append({name: item[name] for name in _BENCHMARK_FIELDS})
    return pd.DataFrame(rows, columns=list(_BENCHMARK_FIELDS))
