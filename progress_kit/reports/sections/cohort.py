"""Sections of the cohort (service) report (see :mod:`progress_kit.reports.sections`).

Two audiences:

- ``internal`` (the service's own management report): exact counts and every rate, and the
  clients to review by name.
- ``publication``: NHS Digital's rules for every count (below 5 shown as ``*``, others rounded to
  the nearest 5; rates withheld where a numerator or denominator is below 5), no client ID, no
  per-client marker in a figure, no median or percentage over fewer than 5 clients, and
  complementary suppression across every table published for the month.

Complementary suppression has to hold *between* reports: the service report and each
therapist's report show rows of the same tables. So every count table is computed for the whole
service, one row per therapist, and protected once (service total = sum of the therapists; a
quarter and 12 months = sum of their months; a table's total = sum of its categories). Each
report then shows its own row, so the service report and the therapist reports hide the same
cells and nothing can be recovered by subtracting one from another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ...data import EPISODE, ClinicData
from ...measures import get_measure
from ...outcomes import (
    _COUNTS,
    _RATES,
    PUBLICATION_RULE,
    SMALL_COUNT,
    _rate_relations,
    _rounded,
    _zero_matters,
    outcome_counts,
    protect_counts,
    publication_counts,
    published_rate,
    wilson_interval,
    with_complements,
)
from ..safe import parse_month
from .common import (
    Section,
    _fmt_day,
    _plot,
    _stat,
    _threshold_change,
    _unavailable,
    _w,
)

__all__ = ["Cohort", "AUDIENCES", "cohort_overview", "service_outcomes", "outcome_trend",
           "recovery_funnel", "jacobson", "slope_distribution", "clients_to_review",
           "discharged_with_deterioration", "on_track_backtest", "cohort_data_quality",
           "month_over_month", "suppress", "benchmarks_for"]

AUDIENCES = ("internal", "publication")
NO_THERAPIST = "(no therapist)"
# the counts protected together: each rate's numerator, denominator and their difference
_CUBE = _COUNTS + [f"not_{o}" for o, _, _ in _RATES]
DIARY = ["mood", "sleep_quality", "homework", "goals_on_track", "takeaways"]
_OUTCOME_ROWS = ["finished", "recovery", "reliable_improvement", "reliable_deterioration",
                 "reliable_recovery"]


def suppress(table: pd.DataFrame, counts: list[str], linked: list[str] | None = None,
             below: int = SMALL_COUNT) -> pd.DataFrame:
    """NHS Digital rounding for a stand-alone table: below 5 ``*``, others to the nearest 5.

    ``linked`` columns (rates, intervals) are withheld on any row where a count is below 5.
    For tables published beside other reports use :class:`Cohort` instead, which also
    withholds complementary cells.

    Examples
    --------
    >>> t = pd.DataFrame({"group": ["a", "b"], "n": [12, 3], "rate": ["50%", "33%"]})
    >>> suppress(t, ["n"], ["rate"]).values.tolist()
    [['a', '10', '50%'], ['b', '*', '*']]
    """
    out = table.copy()
    hidden = np.zeros(len(out), dtype=bool)
    for col in counts:
        v = pd.to_numeric(out[col], errors="coerce").fillna(0).astype(np.int64).to_numpy()
        hidden |= v < below
        out[col] = publication_counts(v)
    for col in linked or []:
        out[col] = out[col].astype(object)
        out.loc[hidden, col] = "*"
    return out


def _pct(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.0%}"


@dataclass
class Cohort:
    """One cohort report: the data, the month, the scope (service or a therapist), the audience.

    Heavy results (the outcome cube, the flags) are computed once and shared by the sections.
    """

    clinic: ClinicData
    month: str
    therapist_id: str | None = None
    audience: str = "internal"
    group: str = "therapist_id"
    benchmarks: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        if self.audience not in AUDIENCES:
            raise ValueError(f"audience {self.audience!r}: choose 'internal' or 'publication'")
        self.start, self.end = parse_month(self.month)
        if self.therapist_id is not None and self.therapist_id not in set(
                self.clinic.clients["therapist_id"].dropna()):
            raise ValueError(f"therapist {self.therapist_id!r} has no clients in the clients table")
        if self.publication and self.group != "therapist_id":
            raise ValueError(f"group {self.group!r}: a publication report breaks outcomes down by "
                             "therapist only (each breakdown needs its own disclosure check)")

    @property
    def publication(self) -> bool:
        return self.audience == "publication"

    @property
    def scope(self) -> str:
        return (_w("cohort.scope_therapist", therapist=self.therapist_id) if self.therapist_id
                else _w("cohort.scope_service"))

    # ---------------------------------------------------------------- data, whole service
    @property
    def episodes(self) -> bool:
        """True when the clients table keys episodes of care (a client may have several rows)."""
        return EPISODE in self.clinic.clients.columns

    @cached_property
    def current_clients(self) -> pd.DataFrame:
        """One clients row per client, indexed by ``client_id``: with episodes of care, the
        current episode's (the latest to start by the month's end; the first one for a client
        whose episodes all start later), as ``client_flags`` judges it."""
        cl = self.clinic.clients
        if self.episodes:
            cl = cl.sort_values("start_date", kind="stable", na_position="first")
            started = cl["start_date"].isna() | (cl["start_date"] <= self.end)
            now = cl[started].drop_duplicates("client_id", keep="last")
            later = cl[~cl["client_id"].isin(now["client_id"])].drop_duplicates("client_id")
            cl = pd.concat([now, later])
        return cl.drop_duplicates("client_id").set_index("client_id")

    @cached_property
    def therapist_of(self) -> pd.Series:
        c = self.current_clients
        return c["therapist_id"].astype(object).where(c["therapist_id"].notna(), NO_THERAPIST)

    @cached_property
    def episode_column(self) -> pd.DataFrame:
        """The clients table indexed by (``client_id``, ``episode_id``): each referral's own
        therapist (and ``group`` column) for the per-referral results."""
        return self.clinic.clients.set_index(["client_id", EPISODE])

    def column_of(self, ids, column: str) -> pd.Series:
        """``column`` of the clients table for ``ids``: client IDs (their current episode's
        row) or, from a per-episode result, (client_id, episode_id) pairs (that episode's)."""
        if isinstance(ids, pd.MultiIndex):
            return pd.Series(self.episode_column[column].reindex(ids).to_numpy(), index=ids)
        return pd.Series(self.current_clients[column].reindex(pd.Index(ids)).to_numpy(),
                         index=pd.Index(ids))

    @cached_property
    def groups(self) -> list[str]:
        """Every therapist of the service (the rows every count table is protected over)."""
        named = sorted(set(self.therapist_of) - {NO_THERAPIST})
        # clients without a therapist (or IDs only in the scores) form a group of their own
        known = set(self.therapist_of.index)
        probs = self.clinic.problems
        # rejected rows count too: their client can be one the clients table does not know
        in_probs = set(probs["client_id"].dropna()) if "client_id" in probs else set()
        orphans = (self.therapist_of == NO_THERAPIST).any() or not (
            set(self.clinic.observations["client_id"]) | set(self.clinic.sessions["client_id"])
            | in_probs) <= known
        return named + ([NO_THERAPIST] if orphans else [])

    def group_of(self, ids) -> pd.Series:
        """The therapist of each of ``ids``: client IDs, or (client_id, episode_id) pairs of a
        per-episode result, each referral then counting for its own therapist."""
        if isinstance(ids, pd.MultiIndex):
            out = self.column_of(ids, "therapist_id").reset_index(drop=True).astype(object)
        else:
            out = pd.Series(ids).map(self.therapist_of).astype(object)
        return out.where(out.notna(), NO_THERAPIST)

    @cached_property
    def observations(self) -> pd.DataFrame:
        obs = self.clinic.observations
        return obs[obs["date"] <= self.end]

    @cached_property
    def sessions(self) -> pd.DataFrame:
        ses = self.clinic.sessions
        return ses[ses["date"] <= self.end]

    def in_scope(self, ids) -> np.ndarray:
        if self.therapist_id is None:
            return np.ones(len(ids), dtype=bool)
        return (self.group_of(ids) == self.therapist_id).to_numpy()

    # ---------------------------------------------------------------- publishing counts
    def publish(self, per_group: pd.DataFrame, within: list[tuple[str, list[str]]] = ()):
        """This report's row of a count table, protected over the whole service.

        ``per_group``: exact counts, index = therapist, columns = cells. ``within``: (total,
        parts) relations inside a row. Returns (shown, hidden, exact) Series for the scope:
        text in publication, integers internally.
        """
        values = per_group.reindex(self.groups, fill_value=0).fillna(0).astype(np.int64)
        cube = np.vstack([values.to_numpy(), values.to_numpy().sum(axis=0, keepdims=True)])
        row = len(self.groups) if self.therapist_id is None else self.groups.index(self.therapist_id)
        cols = list(values.columns)
        exact = pd.Series(cube[row], index=cols)
        if not self.publication:
            return exact, pd.Series(False, index=cols), exact
        g, k = cube.shape
        cell = np.arange(g * k).reshape(g, k)
        rel = [(cell[g - 1, j], cell[:g - 1, j]) for j in range(k)]
        for total, parts in within:
            t, p = cols.index(total), [cols.index(x) for x in parts]
            rel += [(cell[i, t], cell[i, p]) for i in range(g)]
        hidden = protect_counts(cube.reshape(-1), rel).reshape(g, k)
        return (pd.Series(publication_counts(cube[row], hidden[row]), index=cols),
                pd.Series(hidden[row], index=cols), exact)

    def per_group(self, ids, name: str = "count") -> pd.Series:
        """How many of ``ids`` (one entry per counted thing) belong to each therapist."""
        return self.group_of(ids).value_counts().rename(name)

    # ---------------------------------------------------------------- outcome cube
    @cached_property
    def window(self) -> list[str]:
        """The 12 months ending with the report month."""
        last = pd.Period(self.month, freq="M")
        return [str(last - k) for k in range(11, -1, -1)]

    @cached_property
    def outcomes(self) -> pd.DataFrame | None:
        """Talking Therapies outcomes of the referrals that ended in the 12-month window."""
        fn = _stat("talking_therapies_outcomes")
        if fn is None:
            return None
        start = pd.Period(self.window[0], freq="M").start_time
        out = fn(self.observations, self.sessions, clients=self.clinic.clients,
                 period=(start, self.end))
        out = out.assign(_group=self.group_of(out.index).to_numpy(),
                         month=out["end_date"].dt.to_period("M").astype(str).to_numpy())
        return out

    @cached_property
    def periods(self) -> list[tuple[str, str, list[str]]]:
        """(label, kind, months) of each published period: 12 months, quarter to date, 12 months."""
        p = pd.Period(self.month, freq="M")
        q = [m for m in self.window if pd.Period(m, freq="M").qyear == p.qyear
             and pd.Period(m, freq="M").quarter == p.quarter]
        month_words = p.strftime("%b %Y")
        return ([(m, "trend", [m]) for m in self.window]
                + [(_w("cohort.period_quarter", year=p.qyear, quarter=p.quarter), "quarter", q),
                   (_w("cohort.period_year", month=month_words), "year", self.window)])

    @cached_property
    def cube(self) -> dict:
        """Counts per therapist (+ service), period and count; hidden cells in publication."""
        out = self.outcomes
        groups, periods = self.groups, self.periods
        g, p, k = len(groups) + 1, len(periods), len(_CUBE)
        counts = np.zeros((g, p, k), dtype=np.int64)
        if out is not None and len(out):
            by = with_complements(outcome_counts(out, by=["_group", "month"]))[_CUBE]
            full = by.reindex(pd.MultiIndex.from_product([groups, self.window]), fill_value=0)
            monthly = full.to_numpy().reshape(len(groups), len(self.window), k)
            for j, (_, _, months) in enumerate(periods):
                idx = [self.window.index(m) for m in months]
                counts[:-1, j] = monthly[:, idx].sum(axis=1)
            counts[-1] = counts[:-1].sum(axis=0)
        hidden = np.zeros_like(counts, dtype=bool)
        if self.publication:
            cell = np.arange(counts.size).reshape(counts.shape)
            rel = [(cell[-1, j, c], cell[:-1, j, c]) for j in range(p) for c in range(k)]
            trend = [j for j, (_, kind, _) in enumerate(periods) if kind == "trend"]
            for j, (_, kind, months) in enumerate(periods):
                if kind == "trend":
                    continue
                parts = [trend[self.window.index(m)] for m in months]
                rel += [(cell[i, j, c], cell[i, parts, c]) for i in range(g) for c in range(k)]
            rel += _rate_relations(cell, _CUBE)  # den = num + other side, every row and period
            hidden = protect_counts(counts.reshape(-1), rel,
                                    zero_matters=_zero_matters(counts, _CUBE)).reshape(counts.shape)
        return {"counts": counts, "hidden": hidden}

    def rates(self, row: int | None = None) -> pd.DataFrame:
        """Long table of rates for one row of the cube (default: this report's scope)."""
        if row is None:
            row = len(self.groups) if self.therapist_id is None else self.groups.index(self.therapist_id)
        counts, hidden = self.cube["counts"][row], self.cube["hidden"][row]
        recs = []
        for j, (label, kind, _) in enumerate(self.periods):
            for outcome, num, den in _RATES:
                a, b, o = _CUBE.index(num), _CUBE.index(den), _CUBE.index(f"not_{outcome}")
                x, n = int(counts[j, a]), int(counts[j, b])
                hide = bool(hidden[j, a] or hidden[j, b] or hidden[j, o])
                if self.publication:  # from the published counts only (outcomes.PUBLICATION_RULE)
                    rate, lo, hi = (float(v[0]) for v in published_rate([x], [n], [hide]))
                else:
                    rate = x / n if n else np.nan
                    lo, hi = wilson_interval(x, n) if n else (np.nan, np.nan)
                recs.append({"period": label, "kind": kind, "month": label if kind == "trend" else None,
                             "outcome": outcome, "x": x, "n": n, "hidden_num": bool(hidden[j, a]),
                             "hidden_den": bool(hidden[j, b]), "rate": rate,
                             "ci_low": float(lo), "ci_high": float(hi)})
        t = pd.DataFrame(recs)
        if self.publication:
            t["numerator"] = publication_counts(t["x"], t["hidden_num"])
            t["denominator"] = publication_counts(t["n"], t["hidden_den"])
        else:
            t["numerator"], t["denominator"] = t["x"].astype(str), t["n"].astype(str)
        return t

    # ---------------------------------------------------------------- the decision layer
    @cached_property
    def flags(self) -> pd.DataFrame | None:
        """client_flags for the clients of this report's scope, each judged on their problem's
        measure (the same table the client reports quote).

        Computed on the whole service and then narrowed: the expected-response band is fitted
        on everyone's data, so a therapist's report shows the same status as the service's.
        """
        fn = _stat("client_flags")
        if fn is None:
            return None
        items = getattr(self.clinic, "items", None)
        if items is not None:
            items = items[items["date"] <= self.end]
        # expected=None: the band is fitted leave-one-client-out on the service's own data
        obs = self.observations
        kind = {m: getattr(_registry(m), "kind", "diary") for m in obs["measure"].unique()}
        quest = obs[obs["measure"].map(kind) != "diary"]
        f = fn(quest, items=items, sessions=self.sessions, clients=self.clinic.clients,
               as_of=self.end)
        out = f[self.in_scope(f.index)]
        out.attrs = f.attrs
        return out


def _registry(name: str):
    try:
        return get_measure(name)
    except ValueError:
        return None


def _publication_note(c: Cohort) -> str:
    return _w("cohort.publication_note") if c.publication else ""


def cohort_overview(c: Cohort) -> Section:
    """Caseload this month."""
    obs, ses = c.observations, c.sessions
    in_month = ses[ses["date"] >= c.start]
    active = pd.Index(in_month["client_id"]).union(pd.Index(obs.loc[obs["date"] >= c.start, "client_id"]))
    cl = c.clinic.clients
    diary = obs[obs["measure"].isin(DIARY) & (obs["date"] >= c.start)]["client_id"].unique()
    new = "new_episodes" if c.episodes else "new"
    rows = {"active": c.per_group(active.unique()),
            new: c.per_group(cl.loc[cl["start_date"].between(c.start, c.end), "client_id"]),
            "ended": c.per_group(cl.loc[cl["end_date"].between(c.start, c.end), "client_id"]),
            "booked": c.per_group(in_month["client_id"]),
            "attended": c.per_group(in_month.loc[in_month["attended"], "client_id"]),
            "diary": c.per_group(diary)}
    if c.publication:
        # the same count is published with the outcomes (referrals ended), protected there
        rows.pop("ended")
    table = pd.DataFrame(rows).fillna(0)
    shown, _, _ = c.publish(table)
    sec = Section("overview", _w("cohort.title.overview"),
                  table=pd.DataFrame({"": [_w(f"cohort.overview.{k}") for k in shown.index],
                                      _w("cohort.overview.count"): shown.to_numpy()}), header=False)
    sec.message = _w("cohort.overview.message", first=_fmt_day(c.start), last=_fmt_day(c.end),
                     scope=c.scope, publication=_publication_note(c))
    return sec


def _rate_cell(r) -> str:
    if pd.isna(r["rate"]):
        return _w("cohort.outcomes.rate_hidden", numerator=r["numerator"], denominator=r["denominator"])
    return _w("cohort.outcomes.rate", rate=r["rate"], low=r["ci_low"], high=r["ci_high"],
              numerator=r["numerator"], denominator=r["denominator"])


def service_outcomes(c: Cohort) -> Section:
    """Talking Therapies rates for the month, the quarter to date and the last 12 months."""
    title = _w("cohort.title.outcomes")
    if c.outcomes is None:
        return _unavailable("tt", title, _w("cohort.outcomes.unavailable_what"))
    r = c.rates()
    r = r[(r["kind"] != "trend") | (r["period"] == c.month)]
    r = r[r["outcome"].isin(_OUTCOME_ROWS)]
    names = {c.month: pd.Period(c.month, freq="M").strftime("%B %Y")}
    wide = r.assign(cell=r.apply(_rate_cell, axis=1)).pivot(index="outcome", columns="period",
                                                              values="cell")
    order = [c.month] + [p[0] for p in c.periods if p[1] != "trend"]
    wide = wide.reindex(index=_OUTCOME_ROWS, columns=order).rename(columns=names)
    wide.columns.name = None
    wide.insert(0, _w("cohort.outcomes.outcome"), [_w(f"cohort.outcomes.{o}") for o in wide.index])
    sec = Section("tt", title, table=wide.reset_index(drop=True))
    sec.message = (_w("cohort.outcomes.message", publication=_publication_note(c))
                   + (_w("cohort.outcomes.published_rates") if c.publication else ""))
    sec.method = (_w("cohort.outcomes.method", method=c.outcomes.attrs.get("method", ""))
                  + (_w("cohort.outcomes.method_episodes") if c.episodes else ""))
    if c.publication:
        sec.method += _w("cohort.outcomes.method_publication", rule=PUBLICATION_RULE)
    return sec


def outcome_trend(c: Cohort) -> Section:
    """The 12-month trend of the rates (month the referral ended)."""
    title = _w("cohort.title.trend")
    if c.outcomes is None:
        return _unavailable("trend", title, _w("cohort.outcomes.unavailable_what"))
    r = c.rates()
    trend = r[r["kind"] == "trend"]
    shown = trend[trend["outcome"] == "recovery"]["rate"].notna().sum()
    if shown == 0:
        return Section("trend", title, "insufficient",
                       _w("cohort.trend.none", why=_w("cohort.trend.none_publication" if c.publication
                                                      else "cohort.trend.none_internal")))
    sec = Section("trend", title, figsize=(7.2, 3.4))
    sec.message = _w("cohort.trend.message",
                     gap=_w("cohort.trend.gap_publication" if c.publication
                            else "cohort.trend.gap_internal"),
                     benchmarks=_w("cohort.trend.benchmarks") if c.benchmarks is not None
                     and len(c.benchmarks) else "")
    bench = c.benchmarks
    sec.plot = lambda ax: _plot("plot_rate_trend", trend, benchmarks=bench, ax=ax)
    sec.method = _benchmark_method(c)
    return sec


def _benchmark_method(c: Cohort) -> str:
    if c.benchmarks is None or not len(c.benchmarks):
        return ""
    return "\n".join(_w("cohort.trend.benchmark_method", label=b["label"],
                        outcome=b["outcome"].replace("_", " "), rate=b["rate"], date=b["date"],
                        source=b["source"]) for _, b in c.benchmarks.iterrows())


def recovery_funnel(c: Cohort) -> Section:
    """Recovery rate per therapist over 12 months: funnel plot with control limits, and a table."""
    label = c.group.replace("_id", "").replace("_", " ")
    title = _w("cohort.title.funnel", group=label)
    if c.outcomes is None:
        return _unavailable("recovery", title, _w("cohort.outcomes.unavailable_what"))
    rec, den, other = (_CUBE.index(k) for k in ("recovery", "case_finished", "not_recovery"))
    year = len(c.periods) - 1
    if c.group == "therapist_id":
        counts, hidden = c.cube["counts"][:, year], c.cube["hidden"][:, year]
        units = [*c.groups, _w("cohort.funnel.service")]
        x, n = counts[:, rec], counts[:, den]
        hide_x, hide_n = hidden[:, rec], hidden[:, den]
        hide = hide_x | hide_n | hidden[:, other]
    else:  # internal only (checked in Cohort)
        if c.group not in c.clinic.clients.columns:
            raise ValueError(f"group {c.group!r} is not a column of the clients table")
        col = c.column_of(c.outcomes.index, c.group)
        by = outcome_counts(c.outcomes.assign(**{c.group: col.to_numpy()}), by=c.group)
        units = [*map(str, by.index), _w("cohort.funnel.service")]
        x = np.r_[by["recovery"].to_numpy(), by["recovery"].sum()]
        n = np.r_[by["case_finished"].to_numpy(), by["case_finished"].sum()]
        hide = hide_x = hide_n = np.zeros(len(x), dtype=bool)
    # publication: a therapist without finished cases stays in the table as '*' (leaving the
    # row out would say 0)
    keep = np.ones(len(n), dtype=bool) if c.publication else n > 0
    units = [u for u, k in zip(units, keep, strict=True) if k]
    x, n, hide, hide_x, hide_n = x[keep], n[keep], hide[keep], hide_x[keep], hide_n[keep]
    if not len(n) or n[-1] == 0 or hide[-1]:
        return Section("recovery", title, "insufficient",
                       _w("cohort.funnel.too_few"))
    if c.publication:
        # every position, interval and limit from the published counts (PUBLICATION_RULE)
        rate, lo, hi = published_rate(x, n, hide)
        x_at, n_at = _rounded(x), _rounded(n)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
        lo, hi = wilson_interval(x, n)
        x_at, n_at = x, n
    target = float(x_at[-1] / n_at[-1])
    from ...outcomes import funnel_limits

    lim = funnel_limits(target, np.maximum(n_at, 1)) if 0 < target < 1 else None
    where = []
    for i in range(len(n)):
        if hide[i] or lim is None:
            where.append("–")
        elif not lim["lower_99.8"][i] <= rate[i] <= lim["upper_99.8"][i]:
            where.append(_w("cohort.funnel.outside_998"))
        elif not lim["lower_95"][i] <= rate[i] <= lim["upper_95"][i]:
            where.append(_w("cohort.funnel.outside_95"))
        else:
            where.append(_w("cohort.funnel.within"))
    shown_x = publication_counts(x, hide_x) if c.publication else x.astype(str)
    shown_n = publication_counts(n, hide_n) if c.publication else n.astype(str)
    # rate and interval in one column: the narrow columns of a fixed-layout table would
    # otherwise break "recovered" inside the word
    table = pd.DataFrame({label: units, _w("cohort.funnel.recovered"): shown_x,
                          _w("cohort.funnel.finished"): shown_n,
                          _w("cohort.funnel.rate_column"): [
                              "–" if h or not np.isfinite(v) else
                              _w("cohort.funnel.rate", rate=v, low=a, high=b)
                              for h, v, a, b in zip(hide, rate, lo, hi, strict=True)],
                          _w("cohort.funnel.funnel"): where})
    sec = Section("recovery", title, table=table, figsize=(7.2, 4.0))
    sec.message = _w("cohort.funnel.message", group=label, publication=_publication_note(c))
    units_df = pd.DataFrame({"unit": units[:-1], "denominator": n_at[:-1], "rate": rate[:-1]})
    sec.facts["points"] = units_df  # what the figure draws: the table's numbers
    bench = c.benchmarks
    if lim is not None:
        sec.plot = lambda ax: _plot("plot_funnel", units_df, target=target, label=label,
                                    benchmarks=bench, ax=ax, counted=_unit(c))
    sec.method = _w("cohort.funnel.method",
                    publication=_w("cohort.funnel.method_publication") if c.publication else "")
    return sec


def _jacobson_bins(measure: str) -> list[tuple[int, int]]:
    from ...measures import get_measure

    m = get_measure(measure)
    lo, hi = int(m.min), int(m.max)
    bins = [(a, min(a + 4, hi)) for a in range(lo, hi + 1, 5)]
    if len(bins) > 1 and bins[-1][1] - bins[-1][0] < 4:
        bins[-2:] = [(bins[-2][0], hi)]
    return bins


def _change_result(c: Cohort, measure: str) -> pd.DataFrame | None:
    fn = _stat("clinical_significance")
    if fn is None:
        return None
    scores = c.observations[c.observations["measure"] == measure]
    # a course with two scores or more: with episodes of care, each referral is one
    key = ["client_id", EPISODE] if EPISODE in scores.columns else ["client_id"]
    scores = scores[scores.groupby(key)["score"].transform("size").to_numpy() >= 2]
    if scores.empty:
        return pd.DataFrame(columns=["pre", "post", "category"])
    res = _threshold_change(fn, scores, measure)
    out = res.assign(_group=c.group_of(res.index).to_numpy())
    out.attrs = res.attrs  # the method and the Jacobson band live there
    return out


def _unit(c: Cohort) -> str:
    """What a course is counted as: a referral where episodes of care are kept, else a client."""
    return _w("cohort.unit_referrals" if c.episodes else "cohort.unit_clients")


def jacobson(c: Cohort, measure: str = "PHQ-9") -> Section:
    """First vs latest score for every client with two or more scores (binned in publication)."""
    title = _w("cohort.title.jacobson", measure=measure)
    res = _change_result(c, measure)
    if res is None:
        return _unavailable("jacobson", title, _w("cohort.jacobson.unavailable_what"))
    if res.empty:  # nobody with two scores: the same words as a small count, in either audience
        return Section("jacobson", title, "insufficient",
                       _w("cohort.jacobson.too_few", small=SMALL_COUNT, unit=_unit(c),
                          measure=measure))
    cats = [k for k in ["recovered", "improved", "unchanged", "deteriorated", "harmed"]]
    cats += sorted(set(res["category"].astype(str)) - set(cats))
    counts = pd.crosstab(res["_group"], res["category"].astype(str)).reindex(columns=cats, fill_value=0)
    counts.insert(0, "clients", counts.sum(axis=1))
    within = [("clients", cats)]
    bins = _jacobson_bins(measure)
    if c.publication and len(res):
        b_pre = np.searchsorted([b[1] for b in bins], res["pre"].to_numpy(float))
        b_post = np.searchsorted([b[1] for b in bins], res["post"].to_numpy(float))
        cell_names = [f"bin{i}_{j}" for i in range(len(bins)) for j in range(len(bins))]
        cell = pd.Series([f"bin{i}_{j}" for i, j in zip(b_pre, b_post, strict=True)], index=res.index)
        grid = pd.crosstab(res["_group"], cell).reindex(columns=cell_names, fill_value=0)
        counts = counts.join(grid, how="outer").fillna(0)
        within.append(("clients", cell_names))
    shown, hidden, exact = c.publish(counts, within)
    n_scope = int(exact["clients"])
    if n_scope < SMALL_COUNT:
        return Section("jacobson", title, "insufficient",
                       _w("cohort.jacobson.too_few", small=SMALL_COUNT, unit=_unit(c),
                          measure=measure))
    table = pd.DataFrame({_w("cohort.jacobson.category"): cats, _unit(c): shown[cats].to_numpy()})
    sec = Section("jacobson", title, table=table, figsize=(6.4, 4.3),
                  method=_w("cohort.jacobson.method", measure=measure,
                            method=res.attrs.get("method", "")))
    sec.message = _w("cohort.jacobson.message", clients=shown["clients"], unit=_unit(c),
                     measure=measure, publication=_publication_note(c))
    if c.publication:
        grid = pd.DataFrame([{"first_low": bins[i][0], "first_high": bins[i][1],
                              "last_low": bins[j][0], "last_high": bins[j][1],
                              # an empty cell is '*' like any small one: a blank would
                              # say 0 (issue 22)
                              "shown": shown[f"bin{i}_{j}"]}
                             for i in range(len(bins)) for j in range(len(bins))])
        sec.message += _w("cohort.jacobson.binned")
        sec.plot = lambda ax: _plot("plot_jacobson_binned", grid, measure=measure, ax=ax,
                                    counted=_unit(c))
    else:
        lines_fn = _stat("jacobson_plot_data")
        mine = res[c.in_scope(res.index)]
        lines = lines_fn(mine) if lines_fn is not None else None
        sec.plot = lambda ax: _plot("plot_jacobson", mine, measure=measure, lines=lines, ax=ax)
    return sec


def slope_distribution(c: Cohort, measure: str = "PHQ-9") -> Section:
    """How fast clients' scores move: the distribution of per-client slopes."""
    title = _w("cohort.title.slopes", measure=measure)
    fn = _stat("slopes")
    if fn is None:
        return _unavailable("slopes", title, _w("cohort.slopes.unavailable_what"))
    res = fn(c.observations[c.observations["measure"] == measure], measure=measure, per="week")
    res = res[res["slope"].notna()]
    dirs = sorted(set(res["direction"].astype(str)))
    counts = pd.crosstab(c.group_of(res.index).to_numpy(), res["direction"].astype(str).to_numpy())
    counts = counts.reindex(columns=dirs, fill_value=0)
    counts.insert(0, "clients", counts.sum(axis=1))
    shown, _, exact = c.publish(counts, [("clients", dirs)])
    mine = res[c.in_scope(res.index)]
    if len(mine) < SMALL_COUNT:
        return Section("slopes", title, "insufficient",
                       _w("cohort.slopes.too_few", small=SMALL_COUNT, unit=_unit(c),
                          measure=measure))
    table = pd.DataFrame({_w("cohort.slopes.direction"): dirs, _unit(c): shown[dirs].to_numpy()})
    sec = Section("slopes", title, table=table, method=_w("cohort.slopes.method", measure=measure))
    sec.message = _w("cohort.slopes.message", median=mine["slope"].median(),
                     clients=shown["clients"], unit=_unit(c))
    values = mine["slope"].to_numpy(float)
    publication = c.publication
    unit = _unit(c)  # referrals where a client may come back, else clients

    def draw(ax):
        from ...plots import CLINICAL_COLOURS as C

        # equal-count bins: every bar holds at least SMALL_COUNT clients (no small cells);
        # bar area is the share of clients, so wide bars are low
        n_bins = max(1, min(10, len(values) // SMALL_COUNT))
        edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)))
        ax.hist(values, bins=edges, density=True, color=C["sky"], edgecolor="black", hatch="//")
        ax.axvline(0, color=C["black"], linestyle="--", linewidth=1.2, label="no change")
        ax.set_xlabel(f"{measure} slope (points per week; below 0 = improving)")
        ax.set_ylabel(f"share of {unit} (density)")
        ax.set_title(f"each bar holds {SMALL_COUNT} or more {unit}" if publication else
                     f"each bar holds about {len(values) // n_bins} {unit}", loc="right",
                     fontsize="x-small")
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(frameon=False, fontsize="small")
        return ax

    sec.plot = draw
    return sec


