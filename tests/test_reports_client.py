"""The client report's decision page and the session-preparation sheet (issue 11).

Fast tests build the sections from small constructed clinics; the slow ones render PDFs and read
page 1 and the page count back with pypdf. The statuses come from the real ``pk.client_flags``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk
from progress_kit.data import ClinicData
from progress_kit.reports import sections as S
from progress_kit.reports import steps
from progress_kit.reports.context import client_data, client_data_until, parse_day, write_cache

MONTH = "2026-10"
WEEKS = pd.date_range("2026-08-03", periods=13, freq="7D")  # Mondays to 26 Oct


def _course(cid, scores, gad=None, start=0):
    rows = [(cid, WEEKS[start + k], "PHQ-9", float(s)) for k, s in enumerate(scores)]
    if gad is not None:
        rows += [(cid, WEEKS[start + k], "GAD-7", float(s)) for k, s in enumerate(gad)]
    return rows


def _diary(cid, days, mood, homework=None):
    rows = [(cid, d, "mood", float(v)) for d, v in zip(days, mood, strict=True) if np.isfinite(v)]
    if homework is not None:
        rows += [(cid, d, "homework", float(v)) for d, v in zip(days, homework, strict=True)]
    return rows


def make_clinic() -> ClinicData:
    """Five planted clients plus 25 plain responders, so the leave-one-out band can be fitted.

    det: PHQ-9 rises 10 -> 20 (reliable deterioration) while the diary's mood rises;
    crit: a steady course, but PHQ-9 item 9 answered 2 at the latest administration;
    resp: 20 -> 6 with a sudden gain between sessions 3 and 4 (0 = first score), diary kept;
    nodiary: a responder who never kept a diary and finished in September;
    single: one PHQ-9 score this month.
    """
    rng = np.random.default_rng(7)
    obs = []
    for k in range(25):
        intake = 14 + k % 8
        course = np.maximum(0, intake * np.exp(-0.12 * np.arange(12)) + rng.normal(0, 1.2, 12)).round()
        obs += _course(f"R{k:02d}", course)
    obs += _course("det", [10, 11, 12, 14, 15, 17, 18, 19, 19, 20, 20, 20], gad=[8] * 12)
    obs += _course("crit", [15, 14, 14, 13, 13, 12, 12, 12, 12, 12, 12, 12])
    obs += _course("resp", [20, 19, 19, 18, 10, 9, 8, 8, 7, 7, 6, 6], gad=[14, 14, 12, 12, 10, 9, 8,
                                                                         8, 7, 7, 6, 6])
    obs += _course("nodiary", [18, 15, 13, 11, 9, 8, 7], start=0)
    obs += [("single", pd.Timestamp("2026-10-12"), "PHQ-9", 16.0)]
    days = pd.date_range("2026-10-01", "2026-10-31")
    obs += _diary("det", days, np.linspace(3, 7, len(days)).round(), [2.0] * len(days))
    obs += _diary("resp", days, [6.0 + (d.day % 3) for d in days], [3.0] * len(days))
    observations = pd.DataFrame(obs, columns=["client_id", "date", "measure", "score"])
    ids = sorted(observations["client_id"].unique())
    clients = pd.DataFrame({"client_id": ids, "therapist_id": "T1",
                            "start_date": pd.Timestamp("2026-08-03"), "end_date": pd.NaT,
                            "status": "active", "problem": "depression",
                            "session_frequency": "weekly"})
    clients.loc[clients["client_id"] == "nodiary", ["end_date", "status"]] = \
        [pd.Timestamp("2026-09-14"), "finished"]
    clients.loc[clients["client_id"] == "single", "start_date"] = pd.Timestamp("2026-10-12")
    first = observations[observations["measure"] == "PHQ-9"][["client_id", "date"]]
    sessions = first.assign(attended=True, kind="treatment").reset_index(drop=True)
    sessions["duration_minutes"] = 50.0
    clinic = ClinicData(observations, clients, sessions)
    last = WEEKS[11]
    clinic.items = pd.DataFrame({"client_id": "crit", "date": last, "measure": "PHQ-9",
                                 "item": range(1, 10), "response": [1.0] * 8 + [2.0]})
    return clinic


@pytest.fixture(scope="module")
def clinic():
    return make_clinic()


def _report(clinic, cid, month=MONTH):
    return steps.client_sections(client_data(clinic, cid, month), clinic)


def _page1_text(report) -> str:
    return " ".join(s.to_html() for s in [report["identity"], *report["page1"]])


def test_deteriorating_client_gets_an_alert_and_a_discrepancy(clinic):
    r = _report(clinic, "det")
    flags = r["status"].facts["flags"]
    assert r["status"].facts["status"] == "alert" and flags.get("reliable_deterioration")
    note = r["note"].lines
    assert 3 <= len(note) <= 5
    assert note[0].startswith("PHQ-9 10 → 20 over 12 sessions (severe range); reliable deterioration")
    assert note[2].startswith("Diary, last two weeks: mood ")
    # mood rose by about 2 points over the last two weeks while PHQ-9 deteriorated
    assert any(line.startswith("Discrepancy to explore: diary mood rose") for line in note)
    assert "Discrepancy to explore" in r["status"].to_html()
    assert "ALERT" in r["status"].to_html() and "reliable deterioration" in r["status"].to_html()


def test_critical_item_is_an_alert_with_its_reason(clinic):
    r = _report(clinic, "crit")
    assert r["status"].facts["status"] == "alert"
    assert r["status"].facts["flags"].get("critical_item")
    assert "item 9" in " ".join(r["status"].lines)


def test_responder_is_on_track_and_sudden_gain_numbers_match_the_chart(clinic):
    r = _report(clinic, "resp")
    assert r["status"].facts["status"] == "on track"
    assert "reliable improvement" in r["note"].lines[0]
    gains = [s for s in r["tracking"] if s.key == "sudden_gains"][0]
    assert gains.table["sessions (0 = first score)"].tolist() == ["3 → 4"]
    assert gains.table["no."].tolist() == ["gain 1"]
    assert gains.facts["n_gains"] == 1 and gains.message.startswith("1 sudden gain and 0 sudden losses")
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    r["headline"].plot(ax)
    labels = [t.get_text() for t in ax.texts]
    assert "sudden gain 1" in labels
    arrow = [a for a in ax.texts if a.get_text() == "" and hasattr(a, "xyann")][0]
    assert (arrow.xyann[0], arrow.xy[0]) == (3, 4)  # drawn from session 3 to session 4


def test_client_without_diary_collapses_to_one_line_and_never_says_yet(clinic):
    r = _report(clinic, "nodiary")
    assert [s.message for s in r["diary"]] == ["No diary was kept."]
    html = " ".join(s.to_html() for s in [r["header"], *r["page1"], *r["questionnaires"],
                                           *r["tracking"], *r["diary"]])
    assert not re.search(r"\byet\b|so far", html.replace("Therapy so far", ""))
    assert "No sessions this month: therapy ended 14 Sep 2026." in r["since"].lines


def test_single_score(clinic):
    r = _report(clinic, "single")
    assert r["status"].facts["status"] == "insufficient data"
    assert r["note"].lines[0] == ("PHQ-9 16 on 12 Oct 2026 (moderately severe range); a single "
                                  "score, so no change can be assessed.")
    assert "Started therapy this month" in r["since"].lines[0]
    assert "1 session attended" in r["identity"].message  # singular


def test_two_week_trend_needs_seven_days_and_covers_its_window(clinic):
    rd = client_data(clinic, "resp", MONTH)
    sec = S.diary_month(rd)
    tw = sec.facts["two_weeks"]
    assert tw["n_days"] == 14 and "mood_trend" in tw
    assert tw["data"]["date"].min() == pd.Timestamp("2026-10-18")
    assert tw["data"]["date"].max() == pd.Timestamp("2026-10-31")
    from matplotlib.dates import num2date
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    sec.plot(ax)
    trend_line = [ln for ln in ax.lines if ln.get_label() == "two-week trend in mood"][0]
    assert pd.Timestamp(trend_line.get_xdata()[0]) == pd.Timestamp("2026-10-18")
    rd_finished = client_data(clinic, "resp", MONTH)
    rd_finished.client = rd_finished.client.copy()
    rd_finished.client["end_date"] = pd.Timestamp("2026-10-09")  # the window reaches into September
    ax = Figure().add_subplot()
    finished = S.diary_month(rd_finished)
    finished.plot(ax)
    lo = pd.Timestamp(num2date(ax.get_xlim()[0]).replace(tzinfo=None))
    assert finished.facts["two_weeks"]["first"] == pd.Timestamp("2026-09-26")
    assert "mood_trend" in finished.facts["two_weeks"]  # 9 diary days, 1-9 October
    assert lo <= pd.Timestamp("2026-09-26")  # the chart shows the whole window it describes
    keep = rd.diary["date"].isin(pd.date_range("2026-10-18", periods=6)) | (rd.diary["date"] < "2026-10-18")
    rd.diary = rd.diary[keep]
    sec = S.diary_month(rd)
    assert "mood_trend" not in sec.facts["two_weeks"] and sec.facts["two_weeks"]["data"] is None
    assert "No two-week trend: the diary was filled in on 6 of the last 14 days" in sec.message


def test_session_minutes_and_planned_frequency_shown(clinic):
    header = S.client_header(client_data(clinic, "resp", MONTH))
    table = dict(zip(header.table["item"], header.table["value"], strict=True))
    assert table["Session length this month"].startswith("50 minutes (median of 3 sessions")
    assert table["Session frequency"] == "planned weekly; attended every 7 days (median)"
    assert table["Sessions this month"] == "3 attended of 3 booked"


def test_questionnaires_this_month_lists_only_measures_present(clinic):
    since = _report(clinic, "crit")["since"].lines
    listed = [line for line in since if line.startswith("Questionnaires this month")]
    assert listed == ["Questionnaires this month: PHQ-9 ×3 (12, 12, 12; last month ended at 12)."]


def test_plot_diary_leaves_gaps_and_spans_exactly_its_window():
    from matplotlib.dates import num2date

    d = pd.DataFrame({"date": pd.to_datetime(["2026-10-02", "2026-10-05"]), "mood": [4.0, 6.0]})
    ax = pk.plot_diary(d, start="2026-10-01", end="2026-10-07")
    y = ax.lines[0].get_ydata()
    assert len(y) == 7 and np.isnan(y).sum() == 5
    lo, hi = (num2date(v).replace(tzinfo=None) for v in ax.get_xlim())
    assert lo < pd.Timestamp("2026-10-01") < hi and hi < pd.Timestamp("2026-10-08")


def test_plot_headline_draws_every_element():
    d = pd.DataFrame({"date": WEEKS[:5], "score": [18.0, 17, 16, 8, 7]})
    track = pd.DataFrame({"session": range(5), "expected": [18.0, 16, 14, 13, 12],
                          "lower": [14.0, 12, 10, 9, 8], "upper": [22.0, 20, 18, 17, 16]})
    ax = pk.plot_headline(d, "PHQ-9", track=track,
                          gains=pd.DataFrame({"type": ["gain"], "session": [3]}))
    labels = ax.get_legend_handles_labels()[1]
    for want in ("expected response", "no reliable change", "clinical cut-off", "PHQ-9 score",
                 "sudden gain"):
        assert any(want in lab for lab in labels), want
    bands = [t.get_text() for t in ax.texts]
    assert {"minimal", "mild", "moderate", "moderately severe", "severe"} <= set(bands)


def test_prep_sheet_sections(clinic):
    rd = client_data_until(clinic, "det", "2026-10-20")
    assert rd.end == pd.Timestamp("2026-10-20") and rd.start == pd.Timestamp("2026-10-20")
    assert rd.observations["date"].max() <= rd.end
    sheet = steps.prep_sections(rd, clinic)
    assert sheet["status"].facts["status"] == "alert"
    assert sheet["diary"].ok and sheet["diary"].facts["n_days"] == 14
    assert "PHQ-9" in sheet["scores"].facts["table"]["measure"].tolist()
    assert sheet["scores"].lines[0].startswith("PHQ-9 20 on 19 Oct 2026: +10 since first (10, 12 scores)")
    assert sheet["since"].lines[0] == "Last session 19 Oct 2026 (1 day ago)."
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day("20-10-2026")


def test_cli_has_report_prep():
    from progress_kit.cli import build_parser
    from progress_kit.reports.resources import notebook_path

    parser = build_parser()
    args = parser.parse_args(["report", "prep", "d", "--client", "00123", "--date", "2026-10-20"])
    assert args.client == "00123" and args.date == "2026-10-20"
    with pytest.raises(SystemExit):
        parser.parse_args(["report", "prep", "d", "--client", "x", "--date", "2026-13-01"])
    assert notebook_path("prep").name == "session_prep.ipynb"


# ------------------------------------------------------------------ PDFs, read back with pypdf


def _pdf_pages(path) -> list[str]:
    from pypdf import PdfReader

    return [(p.extract_text() or "").replace("\n", " ") for p in PdfReader(path).pages]


@pytest.fixture(scope="module")
def pdfs(clinic, tmp_path_factory):
    """Every planted client's report and one preparation sheet, rendered from a data cache."""
    from progress_kit.reports.render import render_client, render_prep

    out = tmp_path_factory.mktemp("pdfs")
    cache = write_cache(clinic, out / "cache.pkl")  # keeps the items table
    files = {}
    for cid in ("det", "crit", "resp", "nodiary", "single"):
        files[cid] = render_client(None, cid, MONTH, out, formats=("pdf",), data_cache=cache).files[-1]
    files["prep"] = render_prep(None, "resp", "2026-10-20", out, formats=("pdf",),
                                data_cache=cache).files[-1]
    # the sheet is named after the client's stem in the folder's index, plus the date
    assert files["prep"].name == f"{files['resp'].stem}-prep-2026-10-20.pdf"
    return {k: _pdf_pages(v) for k, v in files.items()}


