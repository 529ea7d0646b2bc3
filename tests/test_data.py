"""Readers and validation: a clear error for every bad file, and nothing lost."""

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import progress_kit as pk
from progress_kit.data import read_clients, read_observations, read_sessions

DATA = Path(__file__).parent / "data"


BAD = DATA / "bad"
TODAY = dt.date(2026, 11, 25)

# each bad file and the exact message line it must produce
BAD_FILES = [
    ("obs_missing_column.csv", read_observations,
     "obs_missing_column.csv line 1: required column 'score' is missing "
     "(columns are client_id, date, measure)"),
    ("obs_empty.csv", read_observations, "obs_empty.csv: file is empty"),
    ("obs_header_only.csv", read_observations,
     "obs_header_only.csv: file is empty: a header but no data rows"),
    ("obs_bad_date.csv", read_observations,
     "obs_bad_date.csv line 2: date '05/01/2024' is not a date in the form YYYY-MM-DD; it looks "
     "like DD/MM/YYYY (or MM/DD/YYYY): convert it, or use --date-format %d/%m/%Y "
     "(date_format='%d/%m/%Y')"),
    ("obs_impossible_date.csv", read_observations,
     "obs_impossible_date.csv line 2: date '2024-02-30' is an impossible date"),
    ("obs_future_date.csv", read_observations,
     "obs_future_date.csv line 2: date 2099-01-01 is in the future (today is 2026-11-25)"),
    ("obs_unknown_measure.csv", read_observations,
     "obs_unknown_measure.csv line 2: unknown measure 'PHQ9'; did you mean 'PHQ-9'?"),
    ("obs_non_numeric.csv", read_observations,
     "obs_non_numeric.csv line 2: score 'ten' is not a number"),
    ("obs_out_of_range.csv", read_observations,
     "obs_out_of_range.csv line 7: score 31 out of range 0–27 for PHQ-9"),
    ("obs_off_step.csv", read_observations,
     "obs_off_step.csv line 2: score 12.5 is not on the step of PHQ-9 (must be a whole number)"),
    ("obs_blank_client.csv", read_observations, "obs_blank_client.csv line 2: blank client_id"),
    ("obs_conflicting_duplicate.csv", read_observations,
     "obs_conflicting_duplicate.csv line 2: conflicting duplicate: PHQ-9 for client c1 on "
     "2024-01-08 is 12 here but differs on line(s) 3"),
    ("clients_bad_status.csv", read_clients,
     "clients_bad_status.csv line 2: status 'done' is not one of active, finished, dropped"),
    ("clients_duplicate.csv", read_clients,
     "clients_duplicate.csv line 3: client_id 'c1' is listed again (first on line 2)"),
    ("clients_end_before_start.csv", read_clients,
     "clients_end_before_start.csv line 2: end_date 2024-01-08 is before start_date"),
    ("sessions_bad_attended.csv", read_sessions,
     "sessions_bad_attended.csv line 2: attended 'maybe' is not true/false (also accepted: "
     "yes/no, 1/0)"),
    ("sessions_bad_kind.csv", read_sessions,
     "sessions_bad_kind.csv line 2: kind 'group' is not one of assessment, treatment, follow_up"),
]


