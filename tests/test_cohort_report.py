"""The cohort (service) report: audiences, disclosure control across reports, clients to review.

Expected counts are worked by hand from the clinic built below and NHS Digital's rules (below 5
shown as '*', others rounded to the nearest 5; a rate withheld where its numerator or
denominator is below 5).
"""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk
from progress_kit.data import ClinicData
from progress_kit.reports import sections as S
from progress_kit.reports.steps import cohort_sections

MONTH = "2026-10"


def _clinic(plan, worse=()):
    """plan: therapist -> (recovered, not recovered) clients, all ending 2026-10-20 after two
    treatment sessions. Recovered: PHQ-9 16 -> 7, GAD-7 12 -> 5 (a case, below both cut-offs,
    reliable on both). Not recovered: PHQ-9 16 -> 14, GAD-7 12 -> 11 (no reliable change).
    Plus one active client of T1 with the recovered scores (in no outcome). ``worse``:
    (client, therapist, status, end date) with PHQ-9 10 -> 20 and GAD-7 8 -> 15 (reliable
    deterioration: +10 >= 6 and +7 >= 4)."""
    clients, obs, ses = [], [], []
    k = 0
    for th, (rec, notrec) in plan.items():
        for j in range(rec + notrec):
            k += 1
            cid = f"K{k:03d}"
            clients.append((cid, th, "2026-08-03", "2026-10-20", "finished"))
            last = (7, 5) if j < rec else (14, 11)
            for day, (p, g) in (("2026-08-03", (16, 12)), ("2026-10-19", last)):
                obs += [(cid, day, "PHQ-9", p), (cid, day, "GAD-7", g)]
            ses += [(cid, "2026-08-10", True, "treatment"), (cid, "2026-09-14", True, "treatment")]
    clients.append(("ACTIVE1", "T1", "2026-08-03", None, "active"))
    obs += [("ACTIVE1", "2026-08-03", "PHQ-9", 16), ("ACTIVE1", "2026-08-03", "GAD-7", 12),
            ("ACTIVE1", "2026-10-19", "PHQ-9", 7), ("ACTIVE1", "2026-10-19", "GAD-7", 5)]
    ses += [("ACTIVE1", "2026-08-10", True, "treatment"), ("ACTIVE1", "2026-09-14", True, "treatment")]
    for cid, th, status, end in worse:
        clients.append((cid, th, "2026-08-03", end, status))
        obs += [(cid, "2026-08-03", "PHQ-9", 10), (cid, "2026-08-03", "GAD-7", 8),
                (cid, "2026-10-19", "PHQ-9", 20), (cid, "2026-10-19", "GAD-7", 15)]
        ses += [(cid, "2026-08-10", True, "treatment"), (cid, "2026-09-14", True, "treatment")]
    c = pd.DataFrame(clients, columns=["client_id", "therapist_id", "start_date", "end_date", "status"])
    c["start_date"], c["end_date"] = pd.to_datetime(c["start_date"]), pd.to_datetime(c["end_date"])
    c["problem"], c["session_frequency"] = "depression", "weekly"
    o = pd.DataFrame(obs, columns=["client_id", "date", "measure", "score"])
    o["date"], o["score"] = pd.to_datetime(o["date"]), o["score"].astype(float)
    s = pd.DataFrame(ses, columns=["client_id", "date", "attended", "kind"])
    s["date"] = pd.to_datetime(s["date"])
    return ClinicData(o, c, s)


@pytest.fixture(scope="module")
def clinic():
    # recovered 10, 7, 2 (total 19); finished cases 10, 7, 7 (total 24)
    return _clinic({"T1": (10, 0), "T2": (7, 0), "T3": (2, 5)})


def _recovery(clinic, therapist, period="12 months to Oct 2026"):
    r = S.Cohort(clinic, MONTH, therapist, audience="publication").rates()
    return r[(r["period"] == period) & (r["outcome"] == "recovery")].iloc[0]


def test_active_client_is_in_no_outcome_of_the_report(clinic):
    r = S.Cohort(clinic, MONTH, audience="internal").rates()
    fin = r[(r["period"] == MONTH) & (r["outcome"] == "finished")].iloc[0]
    assert (fin["x"], fin["n"]) == (24, 24)  # the active client is neither ended nor finished


