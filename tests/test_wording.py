"""The reports' HTML comes from the template's macros and their words from wording.toml, which a
service overrides with its own file (issue 25, "presentation out of Python")."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from progress_kit.reports import notebook as rn
from progress_kit.reports import sections as S
from progress_kit.reports import steps
from progress_kit.reports.macros import macros, section_html
from progress_kit.reports.wording import load_wording, use_wording, words

SECTIONS = Path(S.__file__).parent


@pytest.fixture(scope="module")
def demo():
    clinic = rn.load_clinic(None, None)  # the built-in demo clinic, built-in words
    return clinic, steps.client_sections(rn.client_data(clinic, rn.DEFAULT_CLIENT, rn.DEFAULT_MONTH),
                                      clinic)


@pytest.fixture(autouse=True)
def _built_in_words():
    use_wording()
    yield
    use_wording()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", BeautifulSoup(html, "html.parser").get_text(" ")).strip()


def test_sections_render_through_the_macros(demo):
    _, report = demo
    banner = report["status"]
    html = banner.to_html()
    soup = BeautifulSoup(html, "html.parser")
    box = soup.find("section")
    # the status box: its class carries the status (report.css colours it), the word is shown
    assert "pk-status" in box["class"] and f"pk-status-{banner.facts['status'].replace(' ', '-')}" \
        in box["class"]
    assert soup.find(class_="pk-status-word").get_text() == words()(f"status.word.{banner.facts['status']}")
    assert _text(html).startswith("Status: ")
    assert "style=" not in html  # the look is the template's CSS, not inline styles
    header = report["header"].to_html()
    table = BeautifulSoup(header, "html.parser").find("table")
    assert table is not None and table.find("thead") is None  # the header table has no column names
    assert "Sessions in total" in _text(header) and "attended" in _text(header)
    small = BeautifulSoup(report["methods"].to_html(), "html.parser")
    assert small.find("section")["class"] == ["pk-section", "pk-methods"]
    assert len(small.find_all("li")) == len(report["methods"].lines)


def test_text_is_escaped_and_a_float_column_keeps_its_decimals():
    import pandas as pd

    sec = S.Section("x", "A <b> title", message="x < y & z",
                    table=pd.DataFrame({"a": [14.0, 9.5, None], "b": ["<i>", None, "z"]}))
    html = sec.to_html()
    assert "<b>" not in html and "&lt;b&gt;" in html and "&lt;i&gt;" in html
    cells = [td.get_text() for td in BeautifulSoup(html, "html.parser").find_all("td")]
    assert cells == ["14.0", "<i>", "9.5", "–", "–", "z"]  # as pandas prints them, – for empty


def test_no_html_in_the_sections():
    for path in SECTIONS.glob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            assert not re.search(r"<[a-z]", line), f"{path.name}:{n}: {line.strip()}"


def test_macros_are_compiled_once():
    assert macros() is macros()
    sec = S.Section("x", "Title", message="text")
    start = time.perf_counter()
    for _ in range(200):
        section_html(sec)
    # generous: a report shows about 20 sections; this only catches a template parsed per call
    assert (time.perf_counter() - start) / 200 < 0.005


def test_an_override_changes_a_status_explanation_and_a_heading(demo, tmp_path):
    clinic, _ = demo
    (tmp_path / "wording.toml").write_text(
        '[status]\nno_reason = "Nothing to review this month."\nlabel = "Where things stand:"\n'
        '[heading]\nmethods = "How we worked it out"\n'
        '[client.header]\ntitle = "Therapy to date"\n', encoding="utf-8")
    use_wording(data_dir=tmp_path)
    assert words().source == (tmp_path / "wording.toml").resolve()
    rd = rn.client_data(clinic, rn.DEFAULT_CLIENT, rn.DEFAULT_MONTH)
    report = steps.client_sections(rd, clinic)
    assert report["header"].title == "Therapy to date"
    banner = _text(report["status"].to_html())
    assert banner.startswith("Where things stand: ")
    if report["status"].lines == ["Nothing to review this month."]:
        assert "Nothing to review this month." in banner
    assert words()("status.no_reason") == "Nothing to review this month."
    # a built-in notebook's heading (rn.heading("Methods")) is shown in the service's words
    from progress_kit.reports.macros import heading_html

    assert words().heading("Methods") == "How we worked it out"
    assert _text(heading_html(words().heading("Methods"), 3)) == "How we worked it out"
    assert words().heading("Monthly progress report, 2026-10") == "Monthly progress report, 2026-10"
    use_wording()
    assert steps.client_sections(rd, clinic)["header"].title == "Therapy so far"


def test_load_clinic_uses_the_data_folders_wording(tmp_path):
    from progress_kit import demo_data

    demo_data(n_clients=8, months=3, seed=1, end="2026-10-31").write(tmp_path)
    (tmp_path / "wording.toml").write_text('[status.word]\nwatch = "KEEP AN EYE"\n')
    rn.load_clinic(tmp_path)
    assert words()("status.word.watch") == "KEEP AN EYE"
    rn.load_clinic(None)  # the demo: the built-in words again
    assert words()("status.word.watch") == "WATCH"


@pytest.mark.parametrize("text, expected", [
    ('[status]\nno_reasons = "x"\n', r"line 2: unknown wording key 'status.no_reasons'"),
    ('[status]\njudged_on = "Judged on {measure} by {who}."\n',
     r"line 2: key 'status.judged_on': unknown field \{who\}"),
    ('[status]\njudged_on = "Judged on the primary measure."\n',
     r"line 2: key 'status.judged_on': the field \{measure\} is missing"),
    ('[status.word]\nalert = 3\n', r"key 'status.word.alert' must be text"),
    ('[status\n', r"not valid TOML"),
])
def test_a_bad_override_is_refused_naming_file_line_key_and_field(tmp_path, text, expected):
    path = tmp_path / "wording.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + expected):
        load_wording(path)


def test_every_built_in_phrase_is_used():
    """A key of wording.toml that no code reads would mislead a service that changes it."""
    code = "\n".join(p.read_text() for p in [*SECTIONS.glob("*.py"), Path(rn.__file__)])
    # groups read with a computed key (f"status.word.{status}"), and the notebooks' titles
    computed = ("prompts.", "share.mood.", "share.homework.", "share.plain_names.", "status.word.",
                "client.change.", "client.note.flag.", "title.report.", "title.subtitle.",
                "title.audience.", "heading.", "client.progress_score.held.", "cohort.overview.",
                "cohort.outcomes.", "cohort.quality.", "cohort.month_over_month.", "unit.")
    unused = [key for key in load_wording().phrases
              if not key.startswith(computed) and f'"{key}"' not in code]
    assert unused == []


def test_wording_changes_rerender_the_batch(tmp_path):
    from progress_kit.reports.batch import _inputs

    (tmp_path / "wording.toml").write_text("")
    assert tmp_path / "wording.toml" in _inputs(tmp_path)


def test_report_and_batch_refuse_a_bad_wording_file_before_rendering(tmp_path, capsys):
    from progress_kit import demo_data
    from progress_kit.cli import main

    data = tmp_path / "data"
    demo_data(n_clients=4, months=2, seed=2, end="2026-10-31").write(data)
    (data / "wording.toml").write_text('[status]\njudged_on = "Judged."\n', encoding="utf-8")
    out = tmp_path / "out"
    for argv in (["report", "client", str(data), "--client", "C001", "--month", "2026-10",
                  "--out", str(out)],
                 ["batch", str(data), "--month", "2026-10", "--out", str(out)]):
        assert main(argv) == 1
        assert f"{data / 'wording.toml'}, line 2: key 'status.judged_on': the field {{measure}} " \
               "is missing" in capsys.readouterr().err
        assert not out.exists()  # nothing rendered


def test_the_command_line_names_the_file_to_every_process(tmp_path, monkeypatch):
    """A report process that loads no data folder (a batch's cache, a prepared page) still shows
    the service's words: report and batch name the file in PROGRESS_KIT_WORDING."""
    from progress_kit.reports.wording import WORDING_ENV

    path = tmp_path / "wording.toml"
    path.write_text('[status.word]\nalert = "REVIEW NOW"\n')
    monkeypatch.setenv(WORDING_ENV, str(path))
    use_wording(data_dir=None)  # e.g. load_clinic(None, data_cache) in a batch's process
    assert words()("status.word.alert") == "REVIEW NOW"
    rn.load_clinic(None, None)
    assert words()("status.word.alert") == "REVIEW NOW"
    monkeypatch.delenv(WORDING_ENV)
    use_wording()
    assert words()("status.word.alert") == "ALERT"
