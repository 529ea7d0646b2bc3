"""read_wide with an episode column (issue 26): a referral number keys each row's episode.

tests/data/ingest/referrals_wide.csv is a small hand-written export (no real data): client C1
referred twice (R1 08/01/2024-25/03/2024, R2 from 02/09/2024), C2 once. Line by line:
2, 3 R1 scores; 4 an R2 score; 5 says R2 but is dated 05/02/2024, inside R1; 6 has no referral
and is dated 03/06/2024, between R1 and R2; 7 C2's; 8 an R1 score whose Referral Date
(15/01/2024) differs from the one on line 2. Expected values are read off these lines.
"""

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

import progress_kit as pk
from progress_kit import DataValidationError

CSV = Path(__file__).parent / "data" / "ingest" / "referrals_wide.csv"
TODAY = dt.date(2026, 1, 1)
RECIPE = {"client_id": "Client Code", "episode": "Referral", "episode_start": "Referral Date",
          "episode_end": "Discharge Date", "episode_date_format": "%d/%m/%Y",
          "instrument": [{"measure": "PHQ-9", "date": "Date Completed", "date_format": "%d/%m/%Y",
                          "total": "PHQ-9 Total"}]}


def read(recipe=RECIPE, **kw):
    return pk.read_wide(CSV, recipe, errors="report", today=TODAY, **kw)


def test_referral_column_gives_clients_and_episodes():
    data = read()
    c = data.clients
    assert c[["client_id", "episode_id"]].values.tolist() == [["C1", "R1"], ["C1", "R2"], ["C2", "R1"]]
    assert c["start_date"].tolist() == [pd.Timestamp("2024-01-08"), pd.Timestamp("2024-09-02"),
                                        pd.Timestamp("2024-01-09")]
    assert c["end_date"].iloc[0] == pd.Timestamp("2024-03-25") and c["end_date"].iloc[1:].isna().all()
    obs = data.observations.sort_values(["client_id", "date"])
    assert obs[["client_id", "episode_id", "score"]].values.tolist() == [
        ["C1", "R1", 18.0], ["C1", "R1", 14.0], ["C1", "R1", 9.0], ["C1", "R2", 16.0],
        ["C2", "R1", 7.0]]


def test_each_bad_row_names_file_line_column_value_and_reason():
    p = read().problems.sort_values("line").to_dict("records")
    assert [(r["file"], r["line"], r["column"], r["value"]) for r in p] == [
        ("referrals_wide.csv", 5, "Referral", "R2"),
        ("referrals_wide.csv", 6, "date", "2024-06-03"),
        ("referrals_wide.csv", 8, "Referral Date", "2024-01-15")]
    assert p[0]["reason"] == ("Referral 'R2' disagrees with the date 2024-02-05, which falls in "
                              "episode 'R1' (2024-01-08 to 2024-03-25, dates on line 2)")
    assert p[1]["reason"] == ("date 2024-06-03 of client 'C1' falls between episode 'R1' (2024-01-08 "
                              "to 2024-03-25, dates on line 2) and episode 'R2' (2024-09-02 to "
                              "open, dates on line 4): it belongs to no episode")
    assert p[2]["reason"].startswith("Referral Date '2024-01-15' of Referral 'R1' (client 'C1') "
                                     "differs from '2024-01-08' on line 2")
    assert all(r["severity"] == "error" for r in p)
    with pytest.raises(DataValidationError, match="falls between episode 'R1'"):
        pk.read_wide(CSV, RECIPE, today=TODAY)


def test_without_dates_an_episode_runs_from_first_to_last_score():
    # no Referral Date / Discharge Date: R1 of C1 spans its scores (lines 2, 3, 8: 2024-01-08 to
    # 2024-03-18), R2 its scores (lines 4, 5: from 2024-02-05), which overlaps R1: an error, and
    # none of C1's rows is assigned; C2 is untouched
    recipe = {k: v for k, v in RECIPE.items() if not k.startswith("episode_")}
    data = read(recipe)
    assert data.observations["client_id"].tolist() == ["C2"]
    (overlap,) = data.problems[data.problems["reason"].str.contains("must not overlap")].to_dict("records")
    assert (overlap["line"], overlap["column"], overlap["value"]) == (4, "Referral", "R2")
    assert overlap["reason"].startswith("episode 'R2' of client 'C1' (scores on lines 4 to 5) starts on "
                                        "2024-02-05, inside episode 'R1' (scores on lines 2 to 8")
    rejected = data.problems[data.problems["reason"].str.contains("has an episode rejected")]
    assert sorted(rejected["line"]) == [2, 3, 4, 5, 6, 8]


def test_a_clean_export_reads_back_from_the_written_folder(tmp_path):
    clean = pd.read_csv(CSV, dtype=str, keep_default_na=False).iloc[[0, 1, 2, 5]]
    data = pk.read_wide(clean, RECIPE, today=TODAY)
    back = pk.load_data(data.write(tmp_path / "clinic"), today=TODAY)
    assert back.observations.sort_values("date")["episode_id"].tolist() == ["R1", "R1", "R1", "R2"]
    assert back.clients["episode_id"].tolist() == ["R1", "R2", "R1"]


def test_recipe_errors_name_the_key():
    with pytest.raises(ValueError, match="episode_start and episode_end need episode"):
        pk.read_recipe({k: v for k, v in RECIPE.items() if k != "episode"})
    with pytest.raises(ValueError, match="the recipe's episode column 'Ref' is not in the table"):
        read({**RECIPE, "episode": "Ref"})


def test_without_episode_nothing_changes():
    recipe = {k: v for k, v in RECIPE.items() if not k.startswith("episode")}
    data = read(recipe)
    assert "episode_id" not in data.clients and "episode_id" not in data.observations


def test_an_export_with_no_score_gives_empty_tables():
    blank = pd.DataFrame({"Client Code": ["C1"], "Referral": ["R1"], "Referral Date": [""],
                          "Discharge Date": [""], "Date Completed": [""], "PHQ-9 Total": [""]})
    data = pk.read_wide(blank, RECIPE, today=TODAY)
    assert data.observations.empty and data.clients.empty and data.problems.empty
