"""Sections of the cohort (service) report (see :mod:`progress_kit.reports.sections`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...data import ClinicData
from ..safe import parse_month
from .common import (
    SUPPRESS_BELOW,
    Section,
    _expected,
    _fmt_day,
    _plot,
    _stat,
    _threshold_change,
    _tunnel_method,
    _unavailable,
)

__all__ = ["cohort_overview", "talking_therapies", "jacobson", "slope_distribution",
           "recovery_by_group", "not_on_track", "cohort_data_quality", "month_over_month", "suppress"]


def suppress(table: pd.DataFrame, counts: list[str], linked: list[str] | None = None,
             below: int = SUPPRESS_BELOW) -> pd.DataFrame:
    """Small-cell suppression: counts from 1 to ``below - 1`` become ``"<5"``.

    ``linked`` columns (rates, intervals) are blanked on any row where a count was suppressed,
    since they would reveal it.

    Examples
    --------
    >>> t = pd.DataFrame({"group": ["a", "b"], "n": [12, 3], "rate": ["50%", "33%"]})
    >>> suppress(t, ["n"], ["rate"]).values.tolist()
    [['a', '12', '50%'], ['b', '<5', 'suppressed']]
    """
    out = table.copy()
    hidden = np.zeros(len(out), dtype=bool)
    for col in counts:
        v = pd.to_numeric(out[col], errors="coerce")
        small = ((v > 0) & (v < below)).to_numpy()
        hidden |= small
        out[col] = np.where(small, f"<{below}", v.map(lambda x: "–" if pd.isna(x) else f"{x:.0f}"))
    for col in linked or []:
        out[col] = out[col].astype(object)
        out.loc[hidden, col] = "suppressed"
    return out


def _cohort(clinic: ClinicData, month: str, therapist_id: str | None):
    _, end = parse_month(month)
    clients = clinic.clients
    if therapist_id:
        clients = clients[clients["therapist_id"] == therapist_id]
    ids = set(clients["client_id"])
    obs = clinic.observations
    obs = obs[obs["client_id"].isin(ids) & (obs["date"] <= end)]
    ses = clinic.sessions
    ses = ses[ses["client_id"].isin(ids) & (ses["date"] <= end)]
    return clients, obs, ses


def cohort_overview(clinic: ClinicData, month: str, therapist_id: str | None = None) -> Section:
    """Caseload this month."""
    start, end = parse_month(month)
    clients, obs, ses = _cohort(clinic, month, therapist_id)
    in_month = ses[ses["date"] >= start]
    active = set(in_month["client_id"]) | set(obs.loc[obs["date"] >= start, "client_id"])
    rows = pd.DataFrame({
        "": ["clients with activity this month", "new clients (started this month)",
             "clients who ended this month", "sessions booked this month",
             "sessions attended this month"],
        "count": [len(active), int(clients["start_date"].between(start, end).sum()),
                  int(clients["end_date"].between(start, end).sum()), len(in_month),
                  int(in_month["attended"].sum())]})
    sec = Section("overview", "Caseload this month", table=suppress(rows, ["count"]), header=False)
    scope = f"therapist {therapist_id}" if therapist_id else "the whole service"
    sec.message = f"{_fmt_day(start)} to {_fmt_day(end)}, {scope}."
    return sec


_TT_WORDS = {"finished": "finished treatment (2+ treatment sessions)",
             "caseness_start": "a case at the start (of those finished)",
             "recovery": "recovery", "reliable_improvement": "reliable improvement",
             "reliable_deterioration": "reliable deterioration",
             "reliable_recovery": "reliable recovery"}


def _rates_table(rates: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    """Rates as a clinician reads them: words, counts, a percentage and its interval."""
    def pct(x):
        return "suppressed" if pd.isna(x) else f"{x:.0%}"

    out = rates[first].copy()
    out["outcome"] = rates["outcome"].map(lambda o: _TT_WORDS.get(o, o.replace("_", " ")))
    out["numerator"] = rates["numerator"].astype(str)
    out["denominator"] = rates["denominator"].astype(str)
    out["rate"] = rates["rate"].map(pct)
    out["95% CI"] = [("suppressed" if pd.isna(lo) else f"{lo:.0%}–{hi:.0%}")
                     for lo, hi in zip(rates["ci_low"], rates["ci_high"], strict=True)]
    return out


def _outcomes(clinic: ClinicData, month: str, therapist_id: str | None, group: str | None = None):
    fn = _stat("talking_therapies_outcomes")
    if fn is None:
        return None
    clients, obs, ses = _cohort(clinic, month, therapist_id)
    out = fn(obs, ses, clients=clients)
    if group and group not in out.columns and group in clients.columns:
        out = out.join(clients.set_index("client_id")[[group]], how="left")
    return out


def talking_therapies(clinic: ClinicData, month: str, therapist_id: str | None = None) -> Section:
    """NHS Talking Therapies recovery, reliable improvement and reliable recovery rates."""
    title = "NHS Talking Therapies outcomes"
    rates_fn = _stat("service_rates")
    outcomes = _outcomes(clinic, month, therapist_id)
    if outcomes is None or rates_fn is None:
        return _unavailable("tt", title, "the Talking Therapies outcome rates")
    if outcomes.empty:
        return Section("tt", title, "insufficient", "No clients with questionnaire scores yet.")
    rates = rates_fn(outcomes)
    sec = Section("tt", title, table=_rates_table(rates, []))
    sec.message = ("Every client seen up to the end of the month (cumulative), first against last "
                   "score. Rates are out of the clients who finished treatment; recovery and "
                   "reliable recovery out of those who were a case at the start.")
    sec.method = ("Talking Therapies rates (NHS England 2023 definitions, PHQ-9 with GAD-7 or the "
                  f"disorder-specific anxiety measure): {outcomes.attrs.get('method', '')} "
                  f"{rates.attrs.get('method', '')}.").replace("  ", " ")
    return sec


def _change_result(clinic: ClinicData, month: str, therapist_id: str | None,
                   measure: str = "PHQ-9") -> pd.DataFrame | None:
    fn = _stat("clinical_significance")
    if fn is None:
        return None
    clients, obs, _ = _cohort(clinic, month, therapist_id)
    scores = obs[obs["measure"] == measure]
    counts = scores.groupby("client_id").size()
    scores = scores[scores["client_id"].isin(counts.index[counts >= 2])]
    if scores.empty:
        return pd.DataFrame(columns=["pre", "post", "category"])
    res = _threshold_change(fn, scores, measure)
    out = res.join(clients.set_index("client_id")[["therapist_id"]], how="left")
    out.attrs = res.attrs  # the method and the Jacobson band live there
    return out


def jacobson(clinic: ClinicData, month: str, therapist_id: str | None = None,
             measure: str = "PHQ-9") -> Section:
    """First vs latest score for every client with two or more scores."""
    title = f"Jacobson plot ({measure}, first vs latest score)"
    res = _change_result(clinic, month, therapist_id, measure)
    if res is None:
        return _unavailable("jacobson", title, "clinical significance")
    if len(res) < SUPPRESS_BELOW:
        return Section("jacobson", title, "insufficient",
                       f"Fewer than {SUPPRESS_BELOW} clients with two or more {measure} scores.")
    lines_fn = _stat("jacobson_plot_data")
    lines = lines_fn(res) if lines_fn is not None else None
    counts = res["category"].astype(str).value_counts()
    table = pd.DataFrame({"category": counts.index, "clients": counts.to_numpy()})
    sec = Section("jacobson", title, table=suppress(table, ["clients"]), figsize=(6.4, 4.6),
                  method=f"{measure} change categories (cohort): {res.attrs.get('method', '')}")
    sec.message = f"{len(res)} clients with at least two {measure} scores up to the end of the month."
    sec.plot = lambda ax: _plot("plot_jacobson", res, measure=measure, lines=lines, ax=ax,
                                suppress_below=SUPPRESS_BELOW)
    return sec


def slope_distribution(clinic: ClinicData, month: str, therapist_id: str | None = None,
                       measure: str = "PHQ-9") -> Section:
    """How fast clients' scores move: the distribution of per-client slopes."""
    title = f"Distribution of {measure} slopes"
    fn = _stat("slopes")
    if fn is None:
        return _unavailable("slopes", title, "the slope statistic")
    _, obs, _ = _cohort(clinic, month, therapist_id)
    res = fn(obs[obs["measure"] == measure], measure=measure, per="week")
    res = res[res["slope"].notna()]
    if len(res) < SUPPRESS_BELOW:
        return Section("slopes", title, "insufficient",
                       f"Fewer than {SUPPRESS_BELOW} clients with three or more {measure} scores.")
    counts = res["direction"].astype(str).value_counts()
    table = suppress(pd.DataFrame({"direction": counts.index, "clients": counts.to_numpy()}),
                     ["clients"])
    sec = Section("slopes", title, table=table,
                  method=f"{measure} slopes: ordinary least squares per client, points per week, "
                         f"95% t-interval; direction from whether the interval excludes zero.")
    sec.message = (f"Median slope {res['slope'].median():+.2f} points per week over "
                   f"{len(res)} clients (negative = scores falling).")
    values = res["slope"].to_numpy(float)

    def draw(ax):
        from ...plots import CLINICAL_COLOURS as C

        # equal-count bins: every bar holds at least SUPPRESS_BELOW clients (no small cells);
        # bar area is the share of clients, so wide bars are low
        n_bins = max(1, min(10, len(values) // SUPPRESS_BELOW))
        edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)))
        ax.hist(values, bins=edges, density=True, color=C["sky"], edgecolor="black", hatch="//")
        ax.axvline(0, color=C["black"], linestyle="--", linewidth=1.2, label="no change")
        ax.set_xlabel(f"{measure} slope (points per week; below 0 = improving)")
        ax.set_ylabel("share of clients (density)")
        ax.set_title(f"each bar holds about {len(values) // n_bins} clients", loc="right",
                     fontsize="x-small")
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(frameon=False, fontsize="small")
        return ax

    sec.plot = draw
    return sec