def test_complementary_suppression_across_service_and_therapist_reports(clinic):
    # by hand: T3's 2 recovered is below 5; with T1's 10 and the service's 19 shown, it would be
    # 19 - 10 - 7, so the next smallest (T2's 7) is withheld in T2's own report as well
    service, t1, t2, t3 = (_recovery(clinic, t) for t in (None, "T1", "T2", "T3"))
    assert (service["numerator"], service["denominator"]) == ("20", "25")  # 19 and 24 rounded
    # 5 not recovered: both sides >= 5; the rate is the published counts' 20/25, never 19/24
    assert service["rate"] == pytest.approx(20 / 25)
    # 10 of 10: none on the other side; "100%" and "10 of 10" would both say "all of them", so
    # the numerator is withheld with the rate (issue 22)
    assert (t1["numerator"], t1["denominator"]) == ("*", "10")
    assert np.isnan(t1["rate"])
    assert t2["numerator"] == "*" and np.isnan(t2["rate"])
    assert t3["numerator"] == "*" and np.isnan(t3["rate"])
    assert t3["denominator"] == "5"  # 7 finished cases: shown, rounded
    # the month and the quarter hold the same referrals: withheld the same way
    for period in (MONTH, "2026Q4 to date"):
        assert _recovery(clinic, "T2", period)["numerator"] == "*"
        assert _recovery(clinic, None, period)["numerator"] == "20"


def test_no_published_relation_has_a_single_hidden_cell(clinic):
    """Every table of every report of the month: service + therapists, each row's cells."""
    def tables(th):
        rep = cohort_sections(clinic, MONTH, th, audience="publication")
        secs = [rep["overview"], *rep["outcomes"], *rep["service"]]
        return {s.key: s.table for s in secs if s.table is not None}

    service = tables(None)
    parts = {t: tables(t) for t in ("T1", "T2", "T3")}
    overview = [parts[t]["overview"]["count"] for t in parts]
    for row, total in enumerate(service["overview"]["count"]):
        cells = [total] + [o.iloc[row] for o in overview]
        assert [c == "*" for c in cells].count(True) != 1, service["overview"].iloc[row, 0]
    funnel = service["recovery"].set_index("therapist")
    assert funnel.loc["T2", "recovered"] == "*" and funnel.loc["T3", "recovered"] == "*"
    # T1's 10 recovered of 10: withheld with its empty other side (issue 22)
    assert funnel.loc["T1", "recovered"] == "*" and funnel.loc["T1", "finished cases"] == "10"


def test_publication_rounds_internal_is_exact(clinic):
    pub = cohort_sections(clinic, MONTH, audience="publication")["outcomes"][0].table
    internal = cohort_sections(clinic, MONTH, audience="internal")["outcomes"][0].table
    assert "19 of 24" in internal.to_string() and "19 of 24" not in pub.to_string()
    assert "20 of 25" in pub.to_string()


def test_publication_refuses_other_breakdowns_and_unknown_therapists(clinic):
    with pytest.raises(ValueError, match="by therapist only"):
        S.Cohort(clinic, MONTH, audience="publication", group="problem")
    with pytest.raises(ValueError, match="therapist 'TYPO' has no clients"):
        S.Cohort(clinic, MONTH, "TYPO")
    with pytest.raises(ValueError, match="audience 'public'"):
        S.Cohort(clinic, MONTH, audience="public")


def test_no_median_or_percentage_over_fewer_than_5_clients():
    small = _clinic({"T1": (3, 0), "T2": (1, 0)})  # 4 finished + one active
    rep = cohort_sections(small, MONTH, audience="publication")
    text = " ".join(s.to_html() for s in [rep["overview"], *rep["outcomes"], *rep["service"]])
    assert "%" not in re.sub(r"9[59](\.8)?% (control|Wilson|CI)|95% CI", "", text)
    assert "median" not in text.lower()


@pytest.fixture(scope="module")
def flagged():
    """Two clients whose PHQ-9 rose by 10 (alert): W01 still active (T2), W02 discharged this
    month (T1), W03 discharged in September (T3)."""
    return _clinic({"T1": (6, 0), "T2": (6, 0), "T3": (5, 1)},
                   worse=[("W01", "T2", "active", None), ("W02", "T1", "finished", "2026-10-25"),
                          ("W03", "T3", "dropped", "2026-09-30")])