def _referral(status, end) -> str:
    if status == "active" or pd.isna(end):
        return str(status) if isinstance(status, str) else "–"
    return _w("cohort.discharged.referral", status=status, date=_fmt_day(end))


def _who_first(table: pd.DataFrame, status: str | None = None) -> pd.DataFrame:
    """One 'client' column (ID, therapist, referral, status) so the reasons get the width."""
    who = [_w("cohort.discharged.who_cell", client=r["client"], therapist=r["therapist"],
              referral=r["referral"]) + (f": {r[status]}" if status else "")
           for _, r in table.iterrows()]
    rest = table.drop(columns=["client", "therapist", "referral"] + ([status] if status else []))
    return pd.concat([pd.DataFrame({_w("cohort.discharged.who") + (": status" if status else ""):
                                    who}), rest], axis=1)


# statuses that ask for no review; every other status client_flags gives is listed, grouped
_NO_REVIEW = {"on track", "no flags", "insufficient data"}
_STATUS_ORDER = {"alert": 0, "watch": 1}


def _short_reason(reason: str) -> str:
    """A reason's headline, without its explanations in brackets: its kind ('stalled', 'not on
    track') or the clause itself ('PHQ-9 up 6 points since the first score', 'item 9 answered 3
    on 2026-10-23'); the client's report gives the whole of it."""
    head = reason
    while True:  # brackets can nest: innermost first
        shorter = re.sub(r"\s*\([^()]*\)", "", head)
        if shorter == head:
            break
        head = shorter
    head = head.strip()
    kind = head.split(":")[0].strip()
    short = kind if ":" in head and kind and not any(ch.isdigit() for ch in kind) else head
    return short if len(short) <= 60 else short[:57].rstrip() + "..."


