"""The client's own page, ``report share`` (issue 23, part 1).

What it must never show is checked on every client of the planted clinic of
``test_reports_client`` (an alert for deterioration, an alert for a risk item, a responder): no
item answers, none of the clinician's words, no other client's data; how it reads is checked
with textstat's Flesch reading ease (>= 70: "fairly easy", about 12-year-old reading). The slow
test renders the page through the engine and checks the same on the PDF, plus one page.
"""

from __future__ import annotations

import html
import re
import stat

import pytest
import textstat

from progress_kit.reports import sections as S
from progress_kit.reports import steps
from progress_kit.reports.context import client_data_until, write_cache
from tests.test_reports_client import make_clinic

DAY = "2026-10-20"
CLIENTS = ("det", "crit", "resp", "nodiary", "single")
# the clinician's words: statuses, flags, change and severity labels, the tunnel's language
CLINICIAN_WORDS = re.compile(
    r"\b(alert|watch|rci|sem|reliabl[ey]|clinical(ly)?|severity|severe|moderate(ly)?|mild|"
    r"minimal|on[- ]track|at risk|risk|deteriorat\w*|recover\w*|cut-?off|caseness|status|flag\w*|"
    r"stalled|item\w*|signal)\b", re.IGNORECASE)
READING_EASE = 70.0


@pytest.fixture(scope="module")
def clinic():
    return make_clinic()


def _page_text(page: dict) -> str:
    parts = []
    for value in page.values():
        for sec in value if isinstance(value, list) else [value]:
            parts.append(sec.to_html())
    text = re.sub(r"<[^>]+>", " ", "\n".join(parts))
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def _share(clinic, cid):
    return steps.share_sections(client_data_until(clinic, cid, DAY), clinic)


def _others(clinic, cid):
    return sorted(set(clinic.observations["client_id"]) - {cid})


@pytest.mark.parametrize("cid", CLIENTS)
def test_no_clinician_words_no_items_no_one_else(clinic, cid):
    text = _page_text(_share(clinic, cid))
    assert not CLINICIAN_WORDS.findall(text), CLINICIAN_WORDS.findall(text)
    assert "better off dead" not in text and "hurting" not in text  # the risk item's wording
    for other in _others(clinic, cid):
        assert not re.search(rf"\b{re.escape(other)}\b", text)


@pytest.mark.parametrize("cid", CLIENTS)
def test_reads_easily(clinic, cid):
    text = _page_text(_share(clinic, cid))
    assert textstat.flesch_reading_ease(text) >= READING_EASE


def test_the_word_list_and_the_reading_check_can_fail(clinic):
    """The checks bite: the clinician's page 1 uses those words, its methods read harder."""
    report = steps.client_sections(client_data_until(clinic, "det", DAY), clinic)
    assert CLINICIAN_WORDS.search(_page_text({"p": report["page1"]}))
    assert textstat.flesch_reading_ease(_page_text({"m": report["methods"]})) < READING_EASE


def test_an_alert_gets_one_neutral_line_and_no_status(clinic):
    for cid, alert in (("det", True), ("crit", True), ("resp", False)):
        rd = client_data_until(clinic, cid, DAY)
        flags = S.client_status(rd, "PHQ-9", None, service=clinic)
        assert (flags.status == "alert") is alert  # the clinic's own verdict (client_flags)
        talk = _share(clinic, cid)["talk"]
        assert (S.ALERT_LINE in talk.lines) is alert
        assert talk.lines[-1] == S.SHARE_WORDS["nothing"]


def test_shows_the_diary_trend_in_words_and_the_usual_range(clinic):
    page = _share(clinic, "resp")
    assert page["diary"].plot is not None and page["diary"].facts["n_days"] == 14
    assert any(line in page["diary"].lines for line in S.SHARE_WORDS["mood"].values())
    scores = page["scores"]
    assert scores.facts["measures"] == ["PHQ-9", "GAD-7"]
    assert "most people who are not looking for help score below 10" in scores.lines[0]
    assert "Your last score was 6" in scores.lines[0]


def test_prompts_are_worded_for_the_client(clinic):
    """A planted low-homework, flat-mood diary: the client's words, not the clinician's."""
    import pandas as pd

    c = make_clinic()
    days = pd.date_range(end=DAY, periods=14)
    extra = pd.DataFrame({"client_id": "resp", "date": days, "measure": "homework", "score": 1.0})
    obs = c.observations
    obs = obs[~((obs["client_id"] == "resp") & (obs["measure"] == "homework"))]
    c.observations = pd.concat([obs, extra], ignore_index=True)
    c.observations.loc[(c.observations["client_id"] == "resp") & (c.observations["measure"] == "mood")
                       & c.observations["date"].isin(days), "score"] = [5.0, 6.0] * 7
    talk = _share(c, "resp")["talk"]
    assert talk.lines[0] == S.PROMPT_WORDS["client"]["homework_fit"]
    sheet = steps.prep_sections(client_data_until(c, "resp", DAY), c)
    assert sheet["trends"].lines[0].startswith("Prompt: Low homework with flat mood (homework 1.0 "
                                               "of 5 on 14 of 14 days; mood stable)")


def _pdf_text(path) -> list[str]:
    from pypdf import PdfReader

    return [(p.extract_text() or "").replace("\n", " ") for p in PdfReader(path).pages]


@pytest.mark.slow
def test_rendered_page_is_one_private_page_with_nothing_it_must_not_show(clinic, tmp_path):
    from progress_kit.reports.render import render_share

    cache = write_cache(clinic, tmp_path / "cache" / "clinic.pkl")
    out = tmp_path / "share"
    res = render_share(None, "crit", DAY, out, data_cache=cache)
    names = sorted(f.name for f in res.files)
    assert names == [f"crit-share-{DAY}.{ext}" for ext in ("html", "ipynb", "pdf")]
    for f in res.files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    pages = _pdf_text(out / f"crit-share-{DAY}.pdf")
    assert len(pages) == 1
    text = pages[0]
    assert "Your diary" in text and "Your forms" in text and S.ALERT_LINE in text
    assert not CLINICIAN_WORDS.findall(text), CLINICIAN_WORDS.findall(text)
    assert textstat.flesch_reading_ease(text) >= READING_EASE
    page_html = (out / f"crit-share-{DAY}.html").read_text()
    for other in _others(clinic, "crit"):
        assert not re.search(rf"\b{re.escape(other)}\b", text + page_html)


def test_the_measure_the_status_judges_comes_first():
    """The demo clinic's C010 is judged on SPIN (social anxiety); PHQ-9 and GAD-7 come first in
    the clinic's order, so without ``first`` her page left out her own problem's measure."""
    from progress_kit.reports import notebook as rn

    demo = rn.load_clinic(None, None)
    rep = steps.load_client(None, "C010", date=DAY, kind="share")
    assert rep.measure == "SPIN"
    page = steps.share_sections(client_data_until(demo, "C010", DAY), demo)
    assert page["scores"].facts["measures"] == ["SPIN", "PHQ-9"]
    assert page["scores"].lines[0].startswith("SPIN asks about fear of social times.")
