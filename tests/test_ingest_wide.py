"""read_wide and read_redcap with the shipped recipes on small sample exports (tests/data/ingest).

The samples are made up for these tests; each expected score is the sum of the row's items as
written in the file, and each defect is deliberate (listed in tests/data/README.md).
"""

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from progress_kit import DataValidationError
from progress_kit.ingest import read_recipe, read_redcap, read_wide, recipe_path

DATA = Path(__file__).parent / "data" / "ingest"
TODAY = dt.date(2026, 1, 1)


def by_line(problems):
    return {(int(r["line"]), r["severity"]): r["reason"] for r in problems.to_dict("records")}


def test_redcap_project_recipe_with_dictionary():
    data = read_redcap(DATA / "redcap_records.csv", recipe=recipe_path("redcap_phq9_gad7"),
                       dictionary=DATA / "redcap_dictionary.csv", errors="report", today=TODAY)
    obs = data.observations.sort_values(["measure", "client_id", "date"])
    got = list(zip(obs["client_id"], obs["date"].dt.strftime("%Y-%m-%d"), obs["measure"], obs["score"],
                   strict=True))
    assert got == [("001", "2024-01-08", "GAD-7", 9.0),
                   ("001", "2024-01-08", "PHQ-9", 14.0),  # 2+3+2+2+1+2+1+1+0
                   ("001", "2024-01-22", "PHQ-9", 9.0),   # 8 answered items sum 8, prorated 9
                   ("002", "2024-01-09", "PHQ-9", 21.0),
                   ("003", "2024-01-10", "PHQ-9", 9.0)]
    assert obs["redcap_repeat_instrument"].tolist() == ["gad7", "phq9", "phq9", "phq9", "phq9"]
    assert set(obs.columns) >= {"redcap_event_name", "redcap_repeat_instance"}
    problems = by_line(data.problems)
    assert problems == {
        (5, "warning"): "PHQ-9: 1 of 9 items missing (item 9); total prorated to 9 (registry rule: at "
                        "most 1 missing, round(mean x 9))",
        (7, "error"): "GAD-7: stated total 16 disagrees with the item sum 17",
        (8, "error"): "PHQ-9: phq9_9 '5' is not one of the data dictionary's choices (0, 1, 2, 3)",
    }
    assert data.problems["file"].eq("redcap_records.csv").all()
    # the consent-only row and the other form's rows give no score and are counted
    assert data.skipped.set_index("source")["count"].to_dict() == {"GAD-7": 1, "PHQ-9": 1}
    assert len(data.items) == 9 + 8 + 7 + 9 + 9


def test_redcap_without_dictionary_flags_item_out_of_range():
    data = read_redcap(DATA / "redcap_records.csv", recipe=recipe_path("redcap_phq9_gad7"),
                       errors="report", today=TODAY)
    assert by_line(data.problems)[(8, "error")] == "PHQ-9: item 9 (phq9_9) 5 is outside 0-3"


def test_redcap_checkbox_items_match_codes_case_insensitively():
    # REDCap lower-cases checkbox codes in column names (q1___c for code C); the dictionary keeps
    # them as written; the recipe maps the codes to item scores
    records = pd.DataFrame({"record_id": ["1"], "d": ["2024-01-08"],
                            **{f"q{i}___{c}": ["1" if c == "c" else "0"] for i in range(1, 8)
                               for c in "abcd"}})
    choices = "A, Not at all | B, Several days | C, More than half the days | D, Nearly every day"
    dictionary = pd.DataFrame({"field_name": [f"q{i}" for i in range(1, 8)],
                               "field_type": ["checkbox"] * 7,
                               "select_choices_or_calculations": [choices] * 7})
    recipe = {"client_id": "record_id", "instrument": [
        {"measure": "GAD-7", "date": "d", "items": [f"q{i}" for i in range(1, 8)],
         "answers": {"A": 0, "B": 1, "C": 2, "D": 3}}]}
    data = read_redcap(records, recipe=recipe, dictionary=dictionary, today=TODAY)
    assert data.observations["score"].tolist() == [14.0]
    two = records.assign(q3___d="1")
    out = read_redcap(two, recipe=recipe, dictionary=dictionary, errors="report", today=TODAY)
    assert out.observations.empty
    assert "q3: more than one box ticked (c, d)" in out.problems["reason"].iloc[0]


def test_openfit_style_recipe():
    data = read_wide(DATA / "openfit_sessions.csv", recipe_path("openfit_ors_srs"), errors="report",
                     today=TODAY)
    obs = data.observations
    assert obs["score"].tolist() == [16.7, 19.8, 10.2]  # 4.2+5.0+3.1+4.4, 5.5+5.2+4.0+5.1, ...
    assert obs["Session"].tolist() == ["1", "2", "1"]
    assert by_line(data.problems) == {
        (4, "error"): "ORS: stated total 24.6 disagrees with the item sum 23.6",
        (6, "error"): "ORS: Session Date '31/02/2024' is not a possible date in the format '%d/%m/%Y'"}
    # the SRS is not a registered measure: counted, not an error
    assert data.skipped.set_index("source").loc["SRS", "count"] == 5


def test_novopsych_style_recipe():
    data = read_wide(DATA / "novopsych.csv", recipe_path("novopsych"), today=TODAY)
    got = data.observations.set_index(["client_id", "measure"])["score"]
    assert got[("NP-1", "GAD-7")] == 7.0 and got[("NP-2", "PHQ-9")] == 23.0
    assert data.skipped.set_index("source").loc["DASS-21", "count"] == 1


def test_recipe_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="unknown key"):
        read_recipe({"client_id": "a", "instrument": [{"measure": "PHQ-9", "date": "d", "total": "t",
                                                       "itmes": []}]})
    with pytest.raises(ValueError, match="PHQ-9 has 9 items, the recipe lists 2"):
        read_recipe({"client_id": "a", "instrument": [{"measure": "PHQ-9", "date": "d",
                                                       "items": ["a", "b"]}]})
    with pytest.raises(ValueError, match="no shipped recipe 'nope'; shipped recipes are novopsych"):
        recipe_path("nope")
    bad = tmp_path / "r.toml"
    bad.write_text("client_id = \n")
    with pytest.raises(ValueError, match="not valid TOML"):
        read_recipe(bad)
    frame = pd.DataFrame({"id": ["1"], "d": ["2024-01-01"]})
    with pytest.raises(ValueError, match="column 'total' is not in the table"):
        read_wide(frame, {"client_id": "id", "instrument": [{"measure": "GAD-7", "date": "d",
                                                             "total": "total"}]})


def test_wide_duplicates_and_raise_mode():
    frame = pd.DataFrame({"id": ["a", "a", "b"], "d": ["2024-01-08", "2024-01-08", "2024-01-09"],
                          "t": ["5", "6", "30"]})
    recipe = {"client_id": "id", "instrument": [{"measure": "GAD-7", "date": "d", "total": "t"}]}
    with pytest.raises(DataValidationError) as info:
        read_wide(frame, recipe, today=TODAY)
    text = str(info.value)
    assert "records (DataFrame) line 4: GAD-7: score 30 out of range 0–21 for GAD-7" in text
    assert "differs on line(s) records (DataFrame) line 3" in text