def _review_clinic(base):
    """``base`` plus two active clients: Q01 last seen in August (no session or score in
    October), Q02 (T1) seen in July and October."""
    days = {"Q01": ["2026-07-06", "2026-08-03"], "Q02": ["2026-07-06", "2026-10-05"]}
    o = pd.concat([base.observations, *(pd.DataFrame({
        "client_id": q, "date": pd.to_datetime(d), "measure": "PHQ-9", "score": [16.0, 17.0]})
        for q, d in days.items())], ignore_index=True)
    s = pd.concat([base.sessions, *(pd.DataFrame({
        "client_id": q, "date": pd.to_datetime(d), "attended": True, "kind": "treatment"})
        for q, d in days.items())], ignore_index=True)
    c = pd.concat([base.clients, pd.DataFrame({
        "client_id": list(days), "therapist_id": ["T3", "T1"],
        "start_date": pd.Timestamp("2026-07-06"), "end_date": pd.NaT, "status": "active",
        "problem": "depression", "session_frequency": "weekly"})], ignore_index=True)
    return ClinicData(o, c, s)


def _with_flags(clinic, rows):
    """A cohort whose client_flags result is ``rows`` (client, status, reasons, latest date,
    reliable deterioration): each branch of the review list, whatever the rules say."""
    c = S.Cohort(clinic, MONTH, audience="internal")
    f = pd.DataFrame(rows, columns=["client_id", "status", "reasons", "latest_date",
                                    "reliable_deterioration"]).set_index("client_id")
    f["latest_date"] = pd.to_datetime(f["latest_date"])
    f["latest_score"] = 20.0
    c.__dict__["flags"] = f  # the cached property, set by hand
    return c


STALLED = ("stalled: no reliable improvement over 9 scores in 9 weeks, still in the clinical "
           "range (clinical if PHQ-9 >= 10)")
WORSE = "PHQ-9 up 10 points since the first score (reliable deterioration, threshold 6)"


def test_review_lists_clients_in_treatment_this_month_grouped_by_status(flagged):
    c = _with_flags(_review_clinic(flagged), [
        ("W01", "alert", WORSE, "2026-10-19", True),            # active, seen in October
        ("ACTIVE1", "watch", STALLED, "2026-10-19", False),     # active, seen in October
        ("Q02", "urgent", "a new rule: something", "2026-10-05", False),  # a status to come
        ("Q01", "watch", STALLED, "2026-08-03", False),         # active, not seen in October
        ("W03", "alert", WORSE, "2026-10-19", True),            # ended in September
        ("K002", "watch", STALLED, "2026-10-19", False),        # ended this month
        ("W02", "alert", WORSE, "2026-10-19", True),            # ended this month, worse
        ("K003", "on track", "", "2026-10-19", False),
        ("K004", "no flags", "no expected-response band", "2026-10-19", False),
    ])
    sec = S.clients_to_review(c)
    t = sec.facts["clients"]
    # alert, watch, then any other status under its own name
    assert t["client"].tolist() == ["W01", "ACTIVE1", "Q02"]
    assert t["status"].tolist() == ["alert", "watch", "urgent"]
    assert sec.table.iloc[:, 0].tolist() == ["alert: W01 (T2)", "watch: ACTIVE1 (T1)",
                                             "urgent: Q02 (T1)"]
    # short reasons: the kind, or the first clause
    assert t["why (the client's report has the detail)"].tolist() == [
        "PHQ-9 up 10 points since the first score", "stalled", "a new rule"]
    assert "1 alert, 1 watch, 1 urgent" in sec.message
    # discharged this month: once, in the line; the deteriorated ones in the next section
    assert sec.lines == ["Ended this month while flagged: K002 (T1, watch). 1 ended with "
                         "reliable deterioration: see the next section."]
    assert sorted(sec.facts["ended"]) == ["K002", "W02"]
    text = sec.to_html()
    assert "W03" not in text and "Q01" not in text and text.count("K002") == 1


@pytest.mark.parametrize("reason, short", [
    ("item 9 (thoughts of being better off dead or of hurting oneself) answered 3 on 2026-10-23",
     "item 9 answered 3 on 2026-10-23"),
    ("not on track: PHQ-9 27 at session 7 is above the expected range (expected about 13.1, "
     "limit 21.7)", "not on track"),
    (STALLED, "stalled"), (WORSE, "PHQ-9 up 10 points since the first score")])
def test_review_reasons_are_cut_to_their_headline(reason, short):
    assert S.cohort._short_reason(reason) == short


def test_review_names_a_client_whose_flag_arose_this_month(flagged):
    # Q01 had no session in October, but the score the status rests on is from October
    c = _with_flags(_review_clinic(flagged), [("Q01", "watch", STALLED, "2026-10-02", False)])
    assert S.clients_to_review(c).facts["clients"]["client"].tolist() == ["Q01"]