def recovery_by_group(clinic: ClinicData, month: str, therapist_id: str | None = None,
                      group: str = "therapist_id") -> Section:
    """Talking Therapies recovery rate per therapist (or other clients column), suppressed."""
    title = f"Recovery by {group.replace('_id', '').replace('_', ' ')}"
    rates_fn = _stat("service_rates")
    outcomes = _outcomes(clinic, month, therapist_id, group)
    if outcomes is None or rates_fn is None:
        return _unavailable("recovery", title, "the Talking Therapies outcome rates")
    if group not in outcomes.columns:
        raise ValueError(f"group {group!r} is not a column of the clients table")
    if outcomes.empty:
        return Section("recovery", title, "insufficient", "No clients with questionnaire scores yet.")
    rates = rates_fn(outcomes, by=group)
    rates = rates[rates["outcome"] == "recovery"]
    table = _rates_table(rates, [group]).drop(columns="outcome")
    table = table.rename(columns={group: group.replace("_", " "), "numerator": "recovered",
                                  "denominator": "finished, a case at start"})
    sec = Section("recovery", title, table=table)
    sec.message = (f"Counts below {SUPPRESS_BELOW} are shown as <{SUPPRESS_BELOW} and their rates "
                   "withheld. Where that would hide only one group's count, the next smallest is "
                   "withheld too ('suppressed'), so it cannot be worked out from the service total. "
                   "Small groups vary a lot by chance: read the intervals.")
    sec.method = f"Recovery by {group.replace('_', ' ')}: as the Talking Therapies recovery rate, per group."
    return sec


