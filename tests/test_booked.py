"""Booked sessions: a sessions row with ``attended`` blank (issue 23, part 2)."""

import datetime as dt

import pandas as pd
import pytest

import progress_kit as pk
from progress_kit.errors import DataValidationError


def _folder(tmp_path, sessions_rows):
    pd.DataFrame({"client_id": ["a", "b"], "therapist_id": ["t1", "t2"],
                  "start_date": ["2024-01-01", "2024-01-01"], "status": ["active", "active"],
                  "problem": ["depression", "depression"],
                  "session_frequency": ["weekly", "weekly"]}).to_csv(tmp_path / "clients.csv", index=False)
    pd.DataFrame({"client_id": ["a", "b"], "date": ["2024-01-08", "2024-01-08"],
                  "measure": ["PHQ-9", "PHQ-9"], "score": [15, 12]}).to_csv(
        tmp_path / "observations.csv", index=False)
    (tmp_path / "sessions.csv").write_text("client_id,date,attended,kind\n" + sessions_rows)
    return tmp_path


def test_booked_rows_leave_sessions_and_may_lie_in_the_future(tmp_path):
    _folder(tmp_path, "a,2024-01-08,true,assessment\na,2024-01-15,false,treatment\n"
                      "a,2024-02-20,,treatment\nb,2024-02-20,,treatment\nb,2024-02-27,,treatment\n")
    data = pk.load_data(tmp_path, today=dt.date(2024, 2, 1))
    assert data.sessions["attended"].dtype == bool
    assert len(data.sessions) == 2 and (data.sessions["date"] < "2024-02-01").all()
    assert list(data.booked["client_id"]) == ["a", "b", "b"]
    day = pk.booked_sessions(data, on="2024-02-20")
    assert list(day["client_id"]) == ["a", "b"] and list(day["therapist_id"]) == ["t1", "t2"]
    assert list(pk.booked_sessions(data, on="2024-02-20", therapist="t2")["client_id"]) == ["b"]
    assert pk.booked_sessions(data, on="2024-03-01").empty


def test_a_held_session_in_the_future_is_still_an_error(tmp_path):
    _folder(tmp_path, "a,2024-02-20,true,treatment\n")
    with pytest.raises(DataValidationError, match="in the future"):
        pk.load_data(tmp_path, today=dt.date(2024, 2, 1))


def test_a_bad_attended_word_names_the_blank_for_booked(tmp_path):
    _folder(tmp_path, "a,2024-01-08,maybe,treatment\n")
    with pytest.raises(DataValidationError, match="blank for a booked session"):
        pk.load_data(tmp_path)


def test_booked_sessions_round_trip_through_write_data(tmp_path):
    _folder(tmp_path / "in" if (tmp_path / "in").mkdir() is None else None,
            "a,2024-01-08,true,assessment\na,2099-02-20,,treatment\n")
    data = pk.load_data(tmp_path / "in")
    data.write(tmp_path / "out")
    again = pk.load_data(tmp_path / "out")
    pd.testing.assert_frame_equal(again.booked, data.booked)
    pd.testing.assert_frame_equal(again.sessions, data.sessions)


def test_read_sessions_keeps_booked_rows_as_missing_attendance():
    s = pk.read_sessions(pd.DataFrame({"client_id": ["a", "a"], "date": ["2024-01-08", "2099-01-08"],
                                       "attended": ["yes", ""], "kind": ["treatment"] * 2}))
    assert s["attended"].isna().tolist() == [False, True]
    assert list(pk.booked_sessions(s)["date"]) == [pd.Timestamp("2099-01-08")]
    with pytest.raises(ValueError, match="therapist= needs a ClinicData"):
        pk.booked_sessions(s, therapist="t1")