@pytest.mark.slow
def test_pdf_page_one_and_page_counts(pdfs):
    det, crit, resp = pdfs["det"], pdfs["crit"], pdfs["resp"]
    for pages in (det, crit, resp, pdfs["nodiary"], pdfs["single"]):
        assert len(pages) <= 3
        assert "For the progress note" in pages[0] and "Since last month" in pages[0]
    assert "Status: ALERT" in det[0] and "reliable deterioration" in det[0]
    assert "Discrepancy to explore" in det[0]
    assert "Status: ALERT" in crit[0] and "item 9" in crit[0]
    assert "Status: ON TRACK" in resp[0] and "reliable improvement" in resp[0]
    assert "Status: INSUFFICIENT DATA" in pdfs["single"][0] and "a single score" in pdfs["single"][0]
    nodiary = " ".join(pdfs["nodiary"])
    assert "No diary was kept." in nodiary and not re.search(r"\byet\b", nodiary)
    assert len(pdfs["nodiary"]) <= 2  # the empty diary part does not take a page of its own


@pytest.mark.slow
def test_pdf_prep_sheet_is_one_page(pdfs):
    (page,) = pdfs["prep"]
    assert "Session preparation, 2026-10-20" in page and "Status: ON TRACK" in page
    assert "Diary, last 14 days" in page and "Latest questionnaire scores" in page
    assert "Since the last session" in page