def not_on_track(clinic: ClinicData, month: str, therapist_id: str | None = None,
                 measure: str = "PHQ-9") -> Section:
    """Clients whose latest signal, from a score this month, is 'not on track' (for review)."""
    title = "Clients flagged not on track"
    if _stat("expected_response") is None or _stat("on_track") is None:
        return _unavailable("not_on_track", title, "the on-track statistic")
    start, _ = parse_month(month)
    clients, obs, _ = _cohort(clinic, month, therapist_id)
    expected, why = _expected(clinic, measure)
    if expected is None:
        return Section("not_on_track", title, "insufficient",
                       f"The data are too small for an expected course ({why}).")
    track = _stat("on_track")(obs[obs["measure"] == measure], expected, measure=measure)
    latest = track.sort_values(["client_id", "date"]).groupby("client_id").tail(1)
    flagged = latest[(latest["signal"] == "not on track") & (latest["date"] >= start)]
    table = flagged.merge(clients[["client_id", "therapist_id"]], on="client_id")
    table = pd.DataFrame({"client": table["client_id"], "therapist": table["therapist_id"],
                          "latest score on": table["date"].map(_fmt_day),
                          "session": table["session"].astype(int)})
    at_risk = int(((latest["signal"] == "at risk") & (latest["date"] >= start)).sum())
    sec = Section("not_on_track", title, table=table, method=_tunnel_method(expected))
    sec.message = (f"{len(flagged)} client(s) not on track at their latest {measure} score this "
                   f"month" + (f"; {at_risk} more at risk." if at_risk >= SUPPRESS_BELOW else
                               (f"; <{SUPPRESS_BELOW} more at risk." if at_risk else ".")))
    return sec


