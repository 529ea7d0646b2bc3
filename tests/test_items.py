"""The optional item-level table: validation, totals checked against observations, derived totals."""

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk

DATA = Path(__file__).parent / "data"
TODAY = dt.date(2026, 11, 25)
HEADER = "client_id,date,measure,item,response\n"


def _items_file(tmp_path, body: str, name: str = "items.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def test_read_items_types_and_columns(tmp_path):
    path = _items_file(tmp_path, "00123,2024-01-08,PHQ-9,1,2\n00123,2024-01-08,PHQ-9,9,\n")
    items = pk.read_items(path, today=TODAY)
    assert list(items.columns) == ["client_id", "date", "measure", "item", "response"]
    assert items["client_id"].tolist() == ["00123", "00123"]
    assert items["item"].dtype == np.int64
    assert items["item"].tolist() == [1, 9]
    # a blank response is an unanswered item, kept as NaN
    assert items["response"].tolist()[0] == 2.0 and np.isnan(items["response"].iloc[1])


BAD_ITEMS = [
    ("c1,2024-01-08,PHQ9,1,2\n", "line 2: unknown measure 'PHQ9'; did you mean 'PHQ-9'?"),
    ("c1,2024-01-08,mood,1,2\n",
     "line 2: measure 'mood' has no item-level definition in the registry (no 'items' field)"),
    ("c1,2024-01-08,PHQ-9,10,2\n", "line 2: item 10 is out of range 1–9 for PHQ-9"),
    ("c1,2024-01-08,PHQ-9,0,2\n", "line 2: item 0 is out of range 1–9 for PHQ-9"),
    ("c1,2024-01-08,PHQ-9,1.5,2\n",
     "line 2: item '1.5' is not a whole number (items are numbered from 1)"),
    ("c1,2024-01-08,PHQ-9,,2\n", "line 2: blank item"),
    ("c1,2024-01-08,PHQ-9,1,4\n", "line 2: response 4 out of range 0–3 for PHQ-9 items"),
    ("c1,2024-01-08,PHQ-9,1,1.5\n",
     "line 2: response 1.5 is not on the step of PHQ-9 items (must be a whole number)"),
    ("c1,2024-01-08,PHQ-9,1,two\n", "line 2: response 'two' is not a number"),
    ("c1,2024-01-08,CORE-10,1,inf\n", "line 2: response 'inf' is not a finite number"),
    ("c1,2024-13-08,PHQ-9,1,2\n", "line 2: date '2024-13-08' is an impossible date"),
    ("c1,2024-01-08,PHQ-9,3,2\nc1,2024-01-08,PHQ-9,3,1\n",
     "line 2: conflicting duplicate: PHQ-9 item 3 for client c1 on 2024-01-08 is 2 here but "
     "differs on line(s) 3"),
]


@pytest.mark.parametrize(("body", "message"), BAD_ITEMS, ids=[m.split(": ")[1][:30] for _, m in BAD_ITEMS])
def test_bad_items_name_file_line_and_reason(tmp_path, body, message):
    path = _items_file(tmp_path, body)
    with pytest.raises(pk.DataValidationError) as info:
        pk.read_items(path, today=TODAY)
    assert f"items.csv {message}" in str(info.value).splitlines()
    valid, problems = pk.read_items(path, errors="report", today=TODAY)
    # every row is either valid or listed
    listed = set(problems.loc[problems["severity"] == "error", "line"])
    assert len(valid) + len(listed) == body.count("\n")
    assert set(problems.columns) == {"file", "line", "column", "value", "reason", "severity"}


def test_exact_duplicate_items_collapse_with_a_warning(tmp_path):
    path = _items_file(tmp_path, "c1,2024-01-08,PHQ-9,3,2\nc1,2024-01-08,PHQ-9,3,2\n")
    with pytest.warns(pk.DataValidationWarning, match="line 3: exact duplicate of line 2"):
        items = pk.read_items(path, today=TODAY)
    assert len(items) == 1


def test_item_ranges_follow_the_registry(tmp_path):
    # ORS lines are 0-10 in tenths; OQ-45 has 45 items of 0-4
    ok = _items_file(tmp_path, "c1,2024-01-08,ORS,4,9.7\nc1,2024-01-08,OQ-45,45,4\n")
    assert len(pk.read_items(ok, today=TODAY)) == 2
    bad = _items_file(tmp_path, "c1,2024-01-08,ORS,5,9.7\n", "bad.csv")
    with pytest.raises(pk.DataValidationError, match="item 5 is out of range 1–4 for ORS"):
        pk.read_items(bad, today=TODAY)


def test_items_from_a_dataframe_parquet_and_excel(tmp_path):
    frame = pd.DataFrame({"client_id": ["a"] * 3, "date": ["2024-01-08"] * 3,
                          "measure": ["GAD-7"] * 3, "item": [1, 2, 3], "response": [0, 3, 2]})
    from_frame = pk.read_items(frame, today=TODAY)
    frame.to_parquet(tmp_path / "items.parquet")
    frame.to_excel(tmp_path / "items.xlsx", index=False)
    for name in ("items.parquet", "items.xlsx"):
        pd.testing.assert_frame_equal(pk.read_items(tmp_path / name, today=TODAY), from_frame)


def test_folder_without_items_gives_an_empty_table(demo_dir):
    data = pk.load_data(demo_dir)
    assert data.items.empty
    assert list(data.items.columns) == ["client_id", "date", "measure", "item", "response"]
    assert "derived" not in data.observations


def test_totals_are_checked_against_items_naming_both_lines():
    with pytest.raises(pk.DataValidationError) as info:
        pk.load_data(DATA / "items", today=TODAY)
    lines = str(info.value).splitlines()
    assert ("observations.csv line 3: total 14 of PHQ-9 for client 00123 on 2024-01-15 disagrees "
            "with its items: items.csv lines 11–19 give 11 (the sum of the items)") in lines
    # the nine item rows of that administration are grouped in the message, listed in the table
    assert ("items.csv lines 11–19: 9 rows: items of PHQ-9 for client 00123 on 2024-01-15 give 11 "
            "(the sum of the items), but observations.csv line 3 has the total 14 "
            "(values '2', '1', '0')") in lines
    problems = info.value.problems
    errors = problems[problems["severity"] == "error"]
    assert sorted(errors.loc[errors["file"] == "items.csv", "line"]) == list(range(11, 20))
    assert errors.loc[errors["file"] == "observations.csv", "line"].tolist() == [3]


def test_agreeing_totals_prorated_totals_and_derived_totals():
    data = pk.load_data(DATA / "items", errors="report", today=TODAY)
    obs = data.observations.set_index(["client_id", "measure", data.observations["date"]
                                       .dt.strftime("%Y-%m-%d")])
    # observed totals that agree with their items stay, not derived
    assert obs.loc[("00123", "PHQ-9", "2024-01-08"), "score"] == 12
    assert not obs.loc[("00123", "PHQ-9", "2024-01-08"), "derived"]
    # c2: one of nine items missing; the prorated total round(9 / 8 * 9) = 10 agrees with 10
    assert obs.loc[("c2", "PHQ-9", "2024-01-08"), "score"] == 10
    # c3: only items; the total 3+2+2+2+2+1+1+1+1 = 15 is derived and marked
    assert obs.loc[("c3", "PHQ-9", "2024-01-22"), "score"] == 15
    assert obs.loc[("c3", "PHQ-9", "2024-01-22"), "derived"]
    assert obs["derived"].sum() == 1
    # the disagreeing total and its items are rejected, and listed
    assert ("00123", "PHQ-9", "2024-01-15") not in obs.index
    assert len(data.items) == 41 - 9
    # c3's GAD-7: 2 of 7 items missing, more than the 1 the registry allows: no total, a warning
    warned = data.problems[data.problems["severity"] == "warning"]
    assert warned["reason"].tolist() == [
        "no total derived for GAD-7 for client c3 on 2024-01-29: 2 of 7 items missing; at most 1 "
        "may be prorated (items.csv lines 37–42)"]
    assert ("c3", "GAD-7", "2024-01-29") not in obs.index


def test_items_for_unknown_clients_and_lost_zeros(tmp_path):
    for name in ("clients.csv", "sessions.csv", "observations.csv"):
        (tmp_path / name).write_text((DATA / "items" / name).read_text())
    _items_file(tmp_path, "123,2024-01-08,PHQ-9,1,2\nzz,2024-01-08,PHQ-9,1,2\n")
    data = pk.load_data(tmp_path, errors="report", today=TODAY)
    reasons = data.problems["reason"].tolist()
    assert ("client_id '123' is not in the clients table; did it lose its leading zeros? The "
            "clients table has '00123' (keep IDs as text when a spreadsheet saves them)") in reasons
    assert "client_id 'zz' is not in the clients table" in reasons


def test_write_round_trip_keeps_items_and_drops_derived_totals(tmp_path):
    data = pk.load_data(DATA / "items", errors="report", today=TODAY)
    data.write(tmp_path)
    written = pd.read_csv(tmp_path / "observations.csv", dtype=str)
    assert "derived" not in written
    assert len(written) == len(data.observations) - 1
    with pytest.warns(pk.DataValidationWarning, match="no total derived for GAD-7"):
        back = pk.load_data(tmp_path, today=TODAY)
    pd.testing.assert_frame_equal(back.items, data.items)
    pd.testing.assert_frame_equal(back.observations, data.observations)
    pd.testing.assert_frame_equal(back.sessions, data.sessions)


def test_sessions_duration_minutes(tmp_path):
    sessions = pk.load_data(DATA / "items", errors="report", today=TODAY).sessions
    assert sessions["duration_minutes"].tolist()[0] == 75.0
    assert np.isnan(sessions["duration_minutes"].iloc[1])
    # absent column: NaN
    plain = pk.read_sessions(pd.DataFrame({"client_id": ["a"], "date": ["2024-01-08"],
                                           "attended": ["yes"], "kind": ["treatment"]}))
    assert plain["duration_minutes"].isna().all() and plain["duration_minutes"].dtype == float


@pytest.mark.parametrize(("value", "message"), [
    ("0", "duration_minutes 0 is not positive"),
    ("-50", "duration_minutes -50 is not positive"),
    ("600", "duration_minutes 600 is implausibly long (more than 480 minutes)"),
    ("50 min", "duration_minutes '50 min' is not a number"),
    ("inf", "duration_minutes 'inf' is not a finite number"),
    ("1e308", "duration_minutes 1e308 is implausibly long (more than 480 minutes)"),
])
def test_bad_duration_minutes(tmp_path, value, message):
    path = tmp_path / "sessions.csv"
    path.write_text(f"client_id,date,attended,kind,duration_minutes\na,2024-01-08,yes,treatment,"
                    f"{value}\n")
    with pytest.raises(pk.DataValidationError) as info:
        pk.read_sessions(path, today=TODAY)
    assert f"sessions.csv line 2: {message}" in str(info.value).splitlines()


def test_demo_clinic_without_items_still_validates_cleanly(demo_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = pk.load_data(demo_dir)
    assert data.problems.empty
