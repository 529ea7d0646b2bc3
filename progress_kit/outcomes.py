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

import numpy as np
import pandas as pd
from scipy.stats import norm

from . import _cohort, distributed
from .change import _sort_order
from .distributed import is_dask_collection
from .measures import anxiety_measure_for, get_measure

__all__ = ["talking_therapies_outcomes", "service_rates", "wilson_interval"]

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

    Rows must be sorted by (client, day). Returns arrays of shape (n_slots, n_clients).
    """
    first = np.full((n_slots, n_clients), np.nan)
    last = np.full((n_slots, n_clients), np.nan)
    count = np.zeros((n_slots, n_clients), dtype=np.int64)
    for j in range(n_slots):
        sel = slot == j
        c, v = codes[sel], score[sel]
        if not len(c):
            continue
        start = np.r_[True, c[1:] != c[:-1]]
        end = np.r_[c[1:] != c[:-1], True]
        first[j, c[start]] = v[start]
        last[j, c[end]] = v[end]
        count[j] = np.bincount(c, minlength=n_clients)
    return {"first": first, "last": last, "count": count}


def _rows_by_client(observations: pd.DataFrame, keep: np.ndarray, slot: np.ndarray,
                    score: np.ndarray):
    """The kept rows ordered by client and day: ``(codes, uniques, day, slot, score)``.

    Codes number the clients in their order of first appearance among the kept rows. They
    come from the frame's shared factorisation and sort where it applies
    (:mod:`progress_kit._cohort`), else from a factorisation and at most one sort here.
    """
    ids, dates = observations["client_id"], observations["date"]
    prep = _cohort.prepared(observations, "client_id", "date") \
        if pd.api.types.is_datetime64_any_dtype(dates) else None
    if prep is None:
        return _rows_by_client_plain(ids, dates, keep, slot, score)
    if (prep.codes[keep] < 0).any():
        raise ValueError("observations column 'client_id' is missing in scored rows")
    if prep.present is not None and not prep.present[keep].all():
        raise ValueError("observations column 'date' has missing dates in scored rows")
    sub_of, uniques = prep.subset_codes(keep)
    rows = prep.sorted_rows(keep)
    return sub_of[prep.codes[rows]], uniques, prep.key[rows], slot[rows], score[rows]


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
                               clients: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-client outcomes as NHS Talking Therapies reports them.

    Parameters
    ----------
    observations : DataFrame
        Long table with ``client_id``, ``date``, ``measure``, ``score`` (other measures are
        ignored, as are missing scores).
    sessions : DataFrame, optional
        ``client_id``, ``attended`` (bool), ``kind``; when given, a client has *finished* with
        at least two attended ``treatment`` sessions.
    depression : str
        Registry name of the depression measure.
    anxiety : str
        Registry name of the default anxiety measure.
    clients : DataFrame, optional
        ``client_id`` and ``problem``: a problem with a registered anxiety-disorder-specific
        measure (:func:`progress_kit.anxiety_measure_for`, e.g. social_anxiety -> SPIN) uses that
        measure when the client has scores on it, else ``anxiety``. A ``therapist_id`` column is
        carried over for :func:`service_rates`.

    Returns
    -------
    DataFrame
        One row per client, indexed by ``client_id``: ``depression_measure``,
        ``anxiety_measure``, ``n_scored`` (days with a score on either), ``first_date``,
        ``last_date``, ``depression_first``/``_last``, ``anxiety_first``/``_last``, ``paired``
        (both measures scored on two or more days), ``n_treatment_sessions`` (with sessions),
        and the flags ``finished``, ``caseness_start``, ``recovery``, ``reliable_improvement``,
        ``reliable_deterioration``, ``reliable_recovery``.

    Notes
    -----
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
    >>> out = talking_therapies_outcomes(obs)
    >>> out[["caseness_start", "recovery", "reliable_improvement", "reliable_recovery"]]
    ... # doctest: +NORMALIZE_WHITESPACE
               caseness_start  recovery  reliable_improvement  reliable_recovery
    client_id
    a                    True      True                  True               True
    b                    True     False                 False              False
    """
    if any(is_dask_collection(f) for f in (observations, sessions, clients)):
        return distributed.talking_therapies_outcomes(observations, sessions, clients,
                                                      depression=depression, anxiety=anxiety)
    _require(observations, "observations", _OBS_COLUMNS)
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

    # measure slot per row via the (few) distinct measure names, never a per-row string op
    mcol = observations["measure"]
    if isinstance(mcol.dtype, pd.CategoricalDtype):
        mcodes, mcats = mcol.cat.codes.to_numpy(), pd.Index(mcol.cat.categories)
    else:
        mcodes, mcats = pd.factorize(mcol)
        mcats = pd.Index(mcats)
    slot_of_cat = np.full(len(mcats) + 1, -1, dtype=np.int64)  # last entry: code -1 (missing)
    for j, n in enumerate(names):
        hit = mcats.get_indexer([n])[0]
        if hit >= 0:
            slot_of_cat[hit] = j
    slot = slot_of_cat[mcodes]
    score = pd.to_numeric(observations["score"]).to_numpy(dtype=float)
    keep = (slot >= 0) & ~np.isnan(score)

    codes, uniques, day, slot, score = _rows_by_client(observations, keep, slot, score)
    index = pd.Index(uniques, name="client_id")
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
    used = (slot == 0) | (slot == anx_slot[codes])
    c_u, d_u = codes[used], day[used]
    n_scored = np.zeros(n, dtype=np.int64)
    first_day = np.full(n, np.iinfo(np.int64).min)
    last_day = np.full(n, np.iinfo(np.int64).min)
    if len(c_u):
        new_day = np.r_[True, (c_u[1:] != c_u[:-1]) | (d_u[1:] != d_u[:-1])]
        n_scored = np.bincount(c_u[new_day], minlength=n)
        s = np.r_[True, c_u[1:] != c_u[:-1]]
        e = np.r_[c_u[1:] != c_u[:-1], True]
        first_day[c_u[s]], last_day[c_u[e]] = d_u[s], d_u[e]

    if sessions is not None:
        att = sessions["attended"].to_numpy(dtype=bool, na_value=False) & (
            sessions["kind"] == "treatment").to_numpy(dtype=bool, na_value=False)
        s_codes = index.get_indexer(sessions["client_id"][att])
        n_sessions = np.bincount(s_codes, minlength=n)
        finished = n_sessions >= 2
    else:
        finished = n_scored >= 2

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
                imp[sel] = signed >= m.reliable_change
                det[sel] = -signed >= m.reliable_change
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
        + "; finished = " + ("at least 2 attended treatment sessions" if sessions is not None
                             else "scores on at least 2 days"))
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