def cohort_data_quality(clinic: ClinicData, month: str, therapist_id: str | None = None) -> Section:
    """Rejected rows by file and reason; diary completeness this month."""
    start, end = parse_month(month)
    clients, obs, _ = _cohort(clinic, month, therapist_id)
    probs = clinic.problems
    if therapist_id and "client_id" in probs:
        probs = probs[probs["client_id"].isin(set(clients["client_id"]))]
    notes = []
    table = None
    if len(probs):
        kind = probs["reason"].astype(str).str.replace(r"[\d'\"].*$", "", regex=True).str.strip()
        table = (pd.DataFrame({"file": probs["file"], "problem": kind, "kind": probs["severity"]})
                 .value_counts().rename("rows").reset_index())
        notes.append(f"{int((probs['severity'] == 'error').sum())} row(s) rejected by validation.")
    else:
        notes.append("No rows were rejected by validation.")
    diary = obs[obs["measure"].isin(["mood", "sleep_quality", "homework", "goals_on_track",
                                     "takeaways"]) & (obs["date"] >= start)]
    if len(diary):
        per = diary.groupby("client_id")["date"].nunique()
        first = diary.groupby("client_id")["date"].min()
        span = (end - first).dt.days + 1
        share = (per / span).median()
        notes.append(f"{len(per)} clients kept a diary this month; median completion {share:.0%} of days "
                     f"(from their first entry this month).")
    sec = Section("cohort_quality", "Data quality", table=table)
    if table is not None:
        sec.table = suppress(table, ["rows"])
    sec.message = " ".join(notes)
    return sec


def month_over_month(clinic: ClinicData, month: str, therapist_id: str | None = None) -> Section:
    """This month against the previous month."""
    start, end = parse_month(month)
    prev = (start - pd.Timedelta(days=1)).strftime("%Y-%m")
    pstart, pend = parse_month(prev)
    _, obs, ses = _cohort(clinic, month, therapist_id)

    def counts(a, b):
        s = ses[ses["date"].between(a, b)]
        o = obs[obs["date"].between(a, b)]
        q = o[o["measure"].isin(["PHQ-9", "GAD-7"])]
        return [s.loc[s["attended"], "client_id"].nunique(), int(s["attended"].sum()),
                int((~s["attended"]).sum()), len(q), o.loc[~o["measure"].isin(["PHQ-9", "GAD-7", "SPIN"]),
                                                          ["client_id", "date"]].drop_duplicates().shape[0]]

    this, before = counts(start, end), counts(pstart, pend)
    table = pd.DataFrame({"": ["clients seen", "sessions attended", "sessions missed",
                               "questionnaires completed (PHQ-9, GAD-7)", "diary days"],
                          prev: before, month: this,
                          "change": [a - b for a, b in zip(this, before, strict=True)]})
    out = suppress(table, [prev, month])
    small = (table[[prev, month]].gt(0) & table[[prev, month]].lt(SUPPRESS_BELOW)).any(axis=1)
    out["change"] = [("suppressed" if s else f"{c:+d}") for s, c in zip(small, table["change"], strict=True)]
    return Section("mom", "Month over month", table=out)