def _short_reasons(text) -> str:
    parts = [_short_reason(r) for r in str(text or "").split(";") if r.strip()]
    return "; ".join(dict.fromkeys(p for p in parts if p))


def clients_to_review(c: Cohort) -> Section:
    """The clients to review this month (internal): flagged, and in treatment this month or
    flagged on a score from this month; grouped by status, with short reasons.

    Who is listed (issue 21, part 6): a client whose ``client_flags`` status asks for review
    (anything but on track, no flags or insufficient data) and who had a session or a score in
    the report month, or whose status rests on a score from the report month. A referral that
    ended before the month is not listed, and one that ended in the month is named once in the
    "ended this month" line instead of the table (those with reliable deterioration are in the
    next section). Statuses are read from the ``status`` column, in the order alert, watch,
    then any other, so a new status of ``client_flags`` is listed under its own name.
    """
    title = _w("cohort.title.review")
    if c.flags is None:
        return _unavailable("review", title, _w("cohort.review.unavailable_what"))
    f = c.flags
    status = f["status"].astype(str)
    flagged = f[~status.isin(_NO_REVIEW).to_numpy()]
    info = c.current_clients.reindex(flagged.index)
    ended = info["status"].isin(["finished", "dropped"]) & info["end_date"].notna()
    ended_before = (ended & (info["end_date"] < c.start)).to_numpy()
    ended_now = (ended & info["end_date"].between(c.start, c.end)).to_numpy()
    obs, ses = c.observations, c.sessions
    seen = pd.Index(obs.loc[obs["date"] >= c.start, "client_id"]).union(
        pd.Index(ses.loc[ses["date"] >= c.start, "client_id"]))
    active = flagged.index.isin(seen)
    arose = flagged["latest_date"].between(c.start, c.end).to_numpy()
    listed = (active | arose) & ~ended_before & ~ended_now
    measure = (flagged["primary_measure"].astype(str) if "primary_measure" in flagged.columns
               else pd.Series("PHQ-9", index=flagged.index))

    rows = flagged[listed]
    table = pd.DataFrame({
        "client": rows.index.astype(str),
        "therapist": c.group_of(rows.index).to_numpy(),
        "status": rows["status"].astype(str).to_numpy(),
        "why (the client's report has the detail)":
            [_short_reasons(r) for r in rows["reasons"].to_numpy()],
        "latest score": [("–" if pd.isna(v) else
                          _w("cohort.review.latest_cell", measure=m, score=v, date=_fmt_day(d)))
                         for m, v, d in
                         zip(measure[listed], rows["latest_score"], rows["latest_date"], strict=True)],
    })
    table["_order"] = table["status"].map(_STATUS_ORDER).fillna(len(_STATUS_ORDER))
    table = table.sort_values(["_order", "status", "therapist", "client"], kind="stable")
    table = table.drop(columns="_order").reset_index(drop=True)
    # the first column is the wide one: status and client there, grouped by status
    shown = pd.DataFrame({_w("cohort.review.who"): [
        _w("cohort.review.who_cell", status=st, client=a, therapist=b)
        for st, a, b in zip(table["status"], table["client"], table["therapist"], strict=True)]})
    rest = table.iloc[:, 3:].set_axis([_w("cohort.review.why"), _w("cohort.review.latest")], axis=1)
    shown = pd.concat([shown, rest], axis=1)

    sec = Section("review", title, table=shown if len(table) else None)
    sec.facts["clients"] = table
    groups = table.groupby("status", sort=False).size()
    counts = ", ".join(_w("cohort.review.count", n=n, status=s) for s, n in groups.items())
    sec.message = (_w("cohort.review.message", n=len(table), scope=c.scope, counts=counts)
                   if len(table) else _w("cohort.review.none", scope=c.scope))
    det = flagged["reliable_deterioration"].fillna(False).to_numpy(dtype=bool) \
        if "reliable_deterioration" in flagged.columns else np.zeros(len(flagged), dtype=bool)
    gone = flagged[ended_now & ~det]
    n_worse = int((ended_now & det).sum())
    if len(gone) or n_worse:
        names = ", ".join(_w("cohort.review.ended_client", client=cid, therapist=th, status=st)
                          for cid, th, st in
                          zip(gone.index.astype(str), c.group_of(gone.index), gone["status"],
                              strict=True))
        worse = (_w("cohort.review.ended_worse", n=n_worse)
                 if n_worse else "")
        sec.lines = [_w("cohort.review.ended", clients=_w("cohort.review.ended_names", names=names,
                                                          worse=worse) if names else worse)]
    sec.facts["ended"] = flagged.index[ended_now].astype(str).tolist()
    sec.method = f.attrs.get("method", "")
    return sec