def test_review_says_so_when_nobody_in_treatment_asks_for_review(flagged):
    c = _with_flags(_review_clinic(flagged), [("Q01", "watch", STALLED, "2026-08-03", False),
                                               ("W03", "alert", WORSE, "2026-09-20", True)])
    sec = S.clients_to_review(c)
    assert sec.table is None and sec.lines is None
    assert sec.message == "No client of the whole service in treatment this month asks for review."


def test_internal_review_from_client_flags(flagged):
    flags = pk.client_flags(flagged.observations, sessions=flagged.sessions, as_of="2026-10-31")
    assert {"W01", "W02", "W03"} <= set(flags.index[flags["status"] == "alert"])
    rep = cohort_sections(flagged, MONTH, audience="internal")
    review = rep["review"][0].facts["clients"]
    assert "W01" in set(review["client"])              # in treatment
    assert not {"W02", "W03"} & set(review["client"])  # ended this month / before it
    assert "W02" in rep["review"][0].facts["ended"]
    therapist = flagged.clients.set_index("client_id")["therapist_id"]
    for th in ("T1", "T2", "T3"):
        mine = cohort_sections(flagged, MONTH, th, audience="internal")["review"][0]
        assert set(mine.facts["clients"]["client"]) == {
            c for c in review["client"] if therapist[c] == th}


def test_discharged_with_deterioration_listed_separately(flagged):
    sec = cohort_sections(flagged, MONTH, audience="internal")["review"][1]
    assert sec.facts["clients"]["client"].tolist() == ["W02"]  # W01 is active, W03 ended in September


def test_publication_names_no_client(flagged):
    pub = cohort_sections(flagged, MONTH, audience="publication")
    assert pub["review"] == []
    everything = " ".join(s.to_html() for s in [pub["overview"], *pub["outcomes"], *pub["service"],
                                                   pub["backtest"], pub["methods"]])
    assert not re.search(r"\bK\d{3}\b|ACTIVE1|\bW0\d\b", everything)


def test_data_quality_names_clients_only_internally():
    c = _clinic({"T1": (6, 0), "T2": (6, 0)})
    c.problems = pd.DataFrame({"file": "observations.csv", "line": [5], "column": "score",
                               "value": "x", "reason": ["conflicting duplicate: mood for client Alice Smith"],
                               "severity": "error", "client_id": ["Alice Smith"]})
    internal = S.cohort_data_quality(S.Cohort(c, MONTH, audience="internal"))
    assert "Alice Smith" in internal.table.to_string()
    pub = S.cohort_data_quality(S.Cohort(c, MONTH, audience="publication"))
    assert "Alice" not in pub.table.to_string() + pub.message
    assert pub.table["rows"].tolist() == ["*"]


def test_binned_jacobson_has_no_marker_per_client(clinic):
    from matplotlib.figure import Figure

    sec = cohort_sections(clinic, MONTH, audience="publication")["outcomes"][3]
    ax = Figure().add_subplot()
    sec.plot(ax)
    assert not ax.collections, "no scatter markers"
    texts = {t.get_text() for t in ax.texts if "\n" not in t.get_text()}
    # by hand: first scores all in 15-19; latest 5-9 for 19 recovered + the active client (20:
    # T1 11, T2 7, T3 2) and 10-14 for T3's 5 not recovered. T3's 2 is below 5, so T2's 7 goes
    # too; T3 has 7 clients, so its 5 would be 7 - 2: withheld, and then the service's 5, and
    # the service's 20 (25 - 5): every cell shows '*'
    assert texts == {"*"}
    assert sec.message.startswith("25 clients")


def test_benchmarks_file_is_checked(tmp_path):
    bench = pk.read_benchmarks(Path(pk.__file__).parent / "benchmarks.toml")
    assert S.benchmarks_for(None).equals(bench)  # the demo clinic draws the example
    assert set(bench["outcome"]) <= {"recovery", "reliable_recovery", "reliable_improvement",
                                     "finished", "reliable_deterioration"}
    assert bench["source"].str.len().gt(20).all()
    bad = tmp_path / "benchmarks.toml"
    bad.write_text('[[benchmark]]\noutcome = "recovery"\nrate = "half"\nlabel = "x"\nsource = "y"\n'
                   'date = "2020"\n')
    with pytest.raises(ValueError, match=r"benchmarks.toml: benchmark 1: field 'rate' must be a number"):
        pk.read_benchmarks(bad)