def test_clients_without_a_clients_row_or_without_questionnaires(clinic):
    extra = pd.DataFrame([("orphan", WEEKS[9], "PHQ-9", 12.0), ("orphan", WEEKS[10], "PHQ-9", 14.0),
                          *[("diaryonly", d, "mood", 5.0) for d in pd.date_range("2026-10-01", periods=20)]],
                         columns=clinic.observations.columns)
    c = ClinicData(pd.concat([clinic.observations, extra], ignore_index=True), clinic.clients,
                   clinic.sessions)
    for cid in ("orphan", "diaryonly"):
        r = _report(c, cid)
        text = _page1_text(r)
        assert "nan" not in text.lower() and len(r["note"].lines) >= 2
        sheet = steps.prep_sections(client_data_until(c, cid, "2026-10-20"), c)
        assert sheet["since"].message == "No earlier attended session: this is the first."
    r = _report(c, "diaryonly")
    assert r["status"].facts["status"] == "insufficient data" and r["headline"].plot is None
    assert r["since"].lines == ["No questionnaires completed this month.", "Diary on 20 of 31 days."]


def test_every_part_is_a_section_for_the_batch_warm_up(clinic):
    """The fork server's zygote shows every value of the report dict once (engine._exercise_pipeline)."""
    for report in (_report(clinic, "det"), steps.prep_sections(client_data_until(clinic, "det", "2026-10-20"),
                                                            clinic)):
        for part in report.values():
            assert all(isinstance(s, S.Section) for s in (part if isinstance(part, list) else [part]))