def _primary_names(flags: pd.DataFrame) -> list[str]:
    if "primary_measure" in flags.columns:
        return flags["primary_measure"].astype(str).tolist()
    return [flags.attrs.get("measure") or "PHQ-9"] * len(flags)


def discharged_with_deterioration(c: Cohort) -> Section:
    """Clients whose referral ended this month with reliable deterioration (internal)."""
    title = _w("cohort.title.discharged")
    if c.flags is None:
        return _unavailable("discharged", title, _w("cohort.review.unavailable_what"))
    f = c.flags
    cl = c.current_clients.reindex(f.index)
    ended = cl["status"].isin(["finished", "dropped"]) & cl["end_date"].between(c.start, c.end)
    sel = f[ended.to_numpy() & f["reliable_deterioration"].fillna(False).to_numpy(dtype=bool)]
    info = cl.loc[sel.index]
    table = pd.DataFrame({"client": sel.index.astype(str),
                          "therapist": c.group_of(sel.index).to_numpy(),
                          "referral": [_referral(s, e) for s, e in
                                       zip(info["status"], info["end_date"], strict=True)],
                          # first and latest are the primary measure's (client_flags), named
                          "first → latest": [
                              ("–" if pd.isna(a) or pd.isna(b) else
                               _w("cohort.discharged.change_cell", measure=m, first=a, latest=b))
                              for m, a, b in zip(_primary_names(sel), sel["first_score"],
                                                 sel["latest_score"], strict=True)],
                          "why (the client's report has the detail)":
                              [_short_reasons(r) for r in sel["reasons"].to_numpy()]})
    table = table.sort_values(["therapist", "client"], ignore_index=True)
    shown = _who_first(table).rename(columns={"first → latest": _w("cohort.discharged.change"),
                                              "why (the client's report has the detail)":
                                                  _w("cohort.review.why")})
    sec = Section("discharged", title, table=shown)
    sec.facts["clients"] = table
    sec.message = (_w("cohort.discharged.message", n=len(table)) if len(table)
                   else _w("cohort.discharged.none"))
    return sec


