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
     "yes/no, 1/0; blank for a booked session)"),
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


# ---------------------------------------------------------------- hardening (issue 14)

OBS_HEADER = "client_id,date,measure,score\n"


def _write(tmp_path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def _messages(reader, path, **kwargs) -> list[str]:
    with pytest.raises(pk.DataValidationError) as info:
        reader(path, today=TODAY, **kwargs)
    return str(info.value).splitlines()


def test_year_out_of_bounds_is_a_row_problem_not_a_crash(tmp_path):
    # issue 14.5: '0205-05-10' used to abort with "Out of bounds nanosecond timestamp"
    path = _write(tmp_path, "sessions.csv", "client_id,date,attended,kind\n"
                  "a,2024-01-08,yes,assessment\na,0205-05-10,yes,treatment\n")
    assert ("sessions.csv line 3: date '0205-05-10' is before 1900-01-01; check the year"
            in _messages(read_sessions, path))
    valid, problems = read_sessions(path, errors="report", today=TODAY)
    assert len(valid) == 1 and problems["line"].tolist() == [3]
    assert problems["column"].tolist() == ["date"] and problems["value"].tolist() == ["0205-05-10"]


def test_year_out_of_bounds_in_a_folder_and_on_the_command_line(tmp_path, capsys):
    from progress_kit.cli import main

    for name in ("clients.csv", "observations.csv"):
        (tmp_path / name).write_text((BAD / "unknown_client" / name).read_text())
    (tmp_path / "observations.csv").write_text(OBS_HEADER + "c1,2024-01-08,PHQ-9,12\n")
    _write(tmp_path, "sessions.csv", "client_id,date,attended,kind\nc1,0205-05-10,yes,treatment\n")
    assert main(["validate", str(tmp_path)]) == 1
    assert ("sessions.csv line 2: date '0205-05-10' is before 1900-01-01; check the year"
            in capsys.readouterr().out.splitlines())


def test_conflicting_duplicates_name_every_other_line_of_their_group(tmp_path):
    # issue 14.6: the check is vectorised; a group of three names the two others on each line
    path = _write(tmp_path, "obs.csv", OBS_HEADER + "c1,2024-01-08,PHQ-9,12\nc2,2024-01-08,PHQ-9,5\n"
                  "c1,2024-01-08,PHQ-9,14\nc1,2024-01-08,PHQ-9,12\nc2,2024-01-08,PHQ-9,5\n")
    valid, problems = read_observations(path, errors="report", today=TODAY)
    errors = problems[problems["severity"] == "error"].set_index("line")["reason"]
    assert errors[2] == ("conflicting duplicate: PHQ-9 for client c1 on 2024-01-08 is 12 here but "
                         "differs on line(s) 4, 5")
    assert errors[4] == ("conflicting duplicate: PHQ-9 for client c1 on 2024-01-08 is 14 here but "
                         "differs on line(s) 2, 5")
    assert sorted(errors.index) == [2, 4, 5]
    # c2's exact copy is collapsed with a warning; its first row stays
    assert valid["client_id"].tolist() == ["c2"]
    warned = problems[problems["severity"] == "warning"]
    assert warned["reason"].tolist() == ["exact duplicate of line 3 (client_id, date, measure); "
                                         "collapsed"]


def test_many_conflicting_pairs_are_all_listed(tmp_path):
    from bench.validation import write_duplicates

    path = tmp_path / "dup.csv"
    write_duplicates(path, n_rows=20_000, n_pairs=3_000)
    valid, problems = read_observations(path, errors="report", today=TODAY)
    assert len(problems) == 6_000 and (problems["severity"] == "error").all()
    assert len(valid) == 20_000 - 6_000


@pytest.mark.parametrize(("text", "shown", "code"), [
    ("C\x00001", "'C\\x00001'", "U+0000 control character"),
    ("C\x1b[31m1", "'C\\x1b[31m1'", "U+001B control character"),
    ("C\x07001", "'C\\x07001'", "U+0007 control character"),
    ("\u202e100C", "'\\u202e100C'", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("C0\u206601", "'C0\\u206601'", "U+2066 LEFT-TO-RIGHT ISOLATE"),
])
def test_control_and_bidi_characters_in_ids_are_rejected(tmp_path, text, shown, code):
    # issue 14.11: '\u202e100C' displays as 'C001'; escape codes reach the terminal
    path = _write(tmp_path, "obs.csv", OBS_HEADER + f"{text},2024-01-08,PHQ-9,12\n")
    assert (f"obs.csv line 2: client_id {shown} contains an invisible or control character "
            f"({code}); remove it") in _messages(read_observations, path)


def test_control_characters_in_text_fields_and_dataframes(tmp_path):
    frame = pd.DataFrame({"client_id": ["a", "b"], "therapist_id": ["T1", "T\u202e2"],
                          "start_date": ["2024-01-08"] * 2, "status": ["active"] * 2,
                          "problem": ["depression", "gad\x1b"], "session_frequency": ["weekly"] * 2})
    valid, problems = read_clients(frame, errors="report", today=TODAY)
    assert valid["client_id"].tolist() == ["a"]
    assert problems["reason"].tolist() == [
        "therapist_id 'T\\u202e2' contains an invisible or control character (U+202E "
        "RIGHT-TO-LEFT OVERRIDE); remove it",
        "problem 'gad\\x1b' contains an invisible or control character (U+001B control "
        "character); remove it"]
    assert problems["line"].tolist() == [3, 3]
    # an extra free-text column may hold line breaks and tabs
    path = _write(tmp_path, "obs.csv", "client_id,date,measure,score,note\n"
                  'a,2024-01-08,PHQ-9,12,"first line\n\tsecond line"\n')
    assert read_observations(path, today=TODAY)["note"].tolist() == ["first line\n\tsecond line"]


@pytest.mark.parametrize(("header", "message"), [
    ("client_id,date,measure,score,score",
     "obs.csv line 1: column 'score' appears more than once in the header (columns 4 and 5); "
     "keep one"),
    ("client_id,client_id,date,measure,score",
     "obs.csv line 1: column 'client_id' appears more than once in the header (columns 1 and 2); "
     "keep one"),
    ("client_id,date,measure,score, score ",
     "obs.csv line 1: column 'score' appears more than once in the header (columns 4 and 5); "
     "keep one"),
])
def test_duplicate_header_columns_are_rejected(tmp_path, header, message):
    # issue 14.13: the second column used to be renamed 'score.1' and ignored
    n = header.count(",") + 1
    path = _write(tmp_path, "obs.csv", header + "\n" + ",".join(["1"] * n) + "\n")
    assert message in _messages(read_observations, path)
    valid, problems = read_observations(path, errors="report", today=TODAY)
    assert valid.empty and problems["line"].tolist() == [1]


def test_duplicate_header_columns_in_excel_and_dataframes(tmp_path):
    frame = pd.DataFrame([["a", "2024-01-08", "PHQ-9", 12, 13]],
                         columns=["client_id", "date", "measure", "score", "score"])
    with pytest.raises(pk.DataValidationError, match=r"column 'score' appears more than once"):
        read_observations(frame)
    frame.to_excel(tmp_path / "obs.xlsx", index=False)
    assert ("obs.xlsx line 1: column 'score' appears more than once in the header (columns 4 and "
            "5); keep one") in _messages(read_observations, tmp_path / "obs.xlsx")


def test_line_numbers_after_quoted_fields_with_newlines(tmp_path):
    # issue 14.14: a quoted note over three lines moves every later row down two lines
    path = _write(tmp_path, "obs.csv", "client_id,date,measure,score,note\n"
                  'a,2024-01-08,PHQ-9,12,"one\ntwo\nthree"\n'
                  'a,2024-01-15,PHQ-9,12,"say ""hi""\nagain"\n'
                  "\n"
                  "a,2024-01-22,PHQ-9,31,\n")
    assert ("obs.csv line 8: score 31 out of range 0–27 for PHQ-9"
            in _messages(read_observations, path))


def test_long_values_are_shortened_in_messages(tmp_path):
    # issue 14.15: a 1 MB cell gave a 1 MB message
    path = _write(tmp_path, "obs.csv", OBS_HEADER + f"a,2024-01-08,{'X' * 1_000_000},12\n")
    with pytest.raises(pk.DataValidationError) as info:
        read_observations(path, today=TODAY)
    message = str(info.value)
    assert len(message) < 400
    assert (f"obs.csv line 2: unknown measure '{'X' * 60}… (1000000 characters)'"
            in message.splitlines()[1])
    assert len(info.value.problems["value"].iloc[0]) < 250


@pytest.mark.parametrize(("row", "message"), [
    ("a,２０２４-01-08,PHQ-9,12", "date '２０２４-01-08' is not a date in the form YYYY-MM-DD"),
    ("a,2024-０1-08,PHQ-9,12", "date '2024-０1-08' is not a date in the form YYYY-MM-DD"),
    ("a,2024-01-08,PHQ-9,１２", "score '１２' is not a number"),
    ("a,2024-01-08,takeaways,inf", "score 'inf' is not a finite number"),
    ("a,2024-01-08,takeaways,-inf", "score '-inf' is not a finite number"),
    ("a,2024-01-08,takeaways,1e308",
     "score 1e308 is implausibly large for takeaways (no maximum in the registry; above 1000)"),
    ("a,2024-01-08,takeaways,-1", "score -1 out of range 0 or more for takeaways"),
])
def test_full_width_digits_and_impossible_counts(tmp_path, row, message):
    # issue 14.18
    path = _write(tmp_path, "obs.csv", OBS_HEADER + row + "\n")
    assert f"obs.csv line 2: {message}" in _messages(read_observations, path)


def test_takeaways_plausible_counts_are_valid():
    obs = read_observations(pd.DataFrame({"client_id": ["a"], "date": ["2024-01-08"],
                                          "measure": ["takeaways"], "score": ["12"]}))
    assert obs["score"].tolist() == [12.0]


# ---------------------------------------------------------------- friendlier input (issue 14)


def _day_first_file(tmp_path, n: int = 23) -> Path:
    days = pd.date_range("2026-08-01", periods=n, freq="D")
    rows = "".join(f"a,{d:%d/%m/%Y},mood,5\n" for d in days)
    return _write(tmp_path, "obs.csv", OBS_HEADER + rows)


def test_repeated_problems_are_grouped_with_a_hint(tmp_path):
    path = _day_first_file(tmp_path)
    lines = _messages(read_observations, path)
    assert lines == ["23 problem(s) in the data:",
                     "obs.csv lines 2–24: 23 dates look like DD/MM/YYYY; use --date-format "
                     "%d/%m/%Y (date_format='%d/%m/%Y') or convert them"]
    # the table still lists every row
    _, problems = read_observations(path, errors="report", today=TODAY)
    assert problems["line"].tolist() == list(range(2, 25))
    assert problems["reason"].iloc[0] == (
        "date '01/08/2026' is not a date in the form YYYY-MM-DD; it looks like DD/MM/YYYY: "
        "convert it, or use --date-format %d/%m/%Y (date_format='%d/%m/%Y')")
    assert len(pk.problems_to_text(problems, group=False).splitlines()) == 23


def test_other_repeated_problems_are_grouped_generically(tmp_path):
    path = _write(tmp_path, "obs.csv", OBS_HEADER + "a,2024-01-08,PHQ-9,31\na,2024-01-09,PHQ-9,40\n"
                  "a,2024-01-10,GAD-7,3\na,2024-01-11,PHQ-9,35\n")
    assert ("obs.csv lines 2–3, 5: 3 rows: score … out of range 0–27 for PHQ-9 (values '31', '40', "
            "'35')") in _messages(read_observations, path)


def test_date_format_reads_day_first_dates(tmp_path, capsys):
    from progress_kit.cli import main

    path = _day_first_file(tmp_path, 3)
    obs = read_observations(path, date_format="%d/%m/%Y", today=TODAY)
    assert obs["date"].dt.strftime("%Y-%m-%d").tolist() == ["2026-08-01", "2026-08-02", "2026-08-03"]
    # ISO days are still accepted; anything else must match the format
    mixed = _write(tmp_path, "mixed.csv", OBS_HEADER + "a,2026-08-04,mood,5\na,08/05/2026 ,mood,5\n"
                   "a,2026/08/06,mood,5\na,３1/08/2026,mood,5\n")
    valid, problems = read_observations(mixed, errors="report", date_format="%d/%m/%Y", today=TODAY)
    assert valid["date"].dt.strftime("%Y-%m-%d").tolist() == ["2026-08-04", "2026-05-08"]
    assert problems["reason"].tolist() == [
        "date '2026/08/06' is not a date in the form YYYY-MM-DD or %d/%m/%Y",
        "date '３1/08/2026' is not a date in the form YYYY-MM-DD or %d/%m/%Y"]
    assert main(["validate", str(path), "--table", "observations"]) == 1
    assert main(["validate", str(path), "--table", "observations", "--date-format", "%d/%m/%Y"]) == 0


def test_month_first_dates_are_recognised(tmp_path):
    path = _write(tmp_path, "obs.csv", OBS_HEADER + "a,08/13/2026,mood,5\n")
    assert ("obs.csv line 2: date '08/13/2026' is not a date in the form YYYY-MM-DD; it looks like "
            "MM/DD/YYYY: convert it, or use --date-format %m/%d/%Y (date_format='%m/%d/%Y')"
            in _messages(read_observations, path))


@pytest.mark.parametrize(("header", "message"), [
    ("client_id,Date,measure,score", "required column 'date' is missing (columns are client_id, "
     "Date, measure, score); the header has 'Date': did you mean 'date'?"),
    ("Client ID,date,measure,score", "required column 'client_id' is missing (columns are "
     "Client ID, date, measure, score); the header has 'Client ID': did you mean 'client_id'?"),
])
def test_header_case_and_spacing_get_did_you_mean(tmp_path, header, message):
    path = _write(tmp_path, "obs.csv", header + "\na,2024-01-08,PHQ-9,12\n")
    assert f"obs.csv line 1: {message}" in _messages(read_observations, path)


def test_optional_column_with_a_near_name_is_not_ignored(tmp_path):
    path = _write(tmp_path, "sessions.csv", "client_id,date,attended,kind,Duration Minutes\n"
                  "a,2024-01-08,yes,treatment,50\n")
    assert ("sessions.csv line 1: column 'Duration Minutes' is not read; did you mean "
            "'duration_minutes'?") in _messages(read_sessions, path)


def test_ids_that_lost_leading_zeros_get_a_hint(tmp_path):
    _write(tmp_path, "clients.csv", "client_id,therapist_id,start_date,status,problem,"
           "session_frequency\n00123,T1,2024-01-01,active,depression,weekly\n")
    _write(tmp_path, "observations.csv", OBS_HEADER + "123,2024-01-08,PHQ-9,12\n"
           "00123,2024-01-08,GAD-7,5\n")
    _write(tmp_path, "sessions.csv", "client_id,date,attended,kind\n")
    with pytest.raises(pk.DataValidationError) as info:
        pk.load_data(tmp_path, today=TODAY)
    assert ("observations.csv line 2: client_id '123' is not in the clients table; did it lose its "
            "leading zeros? The clients table has '00123' (keep IDs as text when a spreadsheet "
            "saves them)") in str(info.value).splitlines()


def test_rows_longer_than_the_header_are_listed_not_shifted(tmp_path):
    # pandas would take the first field as an index and shift the row, or cut it
    path = _write(tmp_path, "obs.csv", OBS_HEADER + "a,2024-01-08,PHQ-9,12,99\n"
                  'a,2024-01-09,PHQ-9,"1\n2"\n'
                  "a,2024-01-10,PHQ-9,7\n\na,2024-01-11,PHQ-9,8,x,y\n")
    valid, problems = read_observations(path, errors="report", today=TODAY)
    assert valid["score"].tolist() == [7.0]
    assert problems[["line", "reason"]].values.tolist() == [
        [2, "5 fields, but the header has 4 (a comma inside a value that is not in quotes?)"],
        [7, "6 fields, but the header has 4 (a comma inside a value that is not in quotes?)"],
        [3, "score '1\\n2' is not a number"],
        [3, "score '1\\n2' contains an invisible or control character (U+000A control "
            "character); remove it"]]


def test_trailing_empty_columns_are_ignored_and_unnamed_ones_kept(tmp_path):
    path = _write(tmp_path, "obs.csv", "client_id,date,measure,score,,\na,2024-01-08,PHQ-9,12,,\n")
    assert read_observations(path, today=TODAY).columns.tolist() == ["client_id", "date", "measure",
                                                                     "score"]
    path = _write(tmp_path, "obs.csv", "client_id,date,measure,score,\na,2024-01-08,PHQ-9,12,x\n")
    assert read_observations(path, today=TODAY)["Unnamed: 4"].tolist() == ["x"]