def test_funnel_limits_follow_spiegelhalter():
    # worked by hand from Spiegelhalter (2005) appendix A.1.1 for n = 10, target 0.5, p = 0.025:
    # P(R<=1) = 11/1024, P(R<=2) = 56/1024 -> r = 2, alpha = (56/1024 - .025) / (45/1024)
    lim = pk.funnel_limits(0.5, [10, 100_000])
    alpha = (56 / 1024 - 0.025) / (45 / 1024)
    assert lim.loc[0, "lower_95"] == pytest.approx((2 - alpha) / 10)
    # large n: the normal approximation target +- z sqrt(p(1-p)/n)
    se = np.sqrt(0.25 / 100_000)
    assert lim.loc[1, "lower_95"] == pytest.approx(0.5 - 1.959964 * se, abs=2e-5)
    assert lim.loc[1, "upper_99.8"] == pytest.approx(0.5 + 3.090232 * se, abs=2e-5)


# ---------------------------------------------------------------- rendered reports (slow)


def _pdf_text(path):
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(path).pages]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from progress_kit import demo_data
    from progress_kit.reports.context import load_clinic
    from progress_kit.reports.render import render_cohort

    folder = tmp_path_factory.mktemp("clinic")
    demo_data(n_clients=30, months=5, seed=3, end="2026-10-31").write(folder)
    out = tmp_path_factory.mktemp("reports")
    clinic = load_clinic(folder)
    therapist = sorted(clinic.clients["therapist_id"].unique())[0]
    files = {}
    for audience, th in (("internal", None), ("publication", None), ("publication", therapist)):
        stem = f"cohort-{audience}-{th or 'all'}"
        render_cohort(folder, MONTH, out, audience=audience, therapist_id=th, stem=stem)
        files[(audience, th)] = (out / f"{stem}.html", out / f"{stem}.pdf")
    return clinic, therapist, files


@pytest.mark.slow
def test_rendered_internal_report_names_every_alert_client_of_the_month(rendered):
    # every client on alert who was in treatment this month or whose referral ended in it
    # (issue 21, part 6: the review list is about now; earlier discharges are not named)
    clinic, _, files = rendered
    c = S.Cohort(clinic, MONTH)
    review = S.clients_to_review(c)
    now = set(review.facts["clients"]["client"]) | set(review.facts["ended"])
    alert = {cid for cid in c.flags.index[c.flags["status"] == "alert"] if cid in now}
    assert alert, "the demo clinic has clients on alert this month"
    html_path, pdf_path = files[("internal", None)]
    html_text, pdf_text = html_path.read_text(), " ".join(_pdf_text(pdf_path))
    for cid in alert:
        assert cid in html_text and cid in pdf_text, cid
    assert "Audience: internal" in _pdf_text(pdf_path)[0]


@pytest.mark.slow
@pytest.mark.parametrize("who", ["service", "therapist"])
def test_rendered_publication_report_names_no_client(rendered, who):
    clinic, therapist, files = rendered
    html_path, pdf_path = files[("publication", None if who == "service" else therapist)]
    pages = _pdf_text(pdf_path)
    assert "Audience: publication" in pages[0]
    ids = set(clinic.clients["client_id"]) | set(clinic.observations["client_id"])
    html_text = re.sub(r"data:[^\"']+", "", html_path.read_text())  # embedded images aside
    for text in (html_text, " ".join(pages)):
        words = set(re.findall(r"[A-Za-z0-9_]+", text))
        assert not ids & words, sorted(ids & words)[:5]


def test_outcome_cube_leaves_no_relation_with_one_hidden_cell():
    # the demo clinic: every service = sum of therapists and every quarter / 12 months = sum of
    # months relation has none or at least two withheld non-zero cells
    c = S.Cohort(pk.demo_data(n_clients=40, months=8, seed=5, end="2026-10-31"), MONTH,
                 audience="publication")
    counts, hidden = c.cube["counts"], c.cube["hidden"]
    assert hidden.any() and not hidden.all()
    risky = hidden & (counts > 0)
    assert (risky[:-1].sum(axis=0) + risky[-1] != 1).all()  # over therapists, per period/count
    months = [j for j, p in enumerate(c.periods) if p[1] == "trend"]
    year = len(c.periods) - 1
    assert (risky[:, months].sum(axis=1) + risky[:, year] != 1).all()
    assert (hidden == (counts < 5)).sum() < hidden.size  # some complements were needed