def on_track_backtest(c: Cohort) -> Section:
    """How well the on-track signal foretold reliable deterioration on the service's own data."""
    title = _w("cohort.title.backtest")
    fn = _stat("evaluate_on_track")
    if fn is None:
        return _unavailable("backtest", title, _w("cohort.backtest.unavailable_what"))
    obs = c.observations
    if c.episodes and EPISODE in obs.columns:
        # one course per client, their current episode: the leave-one-client-out band then
        # never sees the judged client's other episode (evaluate_on_track refuses episodes)
        from ..._episodes import only

        pairs = pd.MultiIndex.from_arrays([c.current_clients.index.astype(str),
                                           c.current_clients[EPISODE].astype(str)])
        obs = only(obs, pairs, "observations")
    try:
        res = fn(obs, measure="PHQ-9")
    except ValueError as exc:
        # the reason can quote a client ID (issue 24, item 7): only the internal report says it
        why = (_w("cohort.backtest.why_publication") if c.publication
               else _w("cohort.backtest.why_internal", reason=exc))
        return Section("backtest", title, "insufficient", _w("cohort.backtest.not_computed", why=why))
    r = res.iloc[0]
    tp, fp, fn_, tn = (int(r[k]) for k in ("tp", "fp", "fn", "tn"))
    # cells: the four outcomes, then each share's denominator and the total
    cells = np.array([tp, fp, fn_, tn, tp + fn_, tn + fp, tp + fp, tn + fn_, tp + fp + fn_ + tn])
    TP, FP, FN, TN, POS, NEG, FLAG, UNFLAG, N = range(9)
    parts = [(_w("cohort.backtest.sensitivity"), TP, POS, FN),
             (_w("cohort.backtest.specificity"), TN, NEG, FP),
             (_w("cohort.backtest.ppv"), TP, FLAG, FP), (_w("cohort.backtest.npv"), TN, UNFLAG, FN),
             (_w("cohort.backtest.base_rate"), POS, N, NEG)]
    value_col, of_col = _w("cohort.backtest.value"), _w("cohort.backtest.of")
    if c.publication:
        rel = [(POS, [TP, FN]), (NEG, [TN, FP]), (FLAG, [TP, FP]), (UNFLAG, [TN, FN]),
               (N, [POS, NEG]), (N, [FLAG, UNFLAG])]
        # "sensitivity 100%" says every deteriorating client was flagged: a 0 matters here
        hidden = protect_counts(cells, rel, zero_matters=np.r_[[cells[N] > 0] * 4, [False] * 5])
        shown = publication_counts(cells, hidden)
    rows = []
    for name, x, n, other in parts:
        if c.publication:
            withheld = hidden[[x, n, other]].any()
            value = "–" if withheld else _pct(published_rate([cells[x]], [cells[n]])[0][0])
            rows.append({"": name, value_col: value, of_col: shown[n]})
        else:
            value = "–" if cells[n] == 0 else f"{cells[x] / cells[n]:.0%}"
            rows.append({"": name, value_col: value, of_col: str(cells[n])})
    sec = Section("backtest", title, table=pd.DataFrame(rows))
    sec.message = _w("cohort.backtest.message",
                     publication=_w("cohort.backtest.publication") if c.publication else "")
    sec.method = res.attrs.get("method", "") + (
        _w("cohort.backtest.method_episodes") if obs is not c.observations else "")
    return sec


