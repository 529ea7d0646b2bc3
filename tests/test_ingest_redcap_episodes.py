"""read_redcap with episodes of care (issue 26): arms as episodes, or a repeating episode form.

tests/data/ingest/redcap_arms.csv takes its shape from REDCapR's longitudinal test project
(OuhscBbmc/REDCapR inst/test-data/projects/longitudinal: the record column study_id, the
unique event names enrollment_arm_1, visit_1_arm_1, visit_2_arm_1, enrollment_arm_2,
first_visit_arm_2, final_visit_arm_2 of its event.csv, and the date_enrolled field), and the
repeating-instrument columns from its longitudinal-with-repeating-instrument project; the
records' values, the discharge_date field and the phq9 fields are made up. Record 100 is
referred twice: arm 1 (enrolled 2024-01-08, discharged 2024-03-25) and arm 2 (enrolled
2024-09-02); its final_visit_arm_2 score (line 7) is dated 2024-02-05, inside arm 1.
tests/data/ingest/redcap_episode_form.csv (made up) keeps the episodes in a repeating
"episode" instrument instead. Expected values are read off those lines.
"""

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

import progress_kit as pk
from progress_kit import DataValidationError

DATA = Path(__file__).parent / "data" / "ingest"
TODAY = dt.date(2026, 1, 1)
PHQ9 = [{"measure": "PHQ-9", "form": "phq9", "date": "phq9_date", "total": "phq9_total"}]
ARMS = {"client_id": "study_id", "episode": "redcap_arm", "episode_start": "date_enrolled",
        "episode_end": "discharge_date", "instrument": PHQ9}
FORM = {"client_id": "record_id", "episode_form": "episode", "episode_start": "episode_start",
        "episode_end": "episode_end", "instrument": PHQ9}


def read(name, recipe, **kw):
    return pk.read_redcap(DATA / name, recipe=recipe, errors="report", today=TODAY, **kw)


def test_arms_are_episodes():
    data = read("redcap_arms.csv", ARMS)
    c = data.clients
    assert c[["client_id", "episode_id"]].values.tolist() == [
        ["100", "arm_1"], ["100", "arm_2"], ["220", "arm_1"], ["304", "arm_2"]]
    assert c["start_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-08", "2024-09-02", "2024-01-09", "2024-02-01"]
    assert c["end_date"].iloc[0] == pd.Timestamp("2024-03-25") and c["end_date"].iloc[1:].isna().all()
    obs = data.observations
    got = obs[["client_id", "episode_id", "score"]].values.tolist()
    # 220's second PHQ-9 is a repeat instance of the phq9 form (2024-01-23): a repeated
    # administration in the same arm, not an episode
    assert got == [["100", "arm_1", 18.0], ["100", "arm_1", 9.0], ["100", "arm_2", 16.0],
                   ["220", "arm_1", 7.0], ["220", "arm_1", 5.0], ["304", "arm_2", 12.0]]


def test_a_score_in_another_arms_dates_is_an_error_on_its_line():
    (err,) = read("redcap_arms.csv", ARMS).problems.to_dict("records")
    assert (err["file"], err["line"], err["column"], err["value"]) == (
        "redcap_arms.csv", 7, "redcap_event_name", "arm_2")
    assert err["reason"] == ("the arm 'arm_2' disagrees with the date 2024-02-05, which falls in "
                             "episode 'arm_1' (2024-01-08 to 2024-03-25, dates on line 2)")
    with pytest.raises(DataValidationError, match="the arm 'arm_2' disagrees"):
        pk.read_redcap(DATA / "redcap_arms.csv", recipe=ARMS, today=TODAY)


def test_arms_without_dates_run_from_first_to_last_score():
    recipe = {"client_id": "study_id", "episode": "redcap_arm", "instrument": PHQ9}
    data = read("redcap_arms.csv", recipe)
    # record 100: arm_1 scores 2024-01-08 and 2024-03-18, arm_2 scores 2024-09-02 and 2024-02-05:
    # arm_2 then starts inside arm_1, an overlap, and none of record 100's scores is assigned
    assert sorted(set(data.observations["client_id"])) == ["220", "304"]
    overlap = data.problems[data.problems["reason"].str.contains("must not overlap")]
    assert overlap["line"].tolist() == [6] and overlap["value"].tolist() == ["arm_2"]


def test_without_an_episode_recipe_a_record_in_two_arms_is_a_warning():
    data = read("redcap_arms.csv", {"client_id": "study_id", "instrument": PHQ9})
    (w,) = data.problems.to_dict("records")
    assert w["severity"] == "warning" and w["line"] == 2
    assert w["reason"].startswith("record '100' is in arms 1, 2, read as one course")
    assert "episode_id" not in data.observations
    with pytest.warns(pk.DataValidationWarning, match="is in arms 1, 2"):
        pk.read_redcap(DATA / "redcap_arms.csv", recipe={"client_id": "study_id",
                                                         "instrument": PHQ9}, today=TODAY)


def test_a_repeating_episode_form():
    data = read("redcap_episode_form.csv", FORM)
    assert data.clients[["client_id", "episode_id"]].values.tolist() == [
        ["001", "episode_1"], ["001", "episode_2"], ["002", ""]]
    assert data.observations[["client_id", "episode_id", "score"]].values.tolist() == [
        ["001", "episode_1", 18.0], ["001", "episode_1", 9.0], ["001", "episode_2", 16.0],
        ["002", "", 7.0]]
    (err,) = data.problems.to_dict("records")
    assert (err["line"], err["column"], err["value"]) == (7, "date", "2024-06-03")
    assert "falls between episode 'episode_1' (2024-01-08 to 2024-03-25, dates on line 2) and " \
           "episode 'episode_2' (2024-09-02 to open, dates on line 3)" in err["reason"]


def test_recipe_errors():
    with pytest.raises(ValueError, match="episode_form .* needs episode_start and no episode"):
        pk.read_recipe({**FORM, "episode": "x"})
    with pytest.raises(ValueError, match='episode = "redcap_arm" needs the redcap_event_name'):
        read("redcap_episode_form.csv", {**ARMS, "client_id": "record_id",
                                         "episode_start": "episode_start", "episode_end": "episode_end"})
    with pytest.raises(ValueError, match="episode_form is for REDCap exports"):
        pk.read_wide(DATA / "redcap_episode_form.csv", FORM)