@pytest.mark.parametrize(("name", "reader", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_raises_with_its_message(name, reader, message):
    with pytest.raises(pk.DataValidationError) as info:
        reader(BAD / name, today=TODAY)
    assert message in str(info.value).splitlines()
    problems = info.value.problems
    assert list(problems.columns) == ["file", "line", "column", "value", "reason", "severity"]


@pytest.mark.parametrize(("name", "reader", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_report_mode_lists_every_rejected_row(name, reader, message):
    valid, problems = reader(BAD / name, errors="report", today=TODAY)
    raw = pd.read_csv(BAD / name, dtype=str) if (BAD / name).stat().st_size else pd.DataFrame()
    bad_lines = set(problems.loc[problems["severity"] == "error", "line"].dropna())
    assert len(valid) + len(bad_lines) == len(raw)


def test_conflicting_duplicate_flags_both_rows():
    valid, problems = read_observations(BAD / "obs_conflicting_duplicate.csv", errors="report")
    assert valid.empty
    assert sorted(problems["line"]) == [2, 3]


def test_exact_duplicates_collapse_with_a_warning():
    with pytest.warns(pk.DataValidationWarning, match="line 3: exact duplicate of line 2"):
        obs = read_observations(BAD / "obs_exact_duplicate.csv")
    assert len(obs) == 1
    assert [p["severity"] for p in obs.attrs["problems"]] == ["warning"]
    assert obs.attrs["problems"][0]["line"] == 3


def test_unknown_clients_in_a_folder():
    with pytest.raises(pk.DataValidationError) as info:
        pk.load_data(BAD / "unknown_client", today=TODAY)
    lines = str(info.value).splitlines()
    assert "observations.csv line 3: client_id 'c2' is not in the clients table" in lines
    assert "sessions.csv line 3: client_id 'c3' is not in the clients table" in lines
    data = pk.load_data(BAD / "unknown_client", errors="report", today=TODAY)
    assert data.observations["client_id"].tolist() == ["c1"]
    assert len(data.problems) == 2


def test_bom_and_crlf_are_valid_and_ids_stay_strings():
    obs = read_observations(DATA / "good_bom_crlf.csv")
    assert obs["client_id"].tolist() == ["00123", "00123"]
    assert obs["score"].tolist() == [12.0, 9.0]
    assert obs["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-08", "2024-01-15"]


def test_parquet_and_excel_give_the_same_table(tmp_path):
    obs = read_observations(DATA / "good_bom_crlf.csv")
    out = obs.assign(date=obs["date"].dt.strftime("%Y-%m-%d"))
    out.to_parquet(tmp_path / "observations.parquet")
    out.to_excel(tmp_path / "observations.xlsx", index=False)
    for name in ("observations.parquet", "observations.xlsx"):
        pd.testing.assert_frame_equal(read_observations(tmp_path / name), obs)


def test_excel_dates_and_line_numbers(tmp_path):
    frame = pd.DataFrame({"client_id": ["a", "a"], "date": pd.to_datetime(["2024-01-08",
                          "2024-01-15"]), "measure": ["PHQ-9", "PHQ-9"], "score": [12, 40]})
    frame.to_excel(tmp_path / "obs.xlsx", index=False)
    with pytest.raises(pk.DataValidationError, match="obs.xlsx line 3: score 40 out of range"):
        read_observations(tmp_path / "obs.xlsx")


def test_demo_clinic_validates_cleanly(demo_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = pk.load_data(demo_dir)
    assert data.problems.empty
    assert len(data.clients) == 60
    assert set(data.observations["client_id"]) <= set(data.clients["client_id"])


def test_errors_argument_is_checked():
    with pytest.raises(ValueError, match="errors must be 'raise' or 'report'"):
        read_observations(DATA / "good_bom_crlf.csv", errors="ignore")


# ---------------------------------------------------------------- property tests

ids = st.text(alphabet="abcXYZ0123456789_-", min_size=1, max_size=8)
days = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2026, 1, 1))
phq = st.integers(min_value=0, max_value=27)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(ids, days, phq), min_size=1, max_size=30,
                     unique_by=lambda r: (r[0], r[1])))
def test_valid_rows_round_trip_through_csv(tmp_path, rows):
    frame = pd.DataFrame(rows, columns=["client_id", "date", "score"]).assign(measure="PHQ-9")
    frame["date"] = [d.isoformat() for d in frame["date"]]
    path = tmp_path / "observations.csv"
    frame[["client_id", "date", "measure", "score"]].to_csv(path, index=False)
    obs = read_observations(path)
    assert obs["client_id"].tolist() == frame["client_id"].tolist()
    assert obs["score"].tolist() == frame["score"].astype(float).tolist()
    assert obs["date"].dt.strftime("%Y-%m-%d").tolist() == frame["date"].tolist()


cells = st.one_of(st.integers(-5, 40).map(str), st.sampled_from(["", "x", "12.5", "1e1", " 7 "]))


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["a", "b", ""]),
                               st.sampled_from(["2024-01-08", "2024-01-09", "2024-02-30", "bad"]),
                               st.sampled_from(["PHQ-9", "GAD-7", "mood", "phq"]), cells),
                     min_size=1, max_size=25))
def test_no_row_is_lost(rows):
    frame = pd.DataFrame(rows, columns=["client_id", "date", "measure", "score"])
    valid, problems = read_observations(frame, errors="report", today=TODAY)
    listed = set(problems["line"].dropna().astype(int))
    # every input row is either kept or listed (as an error or as a collapsed duplicate)
    assert len(valid) + len(listed) == len(frame)
    assert not set(np.arange(len(frame)) + 2) - listed - set(range(2, len(frame) + 2))
    assert valid["score"].notna().all()
