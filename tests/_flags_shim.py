"""A temporary stand-in for ``pk.client_flags`` (issue 10) with its documented interface.

Only for the report tests until the real decision layer lands on main: the report code looks the
function up at run time, so the tests can put this one in place. Its rules are deliberately
simple; the report tests check what the report does with a status, not the rules themselves.
"""

from __future__ import annotations

import pandas as pd

from progress_kit.measures import get_measure

COLUMNS = ["status", "reliable_deterioration", "not_on_track", "stalled", "critical_item", "reasons",
           "n_scores", "first_score", "first_date", "latest_score", "latest_date", "severity"]
BANDS = {"PHQ-9": ((0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"),
                   (15, 19, "moderately severe"), (20, 27, "severe"))}


def client_flags(observations, *, items=None, sessions=None, measure="PHQ-9", expected=None,
                 as_of=None, stall_after=6, stall_weeks=6):
    m = get_measure(measure)
    obs = observations[observations["measure"] == measure].sort_values("date")
    if as_of is not None:
        obs = obs[obs["date"] <= pd.Timestamp(as_of)]
    rows = {}
    for cid, g in obs.groupby("client_id"):
        first, latest = g["score"].iloc[0], g["score"].iloc[-1]
        det = len(g) >= 2 and (latest - first) * m.direction * -1 >= m.reliable_change
        crit = False
        if items is not None and len(items):
            it = items[(items["client_id"] == cid) & (items["measure"] == measure)
                       & (items["item"] == 9)]
            crit = bool((it["response"] > 0).any())
        reasons = []
        if crit:
            reasons.append(f"{measure} item 9 (thoughts of self-harm) endorsed")
        if det:
            reasons.append(f"reliable deterioration on {measure} ({first:g} → {latest:g})")
        status = ("alert" if crit or det else "insufficient data" if len(g) < 2 else "on track")
        sev = next((lab for lo, hi, lab in BANDS.get(measure, ()) if lo <= latest <= hi), pd.NA)
        rows[cid] = [status, det, pd.NA, False, crit, "; ".join(reasons), len(g), first,
                     g["date"].iloc[0], latest, g["date"].iloc[-1], sev]
    out = pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS)
    out.index.name = "client_id"
    out.attrs["method"] = "Test stand-in: alert on reliable deterioration or item 9 endorsed."
    return out


def install(monkeypatch) -> None:
    import progress_kit

    monkeypatch.setattr(progress_kit, "client_flags", client_flags, raising=False)


