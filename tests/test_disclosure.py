"""Publication figures cannot be worked back (issue 22): the attacker of tests/disclosure.py
reads every published table and must pin no count, no denominator and no difference.

It runs on the demo clinic (service_rates and the cohort report, service and every therapist,
this month and last month), on random services of 1-40 therapists with 1-60 referrals each, and
on the case that broke before: 7 of 12, printed as "5 of 10, 0.583333 (0.3195-0.8067)".
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk
from progress_kit.outcomes import _RATES
from progress_kit.reports import sections as S
from progress_kit.reports.steps import cohort_sections


def _helper(name: str):
    """A helper module of tests/ (pytest runs with --import-mode=importlib: no sys.path entry)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


_d = _helper("disclosure")
VARS, Published, exact_counts, exact_pairs, from_service_rates = (
    _d.VARS, _d.Published, _d.exact_counts, _d.exact_pairs, _d.from_service_rates)
MONTH = "2026-10"


# ------------------------------------------------------------------ the attacker can attack
def test_the_attacker_recovers_7_of_12_from_the_old_rule():
    # issue 22: demo T02, reliable recovery, printed under NHS Digital's unrounded-rate rule
    assert exact_pairs("5", "10", 0.583333, (0.3195, 0.8067)) == [(7, 12)]
    pub = Published(["T02"], ["all"], service=None)
    pub.rate("T02", "all", "reliable_recovery", "5", "10", 0.583333, (0.3195, 0.8067))
    assert any("not the one of the printed counts" in f for f in pub.pinned())


def test_the_attacker_pins_a_count_left_by_subtraction():
    # service 12 of which T1 12: T2 is proven 0 (a '*' proven 0 counts as pinned)
    pub = Published(["T1", "T2", "service"], ["all"])
    for unit, text in (("T1", "10"), ("T2", "*"), ("service", "10")):
        pub.count(unit, "all", "ended", text)
    pub.lo[0, 0, 0] = pub.hi[0, 0, 0] = 12  # as if T1's 12 were printed exactly
    pub.lo[2, 0, 0] = pub.hi[2, 0, 0] = 12  # and the service's
    assert "T2 all ended = 0" in pub.pinned()


def test_the_7_of_12_case_is_now_published_from_the_rounded_counts():
    out = _group(7, 12, "T02")
    rates = pk.service_rates(out).set_index("outcome")
    row = rates.loc["reliable_recovery"]
    assert (row["numerator"], row["denominator"]) == ("5", "10")
    assert row["rate"] == pytest.approx(0.5)  # 5/10, not 7/12
    pub = from_service_rates(pk.service_rates(out, by="therapist_id"), pk.service_rates(out),
                             "therapist_id")
    assert pub.pinned() == []
    assert pub.certify(_truth(out, pub)) == []


# ------------------------------------------------------------------ random services
def _group(x: int, n: int, therapist: str) -> pd.DataFrame:
    """n finished cases, x of them reliably recovered."""
    return pd.DataFrame({"therapist_id": therapist, "ended": True, "finished": True,
                         "caseness_start": True, "recovery": [True] * x + [False] * (n - x),
                         "reliable_improvement": [True] * x + [False] * (n - x),
                         "reliable_deterioration": False,
                         "reliable_recovery": [True] * x + [False] * (n - x)})


def random_service(rng: np.random.Generator) -> pd.DataFrame:
    """1-40 therapists with 1-60 referrals each; each therapist's own mix of outcomes, some
    with none on one side (all finished, none deteriorated)."""
    g = int(rng.integers(1, 41))
    k = rng.integers(1, 61, size=g)
    th = np.repeat([f"T{i:02d}" for i in range(g)], k)
    m = int(k.sum())
    p = {name: np.repeat(rng.uniform(lo, hi, size=g), k)
         for name, lo, hi in (("fin", 0.4, 1.01), ("case", 0.5, 1.01), ("rec", 0.1, 0.9),
                              ("imp", 0.2, 1.0), ("det", 0.0, 0.2))}
    u = rng.random((5, m))
    fin = u[0] < p["fin"]
    case = fin & (u[1] < p["case"])
    imp = fin & (u[3] < p["imp"])
    rec = case & (u[2] < p["rec"])
    det = fin & ~imp & (u[4] < p["det"])
    return pd.DataFrame({"therapist_id": th, "ended": True, "finished": fin,
                         "caseness_start": case, "recovery": rec, "reliable_improvement": imp,
                         "reliable_deterioration": det, "reliable_recovery": rec & imp})


def _truth(out: pd.DataFrame, pub: Published) -> np.ndarray:
    return exact_counts(out, "therapist_id").reindex(pub.units).to_numpy()[:, None, :]


def _attack_random(n_services: int, seed: int, certify_every: int) -> list[str]:
    rng = np.random.default_rng(seed)
    found = []
    for i in range(n_services):
        out = random_service(rng)
        by, total = pk.service_rates(out, by="therapist_id"), pk.service_rates(out)
        pub = from_service_rates(by, total, "therapist_id")
        hits = pub.pinned()
        if not hits and i % certify_every == 0:
            hits = pub.certify(_truth(out, pub))  # a witness table for every printed cell
        found += [f"service {i}: {h}" for h in hits]
    return found


def test_random_services_leave_every_count_open():
    assert _attack_random(60, seed=22, certify_every=10) == []


@pytest.mark.slow
def test_a_thousand_random_services_leave_every_count_open():
    assert _attack_random(1000, seed=2022, certify_every=10) == []