def _problem_kind(reason: pd.Series) -> pd.Series:
    """The kind of problem, without values or names: the text before the first digit, quote or ':'."""
    return reason.astype(str).str.replace(r"[\d'\":].*$", "", regex=True).str.strip()


def cohort_data_quality(c: Cohort) -> Section:
    """Rejected rows by file and reason; diary completeness this month."""
    probs = c.clinic.problems
    if c.therapist_id and "client_id" in probs:
        probs = probs[c.in_scope(probs["client_id"])]
    notes = []
    table = None
    if c.publication:
        # no reason text (it can name a client): file and severity only, protected
        allp = c.clinic.problems
        key = allp["file"].astype(str) + " | " + allp["severity"].astype(str)
        cnt = pd.crosstab(c.group_of(allp["client_id"]).to_numpy(), key.to_numpy()) if len(allp) \
            else pd.DataFrame(index=c.groups)
        errs = [k for k in cnt.columns if k.endswith("| error")]
        cnt.insert(0, "rejected", cnt[errs].sum(axis=1) if errs else 0)
        shown, _, exact = c.publish(cnt, [("rejected", errs)])
        keys = [k for k in cnt.columns if k != "rejected"]  # the service's: the same in every report
        if keys and exact[keys].sum() > 0:
            table = pd.DataFrame({_w("cohort.quality.file"): [k.split(" | ")[0] for k in keys],
                                  _w("cohort.quality.kind"): [k.split(" | ")[1] for k in keys],
                                  _w("cohort.quality.rows"): shown[keys].to_numpy()})
        # "* row(s) rejected" only where rows were rejected: a count of rows, not of clients
        notes.append(_w("cohort.quality.rejected", n=shown["rejected"]) if exact["rejected"]
                     else _w("cohort.quality.none_rejected"))
    elif len(probs):
        table = (pd.DataFrame({"file": probs["file"], "problem": _problem_kind(probs["reason"]),
                               "client": probs["client_id"] if "client_id" in probs else "",
                               "kind": probs["severity"]})
                 .value_counts(dropna=False).rename("rows").reset_index())
        table.columns = [_w(f"cohort.quality.{k}") for k in table.columns]
        notes.append(_w("cohort.quality.rejected", n=int((probs["severity"] == "error").sum())))
    else:
        notes.append(_w("cohort.quality.none_rejected"))
    obs = c.observations
    diary = obs[obs["measure"].isin(DIARY) & (obs["date"] >= c.start)]
    diary = diary[c.in_scope(diary["client_id"])]
    if len(diary):
        per = diary.groupby("client_id")["date"].nunique()
        first = diary.groupby("client_id")["date"].min()
        share = (per / ((c.end - first).dt.days + 1)).median()
        if c.publication and len(per) < SMALL_COUNT:
            notes.append(_w("cohort.quality.few_diaries"))
        else:
            n = publication_counts([len(per)])[0] if c.publication else str(len(per))
            notes.append(_w("cohort.quality.diaries", n=n, share=share))
    sec = Section("cohort_quality", _w("cohort.title.quality"), table=table)
    sec.message = " ".join(notes)
    return sec