_RATES = [  # outcome, numerator flag, denominator
    ("finished", "finished", "clients"),
    ("caseness_start", "case_finished", "finished"),
    ("recovery", "recovery", "at_caseness"),
    ("reliable_improvement", "reliable_improvement", "finished"),
    ("reliable_deterioration", "reliable_deterioration", "finished"),
    ("reliable_recovery", "reliable_recovery", "at_caseness"),
]


def service_rates(outcomes: pd.DataFrame, by: str | list[str] | None = None, *,
                  suppress: bool = True, level: float = 0.95) -> pd.DataFrame:
    """Service-level rates from :func:`talking_therapies_outcomes`, with Wilson intervals.

    Parameters
    ----------
    outcomes : DataFrame
        Output of :func:`talking_therapies_outcomes`.
    by : str or list of str, optional
        Group by these columns, e.g. ``"therapist_id"``; ``"month"`` groups by the calendar
        month of the last scored day (``last_date``).
    suppress : bool
        Publication mode (default): counts below 5 are shown as ``"<5"`` and the rate and its
        interval are left empty. ``False`` gives the raw integers.
    level : float
        Confidence level of the Wilson interval.

    Returns
    -------
    DataFrame
        Long table, one row per group and outcome: the ``by`` columns, ``outcome``,
        ``numerator``, ``denominator``, ``rate``, ``ci_low``, ``ci_high``.

    Notes
    -----
    - recovery rate = recovered / (finished - finished but not a case at start);
    - reliable improvement and reliable deterioration rates: over finished;
    - reliable recovery rate: over finished cases at caseness, like recovery;
    - finished: over all clients; caseness_start: over finished.

    Suppression hides counts below 5 (primary). In a breakdown, where exactly one group's count of
    an outcome is hidden, the smallest other count is withheld too (complementary), so the hidden
    one cannot be recovered from the service total. Relations between outcomes and tables broken
    down by several columns at once are not covered: check those before publishing.

    Examples
    --------
    >>> outcomes = pd.DataFrame({"finished": [True] * 10,
    ...     "caseness_start": [True] * 8 + [False] * 2,
    ...     "recovery": [True] * 6 + [False] * 4,
    ...     "reliable_improvement": [True] * 7 + [False] * 3,
    ...     "reliable_deterioration": False, "reliable_recovery": [True] * 5 + [False] * 5})
    >>> r = service_rates(outcomes, suppress=False).set_index("outcome")
    >>> [int(r.loc["recovery", "numerator"]), int(r.loc["recovery", "denominator"])]
    [6, 8]
    >>> float(r.loc["recovery", "rate"])
    0.75
    >>> service_rates(outcomes).set_index("outcome").loc["reliable_deterioration", "numerator"]
    '<5'
    """
    need = ("finished", "caseness_start", "recovery", "reliable_improvement",
            "reliable_deterioration", "reliable_recovery")
    _require(outcomes, "outcomes", need)
    flags = pd.DataFrame({
        "clients": np.ones(len(outcomes), dtype=np.int64),
        "finished": outcomes["finished"].to_numpy(dtype=bool),
        "case_finished": (outcomes["finished"] & outcomes["caseness_start"]).to_numpy(dtype=bool),
        **{c: outcomes[c].to_numpy(dtype=bool) for c in need[2:]},
    }, index=outcomes.index)
    flags["at_caseness"] = flags["case_finished"]
    keys: list[str] = [] if by is None else ([by] if isinstance(by, str) else list(by))
    for k in keys:
        if k == "month":
            if "last_date" not in outcomes.columns:
                raise ValueError("by='month' needs the column 'last_date' in outcomes")
            flags["month"] = outcomes["last_date"].dt.to_period("M").astype(str).to_numpy()
        elif k in outcomes.columns:
            flags[k] = outcomes[k].to_numpy()
        else:
            raise ValueError(f"by column {k!r} is not in outcomes; columns are "
                             f"{list(outcomes.columns)} (or 'month')")
    sums = (flags.groupby(keys, observed=True, dropna=False).sum() if keys
            else flags.sum().to_frame().T)
    parts = []
    for outcome, num, den in _RATES:
        part = pd.DataFrame({"outcome": outcome, "numerator": sums[num].astype(np.int64),
                             "denominator": sums[den].astype(np.int64)})
        parts.append(part.reset_index() if keys else part.reset_index(drop=True))
    table = pd.concat(parts, ignore_index=True)
    if keys:
        table = table.sort_values(keys, kind="stable", ignore_index=True)
    x, n = table["numerator"].to_numpy(), table["denominator"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        table["rate"] = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
    table["ci_low"], table["ci_high"] = wilson_interval(x, n, level)
    if suppress:
        _suppress(table, x, n, grouped=bool(keys))
    table.attrs["suppressed"] = bool(suppress)
    table.attrs["method"] = (f"Wilson {level:.0%} intervals" + (
        "; counts below 5 shown as '<5' and their rates withheld" + (
            "; where a breakdown hid only one group's count, the next smallest is withheld too "
            "('suppressed'), so it cannot be recovered from the service total" if keys else "")
        if suppress else ""))
    return table


def _suppress(table: pd.DataFrame, x: np.ndarray, n: np.ndarray, grouped: bool) -> None:
    """Small-cell suppression in place: primary (counts below 5) and, in a breakdown,
    complementary suppression.

    A breakdown (by therapist, month ...) is published beside the service total, so a single
    hidden count per outcome could be recovered by subtraction. Where exactly one group's
    numerator (or denominator) is hidden, the smallest other one is withheld as well.
    """
    primary = {"numerator": x < 5, "denominator": n < 5}
    secondary = {col: np.zeros(len(table), dtype=bool) for col in primary}
    if grouped:
        for idx in table.groupby("outcome", sort=False).indices.values():
            for col, values in (("numerator", x), ("denominator", n)):
                hidden = primary[col][idx]
                if hidden.sum() == 1 and len(idx) > 1:
                    shown = idx[~hidden]
                    secondary[col][shown[np.argmin(values[shown])]] = True
    withheld = primary["numerator"] | primary["denominator"] | secondary["numerator"] | \
        secondary["denominator"]
    table.loc[withheld, ["rate", "ci_low", "ci_high"]] = np.nan
    for col, values in (("numerator", x), ("denominator", n)):
        text = np.where(primary[col], "<5", values.astype(str)).astype(object)
        text[secondary[col]] = "suppressed"
        table[col] = text