# ------------------------------------------------------------------ the demo clinic
def test_demo_service_rates_by_therapist_leave_every_count_open(demo_clinic):
    c = demo_clinic
    out = pk.talking_therapies_outcomes(c.observations, c.sessions, clients=c.clients,
                                        period=("2026-05-01", "2026-10-31"))
    pub = from_service_rates(pk.service_rates(out, by="therapist_id"), pk.service_rates(out),
                             "therapist_id")
    assert pub.pinned() == []
    assert pub.certify(_truth(out, pub)) == []


def _cohort_view(clinic, months: list[str]) -> tuple[Published, dict]:
    """Every rate row of the service report and each therapist's, for each month, read as one
    reader would: the months' trends, quarters and 12 months, with their sums."""
    rows, sums, units = [], {}, None
    for month in months:
        service = S.Cohort(clinic, month, audience="publication")
        units = [*service.groups, "service"]
        for label, kind, ms in service.periods:
            if kind != "trend":
                sums[label] = ms
        for th in [None, *[g for g in service.groups if g != S.cohort.NO_THERAPIST]]:
            r = S.Cohort(clinic, month, th, audience="publication").rates()
            rows.append(r.assign(unit=th or "service"))
    table = pd.concat(rows, ignore_index=True)
    periods = list(dict.fromkeys(table["period"]))
    pub = Published(units, periods, sums=sums)
    for r in table.itertuples():
        pub.rate(r.unit, r.period, r.outcome, r.numerator, r.denominator, r.rate,
                 (r.ci_low, r.ci_high))
    truth = {}
    for r in table.itertuples():
        u, p = pub.units.index(r.unit), pub.periods.index(r.period)
        num, den = next((n, d) for o, n, d in _RATES if o == r.outcome)
        truth[(u, p, VARS.index(num))], truth[(u, p, VARS.index(den))] = r.x, r.n
    return pub, truth


def _truth_array(pub: Published, known: dict) -> np.ndarray:
    t = np.zeros(pub.lo.shape, dtype=np.int64)
    for (u, p, k), v in known.items():
        t[u, p, k] = v
    # the other sides follow from their counts; the orphan group (no report) is the rest
    for o, n, d in _RATES:
        t[..., VARS.index(f"not_{o}")] = t[..., VARS.index(d)] - t[..., VARS.index(n)]
    return t


def test_demo_cohort_reports_of_two_months_leave_every_count_open(demo_clinic):
    # the service report and every therapist's, this month and last month, read together
    pub, _ = _cohort_view(demo_clinic, ["2026-09", MONTH])
    assert pub.pinned() == []


@pytest.mark.slow
def test_demo_cohort_reports_of_two_months_have_a_witness_for_every_cell(demo_clinic):
    # proof by example: for every printed cell, a second exact table consistent with all of
    # both months' reports in which that cell differs (integer programs; about half a minute)
    pub, known = _cohort_view(demo_clinic, ["2026-09", MONTH])
    assert S.cohort.NO_THERAPIST not in pub.units  # every unit published: the truth is known
    assert pub.certify(_truth_array(pub, known)) == []


def test_demo_cohort_report_shows_one_set_of_numbers(demo_clinic):
    """The outcome table, the funnel table and its plot, and the rates agree cell for cell."""
    c = S.Cohort(demo_clinic, MONTH, audience="publication")
    rates = c.rates()
    year = rates[(rates["kind"] == "year") & (rates["outcome"] == "recovery")].iloc[0]
    funnel = S.recovery_funnel(c)
    f = funnel.table.set_index("therapist")
    assert (f.loc["service", "recovered"], f.loc["service", "finished cases"]) == (
        year["numerator"], year["denominator"])
    assert f.loc["service", "rate (95% CI)"] == (
        f"{year['rate']:.0%} ({year['ci_low']:.0%}–{year['ci_high']:.0%})")
    for th in [g for g in c.groups if g != S.cohort.NO_THERAPIST]:
        r = S.Cohort(demo_clinic, MONTH, th, audience="publication").rates()
        y = r[(r["kind"] == "year") & (r["outcome"] == "recovery")].iloc[0]
        assert (f.loc[th, "recovered"], f.loc[th, "finished cases"]) == (y["numerator"],
                                                                         y["denominator"])
        assert f.loc[th, "rate (95% CI)"].split(" ")[0] == (
            "–" if np.isnan(y["rate"]) else f"{y['rate']:.0%}")
    # the figure draws the published counts' rate at the published denominator
    pts = funnel.facts["points"].set_index("unit")
    for th in pts.index:
        shown = f.loc[th, "finished cases"]
        if shown != "*":
            assert pts.loc[th, "denominator"] == int(shown)
        assert (f"{pts.loc[th, 'rate']:.0%}" if np.isfinite(pts.loc[th, "rate"]) else "–") == \
            f.loc[th, "rate (95% CI)"].split(" ")[0]
    # the outcomes table prints the same cells
    text = cohort_sections(demo_clinic, MONTH, audience="publication")["outcomes"][0].table
    cell = text.set_index("outcome").loc["recovery", "12 months to Oct 2026"]
    assert cell.endswith(f"{year['numerator']} of {year['denominator']}")
    # every count printed is a published one: a multiple of 5 or '*'
    for col in ("recovered", "finished cases"):
        assert all(v == "*" or int(v) % 5 == 0 for v in f[col])