def month_over_month(c: Cohort) -> Section:
    """This month against the previous month."""
    prev = (c.start - pd.Timedelta(days=1)).strftime("%Y-%m")
    pstart, pend = parse_month(prev)
    obs, ses = c.observations, c.sessions
    labels = ["seen", "attended", "missed", "questionnaires", "diary"]

    def counts(a, b) -> dict[str, pd.Series]:
        s = ses[ses["date"].between(a, b)]
        o = obs[obs["date"].between(a, b)]
        q = o[o["measure"].isin(["PHQ-9", "GAD-7"])]
        d = o.loc[o["measure"].isin(DIARY), ["client_id", "date"]].drop_duplicates()
        return dict(zip(labels, [c.per_group(s.loc[s["attended"], "client_id"].unique()),
                                 c.per_group(s.loc[s["attended"], "client_id"]),
                                 c.per_group(s.loc[~s["attended"], "client_id"]),
                                 c.per_group(q["client_id"]), c.per_group(d["client_id"])],
                        strict=True))

    before, this = counts(pstart, pend), counts(c.start, c.end)
    cells = pd.DataFrame({**{f"{k}|{prev}": v for k, v in before.items()},
                          **{f"{k}|{c.month}": v for k, v in this.items()}}).fillna(0)
    shown, _, exact = c.publish(cells)
    table = pd.DataFrame({"": [_w(f"cohort.month_over_month.{k}") for k in labels],
                          prev: [shown[f"{k}|{prev}"] for k in labels],
                          c.month: [shown[f"{k}|{c.month}"] for k in labels]})
    if not c.publication:
        table[_w("cohort.month_over_month.change")] = [
            f"{int(exact[f'{k}|{c.month}']) - int(exact[f'{k}|{prev}']):+d}" for k in labels]
    return Section("mom", _w("cohort.title.month_over_month"), table=table)


def benchmarks_for(data_dir) -> pd.DataFrame | None:
    """``benchmarks.toml`` from the data folder, or the kit's example for the demo clinic."""
    from ...outcomes import read_benchmarks

    if data_dir is None:
        path = Path(__file__).resolve().parents[2] / "benchmarks.toml"
    else:
        path = Path(data_dir) / "benchmarks.toml"
    return read_benchmarks(path) if path.is_file() else None