# ---- issue 23: trend words, old scores, prompts, take-aways, sparse diary, progress score


def test_trend_words_per_questionnaire_on_page_one_and_the_prep_sheet(clinic):
    report = _report(clinic, "det")
    assert report["page1"][1] is report["trends"]
    assert report["trends"].message.startswith("Trends: PHQ-9: worsening (+1.00 points a week); "
                                               "GAD-7: stable")  # GAD-7 flat at 8
    assert _report(clinic, "resp")["trends"].facts["trend_lines"][0].startswith("PHQ-9: improving")
    sheet = steps.prep_sections(client_data_until(clinic, "resp", "2026-10-20"), clinic)
    assert sheet["trends"].message.startswith("Trends: PHQ-9: improving")
    assert "Trend words" in " ".join(report["methods"].lines)


def test_a_status_on_old_scores_says_how_old_they_are(clinic):
    """crit's last PHQ-9 is from 19 Oct 2026: 104 days before the end of January 2027."""
    old = _report(clinic, "crit", "2027-01")["trends"]
    assert old.facts["old_scores"] == ["PHQ-9 19 Oct 2026 (3 months old)"]
    assert "The latest scores are old, and the status rests on them: PHQ-9 19 Oct 2026 (3 months " \
        "old), before 31 Jan 2027." in old.message
    assert "old_scores" not in _report(clinic, "crit")["trends"].facts
    # a finished client's scores are judged at the end of therapy, not at the report month
    assert "old_scores" not in _report(clinic, "nodiary", "2026-12")["trends"].facts