def test_cli_audience_on_report_cohort_and_batch(capsys):
    from progress_kit.cli import build_parser

    parser = build_parser()
    for cmd in (["report", "cohort"], ["batch"]):
        assert parser.parse_args([*cmd, "d", "--month", MONTH]).audience == "internal"
        args = parser.parse_args([*cmd, "d", "--month", MONTH, "--audience", "publication"])
        assert args.audience == "publication"
        with pytest.raises(SystemExit):
            parser.parse_args([*cmd, "d", "--month", MONTH, "--audience", "public"])
    assert "invalid choice: 'public'" in capsys.readouterr().err


def test_render_cohort_refuses_an_unknown_audience(tmp_path):
    from progress_kit.reports.render import render_cohort

    with pytest.raises(ValueError, match="audience 'everyone'"):
        render_cohort(None, MONTH, tmp_path, audience="everyone")


def _named_clinic(names):
    """A few clients named like people, each with six weekly PHQ-9 scores (16 down to 11)."""
    obs, ses, cl = [], [], []
    for k, cid in enumerate(names):
        cl.append((cid, "T1", "2026-08-03", None, "active"))
        for w in range(6):
            day = pd.Timestamp("2026-08-03") + pd.Timedelta(weeks=w + k % 2)
            obs.append((cid, day, "PHQ-9", float(16 - w - k % 3)))
            ses.append((cid, day, True, "treatment"))
    c = pd.DataFrame(cl, columns=["client_id", "therapist_id", "start_date", "end_date", "status"])
    c["start_date"], c["end_date"] = pd.to_datetime(c["start_date"]), pd.to_datetime(c["end_date"])
    c["problem"], c["session_frequency"] = "depression", "weekly"
    o = pd.DataFrame(obs, columns=["client_id", "date", "measure", "score"])
    s = pd.DataFrame(ses, columns=["client_id", "date", "attended", "kind"])
    return ClinicData(o, c, s)


def test_backtest_error_text_never_reaches_a_publication_report():
    # issue 24, item 7: the backtest's reason for not running can quote a client ID; the
    # publication report says so in general words only. A score entered twice on one day (in
    # data built by hand, past validation) makes evaluate_on_track refuse, naming the client.
    small = _named_clinic(["Alice Smith", "Bob Jones", "Carol White"])
    o = small.observations
    twice = pd.concat([o, o.iloc[[0]].assign(score=o["score"].iloc[0] + 3)], ignore_index=True)
    broken = ClinicData(twice, small.clients, small.sessions)
    internal = S.on_track_backtest(S.Cohort(broken, MONTH, audience="internal"))
    assert internal.status == "insufficient"
    assert "Alice Smith" in internal.message  # what the publication report used to print
    pub = S.on_track_backtest(S.Cohort(broken, MONTH, audience="publication"))
    assert pub.status == "insufficient" and pub.message.startswith("Not computed:")
    for name in ("Alice", "Bob", "Carol", "client_id"):
        assert name not in pub.message


def test_a_small_service_publication_report_names_no_client():
    # the reproduction of issue 24, item 7: a service with three clients, named like people
    small = _named_clinic(["Alice Smith", "Bob Jones", "Carol White"])
    rep = cohort_sections(small, MONTH, audience="publication")
    text = " ".join(s.to_html() for s in [rep["overview"], *rep["outcomes"], *rep["service"],
                                          rep["backtest"], rep["methods"]])
    for name in ("Alice", "Bob", "Carol"):
        assert name not in text
    # and the backtest's counts are published ones: 3 clients is '*', no share over them
    table = rep["backtest"].table
    if table is not None:
        assert set(table["of"]) <= {"*"} and set(table["value"]) == {"–"}


@pytest.mark.parametrize("audience", ["internal", "publication"])
def test_jacobson_with_one_score_per_client_says_so(audience):
    # a clinic whose clients each have a single PHQ-9 raised KeyError '_group' (issue 24 review)
    clinic = pk.demo_data(n_clients=8, months=3, seed=1, end="2026-10-31")
    obs = clinic.observations
    first = obs[obs["measure"] == "PHQ-9"].sort_values("date").groupby("client_id").head(1)
    clinic.observations = pd.concat([obs[obs["measure"] != "PHQ-9"], first])
    sec = S.jacobson(S.Cohort(clinic, "2026-10", audience=audience))
    assert sec.status == "insufficient" and "Fewer than 5 clients" in sec.message