def test_prompts_on_page_one_with_their_rule_in_methods(clinic):
    report = _report(clinic, "det")
    assert "No tracker prompt applies." in report["trends"].message and not report["trends"].lines
    methods = " ".join(report["methods"].lines)
    assert "Tracker prompts" in methods and "homework mean <= 1.5/5 over 14 days" in methods
    assert S.tracker_prompts_section(client_data(clinic, "nodiary", MONTH)).status == "insufficient"


def test_takeaways_on_the_prep_sheet(clinic):
    c = make_clinic()
    days = pd.date_range("2026-10-07", "2026-10-20")
    extra = pd.DataFrame({"client_id": "resp", "date": days, "measure": "takeaways",
                          "score": [0.0, 2.0] * 7})
    c.observations = pd.concat([c.observations, extra], ignore_index=True)
    sheet = steps.prep_sections(client_data_until(c, "resp", "2026-10-20"), c)
    assert sheet["takeaways"].message == ("Take-aways used: 14 times on 7 days of the last 14 "
                                          "(logged on 14); since the last session, 2.")
    assert sheet["takeaways"].facts == {"total": 14.0, "days_used": 7}
    none = steps.prep_sections(client_data_until(clinic, "resp", "2026-10-20"), clinic)
    assert none["takeaways"].message == "Take-aways: none logged in the diary."


def test_sparse_two_weeks_show_what_exists(clinic):
    """Fewer than 7 diary days: no trend, but 'homework on 5 of 14 days, mean 2.4'."""
    c = make_clinic()
    obs = c.observations
    late = (obs["client_id"] == "resp") & (obs["date"] >= "2026-10-18") & \
        obs["measure"].isin(["mood", "homework"])
    keep = pd.to_datetime(["2026-10-19", "2026-10-22", "2026-10-25", "2026-10-28", "2026-10-31"])
    drop = late & ~obs["date"].isin(keep)
    c.observations = obs[~drop].reset_index(drop=True)
    hw = (c.observations["client_id"] == "resp") & (c.observations["measure"] == "homework") & \
        c.observations["date"].isin(keep)
    c.observations.loc[hw, "score"] = [1.0, 2.0, 3.0, 3.0, 3.0]
    diary = _report(c, "resp")["diary"][0]
    assert "No two-week trend" in diary.message
    assert "homework on 5 of 14 days, mean 2.4" in diary.message


def test_progress_score_has_its_trend_and_what_it_means(clinic):
    sec = next(s for s in _report(clinic, "resp")["diary"] if s.key == "diary_links")
    line = next(x for x in sec.lines if x.startswith("Progress score:"))
    assert re.search(r"(improving|stable|worsening) over 14 days", line)
    assert "With weekly sessions the 14 days hold about two sessions" in line
    assert "After 13 weeks in therapy" in line and "No norms" in line
