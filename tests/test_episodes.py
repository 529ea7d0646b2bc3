"""Episodes of care (issue 26): a client who comes back is a new referral.

The data layer gives every observation, item and session its episode from the dates; a row
between two episodes is an error on its own line; episodes of one client must not overlap.
"""

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from progress_kit.data import assign_episodes, load_data, problems_to_text, read_clients

TODAY = dt.date(2026, 11, 25)
CLIENT_HEADER = ("client_id,episode_id,therapist_id,start_date,end_date,status,problem,"
                 "session_frequency\n")


def _folder(tmp_path: Path, clients: str, observations: str, sessions: str = "",
            items: str | None = None) -> Path:
    (tmp_path / "clients.csv").write_text(CLIENT_HEADER + clients)
    (tmp_path / "observations.csv").write_text("client_id,date,measure,score\n" + observations)
    (tmp_path / "sessions.csv").write_text("client_id,date,attended,kind\n" + sessions)
    if items is not None:
        (tmp_path / "items.csv").write_text("client_id,date,measure,item,response\n" + items)
    return tmp_path


RETURNING = ("a,E1,t1,2025-01-06,2025-04-28,finished,depression,weekly\n"
             "a,E2,t1,2025-09-01,,active,depression,weekly\n"
             "b,,t2,2025-02-03,,active,gad,weekly\n")
OBS = ("a,2025-01-06,PHQ-9,20\n"      # line 2: E1 start
       "a,2025-04-28,PHQ-9,6\n"       # line 3: E1 end day, still E1
       "a,2025-09-01,PHQ-9,18\n"      # line 4: E2 start
       "a,2026-01-05,PHQ-9,9\n"       # line 5: open E2
       "b,2025-01-27,GAD-7,15\n"      # line 6: before b's only episode: as without episodes
       "b,2025-03-03,GAD-7,8\n")      # line 7


def test_rows_get_their_episode_from_the_dates(tmp_path):
    data = load_data(_folder(tmp_path, RETURNING, OBS, "a,2025-01-06,true,assessment\n"
                                                       "a,2025-09-08,true,treatment\n"),
                     today=TODAY)
    assert data.observations["episode_id"].tolist() == ["E1", "E1", "E2", "E2", "", ""]
    assert data.sessions["episode_id"].tolist() == ["E1", "E2"]
    assert data.clients["episode_id"].tolist() == ["E1", "E2", ""]
    assert len(data.problems) == 0


def test_row_between_episodes_is_an_error_on_its_line_and_not_kept(tmp_path):
    folder = _folder(tmp_path, RETURNING, OBS + "a,2025-06-02,PHQ-9,5\n",
                     "a,2025-07-01,false,follow_up\n")
    data = load_data(folder, errors="report", today=TODAY)
    assert len(data.observations) == 6 and len(data.sessions) == 0
    text = problems_to_text(data.problems, group=False).splitlines()
    assert text == [
        "observations.csv line 8: date 2025-06-02 of client 'a' falls between episode 'E1' "
        "(2025-01-06 to 2025-04-28, clients.csv line 2) and episode 'E2' (2025-09-01 to open, "
        "clients.csv line 3): it belongs to no episode",
        "sessions.csv line 2: date 2025-07-01 of client 'a' falls between episode 'E1' "
        "(2025-01-06 to 2025-04-28, clients.csv line 2) and episode 'E2' (2025-09-01 to open, "
        "clients.csv line 3): it belongs to no episode"]
    row = data.problems.iloc[0]
    assert (row["file"], row["line"], row["column"], row["value"]) == \
        ("observations.csv", 8, "date", "2025-06-02")
    with pytest.raises(ValueError, match="line 8: date 2025-06-02"):
        load_data(folder, today=TODAY)


def test_overlapping_episodes_name_both_lines(tmp_path):
    clients = ("a,E1,t1,2025-01-06,2025-04-28,finished,depression,weekly\n"
               "a,E2,t1,2025-04-28,,active,depression,weekly\n"     # starts on E1's last day
               "c,1,t1,2025-01-06,,active,depression,weekly\n"      # open, then another
               "c,2,t1,2025-06-02,2025-08-01,finished,depression,weekly\n"
               "d,x,t1,2025-01-06,2025-12-01,finished,depression,weekly\n"  # long one covers
               "d,y,t1,2025-02-03,2025-03-03,finished,depression,weekly\n"  # two short ones
               "d,z,t1,2025-04-07,2025-05-05,finished,depression,weekly\n")
    _, problems = read_clients(pd.read_csv(pd.io.common.StringIO(CLIENT_HEADER + clients),
                                           dtype=str, keep_default_na=False),
                               errors="report", today=TODAY)
    lines = problems_to_text(problems, group=False).splitlines()
    assert lines == [
        "clients (DataFrame) line 3: episode 'E2' of client 'a' starts on 2025-04-28, inside "
        "episode 'E1' (line 2, 2025-01-06 to 2025-04-28): episodes of one client must not overlap",
        "clients (DataFrame) line 5: episode '2' of client 'c' starts on 2025-06-02, inside "
        "episode '1' (line 4, 2025-01-06 to open): episodes of one client must not overlap",
        "clients (DataFrame) line 7: episode 'y' of client 'd' starts on 2025-02-03, inside "
        "episode 'x' (line 6, 2025-01-06 to 2025-12-01): episodes of one client must not overlap",
        "clients (DataFrame) line 8: episode 'z' of client 'd' starts on 2025-04-07, inside "
        "episode 'x' (line 6, 2025-01-06 to 2025-12-01): episodes of one client must not overlap"]


def test_duplicate_episode_and_blank_episode_of_a_returning_client(tmp_path):
    clients = ("a,E1,t1,2025-01-06,2025-02-03,finished,depression,weekly\n"
               "a,E1,t1,2025-06-02,,active,depression,weekly\n"
               "b,,t1,2025-01-06,2025-02-03,finished,depression,weekly\n"
               "b,B2,t1,2025-06-02,,active,depression,weekly\n")
    folder = _folder(tmp_path, clients, "a,2025-01-06,PHQ-9,20\n")
    data = load_data(folder, errors="report", today=TODAY)
    lines = problems_to_text(data.problems, group=False).splitlines()
    assert ("clients.csv line 3: client_id 'a' with episode_id 'E1' is listed again "
            "(first on line 2)") in lines
    assert ("clients.csv line 4: blank episode_id, but client 'b' has 2 rows in the clients "
            "table: each episode needs its own episode_id") in lines
    assert data.problems.loc[data.problems["line"] == 4, "column"].tolist() == ["episode_id"]


def test_an_episode_id_in_observations_must_agree_with_the_date(tmp_path):
    (tmp_path / "clients.csv").write_text(CLIENT_HEADER + RETURNING)
    (tmp_path / "observations.csv").write_text(
        "client_id,date,measure,score,episode_id\n"
        "a,2025-01-06,PHQ-9,20,E1\n"
        "a,2025-09-01,PHQ-9,18,E1\n")
    (tmp_path / "sessions.csv").write_text("client_id,date,attended,kind\n")
    data = load_data(tmp_path, errors="report", today=TODAY)
    assert problems_to_text(data.problems, group=False) == (
        "observations.csv line 3: episode_id 'E1' disagrees with the date 2025-09-01, which "
        "falls in episode 'E2' (2025-09-01 to open, clients.csv line 3)")
    assert data.observations["episode_id"].tolist() == ["E1"]


def test_totals_derived_from_items_get_their_episode(tmp_path):
    items = "".join(f"a,2025-09-08,PHQ-9,{k},2\n" for k in range(1, 10))
    data = load_data(_folder(tmp_path, RETURNING, OBS, items=items), today=TODAY)
    derived = data.observations[data.observations["derived"]]
    assert derived[["date", "score", "episode_id"]].values.tolist() == \
        [[pd.Timestamp("2025-09-08"), 18.0, "E2"]]
    assert data.items["episode_id"].unique().tolist() == ["E2"]


def test_without_the_column_nothing_changes(tmp_path):
    (tmp_path / "clients.csv").write_text(
        "client_id,therapist_id,start_date,end_date,status,problem,session_frequency\n"
        "a,t1,2025-01-06,2025-04-28,finished,depression,weekly\n")
    (tmp_path / "observations.csv").write_text("client_id,date,measure,score\n"
                                               "a,2025-06-02,PHQ-9,20\n")
    (tmp_path / "sessions.csv").write_text("client_id,date,attended,kind\n")
    data = load_data(tmp_path, today=TODAY)
    assert "episode_id" not in data.clients and "episode_id" not in data.observations
    assert len(data.observations) == 1


def _brute_force(table: pd.DataFrame, clients: pd.DataFrame) -> list:
    """The rule of assign_episodes, one row at a time (the reference for the vectorised one)."""
    out = []
    for cid, day in zip(table["client_id"], table["date"], strict=True):
        eps = clients[clients["client_id"] == cid].sort_values("start_date")
        if eps.empty:
            out.append(None)
            continue
        inside = eps[(eps["start_date"] <= day)
                     & (eps["end_date"].isna() | (day <= eps["end_date"]))]
        if len(inside):
            out.append(inside["episode_id"].iat[0])
        elif day < eps["start_date"].iat[0]:
            out.append(eps["episode_id"].iat[0])
        elif day > eps["end_date"].iat[-1]:
            out.append(eps["episode_id"].iat[-1])
        else:
            out.append(None)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_assignment_equals_the_row_by_row_rule(seed):
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(40):
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 60)))
        for e in range(int(rng.integers(1, 4))):
            length = int(rng.integers(0, 90))
            open_end = e == 2 or rng.random() < 0.1
            rows.append((f"c{c:02d}", f"e{e}", day, pd.NaT if open_end else
                         day + pd.Timedelta(days=length)))
            if open_end:
                break
            day = day + pd.Timedelta(days=length + int(rng.integers(1, 60)))
    clients = pd.DataFrame(rows, columns=["client_id", "episode_id", "start_date", "end_date"])
    clients = clients.sample(frac=1, random_state=seed)  # any order
    table = pd.DataFrame({
        "client_id": [f"c{c:02d}" for c in rng.integers(0, 42, 2000)],  # c40, c41 unknown
        "date": pd.Timestamp("2023-12-01") + pd.to_timedelta(rng.integers(0, 500, 2000), "D")})
    got = assign_episodes(table, clients).tolist()
    assert got == _brute_force(table, clients)
    assert any(g is None for g in got) and len(set(got)) > 3


# ---------------------------------------------------------------- statistics per episode
# A known-truth clinic: client a was treated twice (recovered, then came back and did not
# improve); b once (blank episode_id). Each figure below is worked out by hand from the scores.
STAT_CLIENTS = ("a,E1,t1,2025-01-06,2025-04-28,finished,depression,weekly\n"
                "a,E2,t1,2025-09-01,2025-12-15,finished,depression,weekly\n"
                "b,,t2,2025-02-03,2025-05-26,finished,depression,weekly\n")
A1 = ("a,2025-01-06,PHQ-9,20\na,2025-01-06,GAD-7,15\n"
      "a,2025-04-28,PHQ-9,6\na,2025-04-28,GAD-7,5\n")
A2 = ("a,2025-09-01,PHQ-9,18\na,2025-09-01,GAD-7,12\n"
      "a,2025-12-15,PHQ-9,16\na,2025-12-15,GAD-7,11\n")
B = ("b,2025-02-03,PHQ-9,12\nb,2025-02-03,GAD-7,9\n"
     "b,2025-05-26,PHQ-9,4\nb,2025-05-26,GAD-7,3\n")
S_A1 = "a,2025-01-13,true,treatment\na,2025-01-20,true,treatment\n"
S_A2 = "a,2025-09-08,true,treatment\na,2025-09-15,true,treatment\n"
S_B = "b,2025-02-10,true,treatment\nb,2025-02-17,true,treatment\n"


@pytest.fixture
def returning(tmp_path):
    folder = tmp_path / "both"
    folder.mkdir()
    return load_data(_folder(folder, STAT_CLIENTS, A1 + A2 + B, S_A1 + S_A2 + S_B), today=TODAY)


@pytest.fixture
def first_only(tmp_path):
    """The same clinic before client a came back, without an episode_id column."""
    folder = tmp_path / "first"
    folder.mkdir()
    (folder / "clients.csv").write_text(
        "client_id,therapist_id,start_date,end_date,status,problem,session_frequency\n"
        "a,t1,2025-01-06,2025-04-28,finished,depression,weekly\n"
        "b,t2,2025-02-03,2025-05-26,finished,depression,weekly\n")
    (folder / "observations.csv").write_text("client_id,date,measure,score\n" + A1 + B)
    (folder / "sessions.csv").write_text("client_id,date,attended,kind\n" + S_A1 + S_B)
    return load_data(folder, today=TODAY)


def test_reliable_change_per_episode(returning, first_only):
    import progress_kit as pk

    rc = pk.reliable_change(returning.observations, measure="PHQ-9")
    assert rc.index.names == ["client_id", "episode_id"]
    assert rc.index.tolist() == [("a", "E1"), ("a", "E2"), ("b", "")]
    # E1 20 -> 6 (14 points down, the PHQ-9 threshold is 6), E2 18 -> 16, b 12 -> 4
    assert rc["pre"].tolist() == [20, 18, 12] and rc["post"].tolist() == [6, 16, 4]
    assert rc["category"].tolist() == ["improved", "unchanged", "improved"]
    assert "per episode of care" in rc.attrs["method"]
    alone = pk.reliable_change(first_only.observations, measure="PHQ-9")
    pd.testing.assert_frame_equal(rc.loc[[("a", "E1"), ("b", "")]].reset_index(drop=True),
                                  alone.reset_index(drop=True))
    # glued together (the old model) the course would run 20 -> 16: unchanged
    glued = pk.reliable_change(returning.observations.drop(columns="episode_id"),
                               measure="PHQ-9")
    assert glued.loc["a", ["pre", "post"]].tolist() == [20, 16]


def test_clinical_significance_per_episode(returning, first_only):
    import progress_kit as pk

    cs = pk.clinical_significance(returning.observations, measure="PHQ-9")
    # E1: clinical at 20 (>= 10), 6 at the end and reliably improved: recovered
    assert cs["category"].tolist() == ["recovered", "unchanged", "recovered"]
    alone = pk.clinical_significance(first_only.observations, measure="PHQ-9")
    assert cs.loc[("a", "E1"), "category"] == alone.loc["a", "category"]
    assert "per episode of care" in cs.attrs["method"]


def test_talking_therapies_outcomes_and_service_count_referrals(returning, first_only):
    import progress_kit as pk

    out = pk.talking_therapies_outcomes(returning.observations, returning.sessions,
                                        clients=returning.clients, period="2025")
    assert out.index.tolist() == [("a", "E1"), ("a", "E2"), ("b", "")]
    # E1: PHQ-9 20 -> 6 and GAD-7 15 -> 5, both below caseness, both by their threshold
    # (6 and 4 points): reliable recovery. E2: 18 -> 16, 12 -> 11: a case still, no change.
    assert out["recovery"].tolist() == [True, False, True]
    assert out["reliable_improvement"].tolist() == [True, False, True]
    assert out["n_treatment_sessions"].tolist() == [2, 2, 2]
    assert out["end_date"].dt.strftime("%Y-%m-%d").tolist() == \
        ["2025-04-28", "2025-12-15", "2025-05-26"]
    alone = pk.talking_therapies_outcomes(first_only.observations, first_only.sessions,
                                          clients=first_only.clients, period="2025")
    pd.testing.assert_frame_equal(out.loc[[("a", "E1"), ("b", "")]].reset_index(drop=True),
                                  alone.reset_index(drop=True))
    rates = pk.service_rates(out, audience="internal").set_index("outcome")
    # three referrals ended in 2025, two of them client a's
    assert int(rates.loc["finished", "denominator"]) == 3
    assert int(rates.loc["recovery", "numerator"]) == 2
    assert "counts referrals" in rates.attrs["method"]
    people = pk.service_rates(pk.talking_therapies_outcomes(
        returning.observations.drop(columns="episode_id"), returning.sessions.drop(
            columns="episode_id"), clients=first_only.clients), audience="internal")
    assert "counts referrals" not in people.attrs["method"]


def test_other_tables_need_their_episodes_too(returning):
    import progress_kit as pk

    with pytest.raises(ValueError, match="sessions has no 'episode_id' column"):
        pk.talking_therapies_outcomes(returning.observations,
                                      returning.sessions.drop(columns="episode_id"),
                                      clients=returning.clients)


def test_dask_input_with_episodes_is_refused(returning):
    dd = pytest.importorskip("dask.dataframe")
    import progress_kit as pk

    with pytest.raises(ValueError, match="not supported for dask input"):
        pk.reliable_change(dd.from_pandas(returning.observations, npartitions=1),
                           measure="PHQ-9")


def test_client_flags_judge_the_current_episode(returning, tmp_path):
    import progress_kit as pk

    flags = pk.client_flags(returning.observations, sessions=returning.sessions,
                            clients=returning.clients)
    assert flags.index.tolist() == ["a", "b"]
    assert flags["episode_id"].tolist() == ["E2", ""]
    assert flags["episode_number"].tolist() == [2, 1]
    # E1 ran 20 -> 6 on PHQ-9 (clinical at the start, below 10 at the end, 14 >= 6 points)
    assert flags.loc["a", "reasons"].startswith(
        "second episode: the first ended 2025-04, recovered on PHQ-9 (20 to 6); ")
    assert not flags.loc["b", "reasons"].startswith("first episode")
    assert "current episode of care" in flags.attrs["method"]
    # the same verdicts as a data folder holding only the current episodes
    folder = tmp_path / "current"
    folder.mkdir()
    now = load_data(_folder(folder, STAT_CLIENTS.split("\n", 1)[1], A2 + B, S_A2 + S_B),
                    today=TODAY)
    alone = pk.client_flags(now.observations.drop(columns="episode_id"),
                            sessions=now.sessions.drop(columns="episode_id"),
                            clients=now.clients.drop(columns="episode_id"))
    same = flags.drop(columns=["episode_id", "episode_number"])
    same["reasons"] = same["reasons"].str.replace(r"^second episode: [^;]*; ", "", regex=True)
    pd.testing.assert_frame_equal(same, alone, check_like=False)
    # as it stood in June 2025, before a came back: a's first episode, no return reason
    june = pk.client_flags(returning.observations, clients=returning.clients, as_of="2025-06-30")
    assert june.loc["a", "episode_id"] == "E1" and june.loc["a", "episode_number"] == 1


def _weekly(client: str, episode: str, start: str, scores: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"client_id": client, "episode_id": episode,
                         "date": pd.date_range(start, periods=len(scores), freq="7D"),
                         "measure": "PHQ-9", "score": [float(s) for s in scores]})


def test_slopes_per_episode():
    import progress_kit as pk

    # exact lines: 2 points better a week in the first episode, 1 point worse in the second
    obs = pd.concat([_weekly("a", "E1", "2025-01-06", [20, 18, 16, 14, 12]),
                     _weekly("a", "E2", "2025-09-01", [10, 11, 12, 13])], ignore_index=True)
    s = pk.slopes(obs, measure="PHQ-9")
    assert s.index.tolist() == [("a", "E1"), ("a", "E2")]
    np.testing.assert_allclose(s["slope"], [-2.0, 1.0])
    np.testing.assert_allclose(s["change"], [-8.0, 3.0])
    assert s.attrs["method"] == "per episode of care: one result per (client_id, episode_id)"
    first = pk.slopes(obs[obs["episode_id"] == "E1"].drop(columns="episode_id"), measure="PHQ-9")
    pd.testing.assert_frame_equal(s.iloc[[0]].reset_index(drop=True),
                                  first.reset_index(drop=True))


def test_sudden_gains_never_span_two_episodes():
    import progress_kit as pk

    # E1: 22 -> 12 between sessions 3 and 4 is a sudden gain (10 >= 6 points, >= 25% of 22,
    # window means 23 and 11 with pooled SD 1: 12 > 2.776). Glued, the step from E1's last
    # score (10) to E2's first (20) would pass as a sudden loss (windows 11 and 19).
    obs = pd.concat([_weekly("a", "E1", "2025-01-06", [24, 23, 22, 12, 11, 10]),
                     _weekly("a", "E2", "2025-09-01", [20, 19, 18, 17])], ignore_index=True)
    sg = pk.sudden_gains(obs, measure="PHQ-9")
    assert sg[["client_id", "episode_id", "type", "session", "pre", "post"]].values.tolist() == \
        [["a", "E1", "gain", 3, 22.0, 12.0]]
    glued = pk.sudden_gains(obs.drop(columns="episode_id"), measure="PHQ-9")
    assert glued["type"].tolist() == ["gain", "loss"]
    assert "per episode of care" in sg.attrs["method"]


def test_expected_response_and_on_track_per_episode():
    import progress_kit as pk

    rng = np.random.default_rng(3)
    parts = []
    for c in range(30):
        for e, start in enumerate(["2024-01-01", "2025-01-06"]):
            intake = rng.uniform(12, 24)
            s = np.arange(8)
            y = np.round(np.clip(intake - 0.25 * intake * np.log1p(s)
                                 + np.where(s > 0, rng.normal(0, 2, 8), 0), 0, 27))
            parts.append(_weekly(f"c{c:02d}", f"E{e + 1}", start, list(y)))
    obs = pd.concat(parts, ignore_index=True)
    er = pk.expected_response(obs, measure="PHQ-9")
    # the same as if every episode were a client of its own
    apart = obs.assign(client_id=obs["client_id"] + "/" + obs["episode_id"]).drop(
        columns="episode_id")
    er_apart = pk.expected_response(apart, measure="PHQ-9")
    assert er.coef == er_apart.coef and er.n_clients == er_apart.n_clients == 60
    pd.testing.assert_frame_equal(er.bands, er_apart.bands)
    track = pk.on_track(obs[obs["client_id"] == "c00"], er, measure="PHQ-9")
    # sessions start again at the second episode's intake
    assert track["episode_id"].tolist() == ["E1"] * 8 + ["E2"] * 8
    assert track["session"].tolist() == list(range(8)) * 2
    assert track["signal"].iloc[8] == "insufficient data"


def test_evaluate_on_track_per_episode_needs_an_outside_band():
    import progress_kit as pk

    rng = np.random.default_rng(5)
    parts = []
    for c in range(40):
        for e, start in enumerate(["2024-01-01", "2025-01-06"]):
            intake = rng.uniform(12, 24)
            slope = 1.0 if rng.random() < 0.2 else -0.8
            y = np.round(np.clip(intake + slope * np.arange(8) + rng.normal(0, 2, 8), 0, 27))
            parts.append(_weekly(f"c{c:02d}", f"E{e + 1}", start, list(y)))
    obs = pd.concat(parts, ignore_index=True)
    with pytest.raises(ValueError, match="needs expected= fitted on other data"):
        pk.evaluate_on_track(obs, at_session=3)
    apart = obs.assign(client_id=obs["client_id"] + "/" + obs["episode_id"]).drop(
        columns="episode_id")
    er = pk.expected_response(apart, measure="PHQ-9")
    got = pk.evaluate_on_track(obs, at_session=3, expected=er)
    want = pk.evaluate_on_track(apart, at_session=3, expected=er)
    pd.testing.assert_frame_equal(got, want)
    assert int(got["n"].iloc[0]) == 80  # episodes, not the 40 people
    assert got.attrs["method"].endswith(
        "Each episode of care is a course of its own (n counts episodes).")


def test_episodes_survive_a_write_and_a_read(returning, tmp_path):
    again = load_data(returning.write(tmp_path / "copy"), today=TODAY)
    for table in ("observations", "sessions", "clients"):
        pd.testing.assert_frame_equal(getattr(again, table), getattr(returning, table))


def test_a_database_with_episodes_gets_them_too(tmp_path):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    import progress_kit as pk

    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    engine = sqlalchemy.create_engine(url)
    text = lambda body, header: pd.read_csv(  # noqa: E731
        pd.io.common.StringIO(header + body), dtype=str, keep_default_na=False)
    text(RETURNING, CLIENT_HEADER).to_sql("clients", engine, index=False)
    text(OBS + "a,2025-06-02,PHQ-9,5\n", "client_id,date,measure,score\n").to_sql(
        "observations", engine, index=False)
    text("a,2025-09-08,true,treatment\n", "client_id,date,attended,kind\n").to_sql(
        "sessions", engine, index=False)
    engine.dispose()
    data = pk.load_data(url, errors="report", today=TODAY)
    assert data.observations["episode_id"].tolist() == ["E1", "E1", "E2", "E2", "", ""]
    assert data.sessions["episode_id"].tolist() == ["E2"]
    (reason,) = data.problems["reason"]
    assert reason == ("result row 7: date 2025-06-02 of client 'a' falls between episode 'E1' "
                      "(2025-01-06 to 2025-04-28, table clients result row 1) and episode 'E2' "
                      "(2025-09-01 to open, table clients result row 2): it belongs to no "
                      "episode")


def test_booked_sessions_get_their_episode_too(tmp_path):
    data = load_data(_folder(tmp_path, RETURNING, OBS, "a,2025-09-08,true,treatment\n"
                                                       "a,2026-12-01,,treatment\n"), today=TODAY)
    assert data.sessions["episode_id"].tolist() == ["E2"]
    assert data.booked["episode_id"].tolist() == ["E2"]  # open E2 runs on: the booking is in it


def test_rows_of_a_client_with_a_rejected_episode_are_not_assigned(tmp_path):
    clients = ("a,E1,t1,2025-01-06,2025-04-28,finished,depression,weekly\n"
               "a,E2,t1,2025-04-01,,active,depression,weekly\n"     # overlaps E1: rejected
               "b,,t2,2025-02-03,,active,gad,weekly\n")
    data = load_data(_folder(tmp_path, clients, OBS), errors="report", today=TODAY)
    lines = problems_to_text(data.problems, group=False).splitlines()
    # without E2, a's later scores would pass for E1's follow-up: they are listed instead
    assert lines[1:] == [
        f"observations.csv line {n}: client 'a' has an episode rejected on clients.csv line 3: "
        "its rows cannot be given an episode until that is fixed" for n in (2, 3, 4, 5)]
    assert lines[0].startswith("clients.csv line 3: episode 'E2' of client 'a' starts on")
    assert data.observations["client_id"].tolist() == ["b", "b"]
    assert "rejected_episodes" not in data.clients.attrs


def test_client_flags_refuse_episodes_missing_from_clients(returning):
    import progress_kit as pk

    with pytest.raises(ValueError, match="1 row.* of episodes not in clients, e.g. client_id 'z'"):
        pk.client_flags(pd.concat([returning.observations, pd.DataFrame(
            {"client_id": ["z"], "episode_id": ["1"], "date": [pd.Timestamp("2025-03-03")],
             "measure": ["PHQ-9"], "score": [9.0]})], ignore_index=True),
            clients=returning.clients)


def _both_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "both"
    folder.mkdir()
    return _folder(folder, STAT_CLIENTS, A1 + A2 + B, S_A1 + S_A2 + S_B)


def test_a_returning_clients_report_is_about_the_current_episode(tmp_path):
    # the report once joined the two episodes into one course (20 to 16) under a status that
    # judged the second: now every section has the second episode's rows only
    from progress_kit.reports import steps as rn
    from progress_kit.reports.context import client_data, load_clinic

    clinic = load_clinic(_both_folder(tmp_path))
    rd = client_data(clinic, "a", "2025-12")
    assert rd.returning and rd.episodes["episode_id"].tolist() == ["E1", "E2"]
    assert rd.client["episode_id"] == "E2"
    assert rd.observations["date"].min() == pd.Timestamp("2025-09-01")
    assert rd.sessions["episode_id"].unique().tolist() == ["E2"]
    assert rd.history["episode_id"].unique().tolist() == ["E1", "E2"]
    report = rn.client_sections(rd, clinic)
    phq = next(q for q in report["questionnaires"] if q.key == "q-PHQ-9")
    assert (phq.facts["first"], phq.facts["latest"]) == (18, 16)
    assert phq.facts["category"] == "unchanged"  # 20 to 16 glued would also be 'unchanged'
    flags = report["status"].facts["flags"]
    assert flags.get("episode_id") == "E2"
    assert report["status"].lines[0].startswith("second episode: the first ended 2025-04")
    assert report["identity"].message.startswith("Second episode of care · Therapist t1 · "
                                                 "started 01 Sep 2025")
    track = report["tracking"][0].facts["track"]
    assert track["date"].iloc[0] == pd.Timestamp("2025-09-01") and track["session"].iloc[0] == 0
    # the long-term chart: both episodes, the first faint; only for a returning client
    history = report["questionnaires"][0]
    assert history.key == "episodes" and history.plot is not None
    assert history.facts == {"episodes": 2, "current": "E2"}
    assert "the first from 06 Jan 2025 to 28 Apr 2025 (finished, 2 scores)" in history.message
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    history.plot(ax)
    drawn = [ln for ln in ax.get_lines() if ln.get_label().startswith("_episode")]
    assert sorted(len(ln.get_xdata()) for ln in drawn) == [2, 2]
    assert any(line.startswith("Episodes of care: each referral is a course of its own")
               for line in report["methods"].lines)
    # b came once: no chart; and a's report for June 2025 is the first episode's, no chart
    assert rn.client_sections(client_data(clinic, "b", "2025-12"),
                              clinic)["questionnaires"][0].key != "episodes"
    june = client_data(clinic, "a", "2025-06")
    assert not june.returning and june.client["episode_id"] == "E1"
    assert june.observations["score"].tolist() == [20, 15, 6, 5]  # PHQ-9 and GAD-7 of E1


def test_prep_and_share_pages_of_a_returning_client_are_the_current_episode(tmp_path):
    from progress_kit.reports import steps as rn
    from progress_kit.reports.context import client_data_until, load_clinic

    clinic = load_clinic(_both_folder(tmp_path))
    rd = client_data_until(clinic, "a", "2025-12-16")
    assert rd.observations["date"].min() == pd.Timestamp("2025-09-01")
    prep = rn.prep_sections(rd, clinic)
    assert prep["status"].facts["flags"].get("episode_id") == "E2"
    share = rn.share_sections(rd, clinic)
    assert share["scores"] is not None
    # a sheet dated inside the first episode is about the first, even in a month (April) whose
    # end lies before the second began; and one dated in the gap is about the first, ended
    for day in ("2025-04-14", "2025-07-01"):
        assert client_data_until(clinic, "a", day).client["episode_id"] == "E1"


def test_cli_renders_a_returning_clients_report(tmp_path):
    from progress_kit.cli import main

    folder = _both_folder(tmp_path)
    assert main(["report", "client", str(folder), "--client", "a", "--month", "2025-12",
                 "--format", "html", "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "2025-12" / "clients" / "a.html").read_text()
    assert "Second episode of care" in html and "PHQ-9 across all episodes of care" in html


# ------------------------------------------- what a client's report calls, per episode of care
JUNE = "2025-06-30"  # a had finished the first episode and not yet come back


def test_pre_post_per_episode(returning, first_only):
    import progress_kit as pk

    pp = pk.pre_post(returning.observations, measure="PHQ-9")
    assert pp.index.tolist() == [("a", "E1"), ("a", "E2"), ("b", "")]
    assert pp.values.tolist() == [[20, 6], [18, 16], [12, 4]]
    assert "per episode of care" in pp.attrs["method"]
    alone = pk.pre_post(first_only.observations, measure="PHQ-9")
    np.testing.assert_array_equal(pp.loc[[("a", "E1"), ("b", "")]].to_numpy(), alone.to_numpy())


def test_client_course_is_the_current_episode(returning, first_only):
    import progress_kit as pk

    now = pk.client_course(returning.observations, "a", measure="PHQ-9",
                           sessions=returning.sessions, clients=returning.clients)
    # the second episode from its own intake: session 0 is 2025-09-01, 18; not 20 in January
    assert now["date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-09-01", "2025-12-15"]
    assert now["score"].tolist() == [18, 16] and now["session"].tolist() == [0, 2]
    assert now.attrs["episode_id"] == "E2" and "current one" in now.attrs["method"]
    # in June the first episode was the current one: the same as a folder holding only it
    june = pk.client_course(returning.observations, "a", measure="PHQ-9",
                            sessions=returning.sessions, clients=returning.clients, as_of=JUNE)
    alone = pk.client_course(first_only.observations, "a", measure="PHQ-9",
                             sessions=first_only.sessions, as_of=JUNE)
    pd.testing.assert_frame_equal(june, alone, check_like=False, check_exact=True)
    chosen = pk.client_course(returning.observations, "a", measure="PHQ-9",
                              sessions=returning.sessions, clients=returning.clients,
                              episode="E1")
    assert chosen["score"].tolist() == [20, 6] and chosen.attrs["episode_id"] == "E1"
    with pytest.raises(ValueError, match="has no episode 'E3'"):
        pk.client_course(returning.observations, "a", measure="PHQ-9", episode="E3")
    with pytest.raises(ValueError, match="no episode_id column"):
        pk.client_course(first_only.observations, "a", measure="PHQ-9", episode="E1")


def test_client_flags_by_measure_judge_the_current_episode(returning, first_only):
    import progress_kit as pk

    now = pk.client_flags_by_measure(returning.observations, sessions=returning.sessions,
                                     clients=returning.clients)
    assert now.loc[("a", "PHQ-9"), ["episode_id", "first_score", "latest_score"]].tolist() == \
        ["E2", 18, 16]
    assert "current episode of care" in now.attrs["method"]
    june = pk.client_flags_by_measure(returning.observations, sessions=returning.sessions,
                                      clients=returning.clients, as_of=JUNE)
    alone = pk.client_flags_by_measure(first_only.observations, sessions=first_only.sessions,
                                       as_of=JUNE)
    assert june["episode_id"].tolist() == ["E1", "E1", "", ""]
    pd.testing.assert_frame_equal(june.drop(columns="episode_id"), alone)


def test_trajectory_plot_data_draws_one_episode(returning, first_only):
    import progress_kit as pk

    now = pk.trajectory_plot_data(returning.observations, "a", "PHQ-9")
    # the band is the current episode's first score, 18, +- 6: not January's 20
    assert now["score"].tolist() == [18, 16] and now["band_low"].iat[0] == 12
    assert now.attrs["episode_id"] == "E2"
    first = pk.trajectory_plot_data(returning.observations, "a", "PHQ-9", episode="E1")
    pd.testing.assert_frame_equal(
        first, pk.trajectory_plot_data(first_only.observations, "a", "PHQ-9"))


def test_growth_model_each_episode_a_course():
    import progress_kit as pk

    rng = np.random.default_rng(11)
    parts = [_weekly(f"c{c}", f"E{e}", start, list(np.round(
        rng.uniform(14, 22) - rng.uniform(0, 2.5) * np.arange(6) + rng.normal(0, 1, 6))))
        for c in range(12) for e, start in ((1, "2024-01-01"), (2, "2025-03-03"))]
    obs = pd.concat(parts, ignore_index=True)
    model = pk.growth_model(obs, measure="PHQ-9")
    apart = obs.assign(client_id=obs["client_id"] + "/" + obs["episode_id"]).drop(
        columns="episode_id")
    want = pk.growth_model(apart, measure="PHQ-9")
    pd.testing.assert_frame_equal(model.fixed, want.fixed)
    assert model.random.index.names == ["client_id", "episode_id"]
    np.testing.assert_allclose(model.random.to_numpy(), want.random.to_numpy())
    assert "per episode of care" in model.random.attrs["method"]
    # glued, time would run from January 2024 across the fourteen-month gap (a fit so poor
    # that MixedLM warns of a variance on its boundary)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        glued = pk.growth_model(obs.drop(columns="episode_id"), measure="PHQ-9")
    assert abs(glued.fixed.loc["slope", "estimate"] - want.fixed.loc["slope", "estimate"]) > 0.1


def _diary(client: str, episode: str, start: str, moods: list[float]) -> pd.DataFrame:
    days = pd.date_range(start, periods=len(moods), freq="D")
    return pd.DataFrame({"client_id": client, "episode_id": episode, "date": days,
                         "measure": "mood", "score": moods}).dropna()


def test_daily_table_and_progress_score_per_episode():
    import progress_kit as pk

    moods = [3, 4, np.nan, 5, 5, 6, 6, 7, 7, 8]
    later = [2, 2, 3, 3, np.nan, 4, 4, 4]
    obs = pd.concat([_diary("a", "E1", "2025-01-06", moods),
                     _diary("a", "E2", "2025-09-01", later)], ignore_index=True)
    daily = pk.daily_table(obs)
    # no rows for the months between the episodes; the missing days inside them stay
    assert daily.groupby("episode_id").size().to_dict() == {"E1": 10, "E2": 8}
    assert daily["mood"].isna().sum() == 2
    assert "per episode of care" in daily.attrs["method"]
    first = pk.daily_table(obs[obs["episode_id"] == "E1"].drop(columns="episode_id"))
    pd.testing.assert_frame_equal(
        daily[daily["episode_id"] == "E1"].drop(columns="episode_id").reset_index(drop=True),
        first, check_dtype=False)
    score = pk.progress_score(daily, window="7D", min_days=3)
    assert "per episode of care" in score.attrs["method"]
    alone = pk.progress_score(first, window="7D", min_days=3)
    pd.testing.assert_frame_equal(
        score[score["episode_id"] == "E1"].drop(columns="episode_id").reset_index(drop=True),
        alone, check_dtype=False)
    # the second episode's first week starts again: no window reaches back to January
    e2 = score[score["episode_id"] == "E2"]
    assert e2["trend_days"].iloc[0] == 1


# --------------------------------------------------------- the cohort report counts referrals
@pytest.fixture(scope="module")
def demo_episodes():
    import progress_kit as pk

    return pk.demo_data(n_clients=60, months=6, seed=0, end="2026-10-31", episodes=True)


def test_cohort_report_counts_referrals(tmp_path):
    from progress_kit.reports import sections as S
    from progress_kit.reports.context import load_clinic

    clinic = load_clinic(_both_folder(tmp_path))
    c = S.Cohort(clinic, "2025-12")
    rates = c.rates()
    year = rates[(rates["kind"] == "year") & (rates["outcome"] == "finished")].iloc[0]
    # three referrals ended in the 12 months (a's two, b's one): not two people
    assert (year["x"], year["n"]) == (3, 3)
    recovery = rates[(rates["kind"] == "year") & (rates["outcome"] == "recovery")].iloc[0]
    assert (recovery["x"], recovery["n"]) == (2, 3)  # a's first and b's; a's second not
    sec = S.service_outcomes(c)
    assert "every count is of referrals" in sec.method
    assert "a client who came back counts once for each referral that ended" in sec.method
    overview = S.cohort_overview(c).table.set_index("")["count"]
    assert overview["referrals that ended this month"] == 1
    assert overview["referrals started this month (new or returning clients)"] == 0


def test_cohort_counts_each_referral_for_its_own_therapist(demo_episodes):
    from progress_kit.reports import sections as S

    c = S.Cohort(demo_episodes, "2026-10")
    firsts = demo_episodes.clients[demo_episodes.clients["episode_id"] == "1"]
    out = c.outcomes
    ended = [(cid, "1") for cid in firsts["client_id"] if (cid, "1") in out.index]
    assert ended  # earlier episodes that ended within the 12 months
    for cid, ep in ended:
        want = firsts.set_index("client_id").loc[cid, "therapist_id"]
        assert out.loc[(cid, ep), "_group"] == want
    # the review list names a returning client once, under the current episode's therapist
    review = S.clients_to_review(c).facts["clients"]
    assert review["client"].is_unique
    back = review[review["client"] == "C029"]
    assert back["therapist"].tolist() == ["T02"]  # episode 1 was T01's
    # the Jacobson table counts courses: 60 clients, 4 of them twice
    jac = S.jacobson(c)
    assert "referrals with at least two PHQ-9 scores" in jac.message
    # the backtest runs on one course per client (their current episode) instead of refusing
    backtest = S.on_track_backtest(c)
    assert backtest.status != "insufficient" and "current episode only" in backtest.method
    assert int(backtest.table.set_index("")["of"].iloc[-1]) <= 60


def test_published_cohort_reports_with_returning_clients_leave_every_count_open(demo_episodes):
    import importlib.util
    import sys

    name = "test_disclosure"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name(f"{name}.py"))
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    view = sys.modules[name]._cohort_view
    # the service's and every therapist's report, this month and last, read together
    pub, _ = view(demo_episodes, ["2026-09", "2026-10"])
    assert pub.pinned() == []


def test_a_report_before_the_first_episode_began_is_about_the_first(tmp_path):
    # b's first score (27 January) comes before the episode's start (3 February): it belongs
    # to that episode, and a January report shows it rather than nothing
    from progress_kit.reports.context import client_data, load_clinic

    folder = tmp_path / "early"
    folder.mkdir()
    clinic = load_clinic(_folder(folder, RETURNING, OBS))
    rd = client_data(clinic, "b", "2025-01")
    assert rd.client is not None and rd.client["episode_id"] == ""
    assert rd.observations["score"].tolist() == [15]


def test_the_cohort_knows_each_clients_current_episode_month_by_month(tmp_path):
    from progress_kit.reports import sections as S
    from progress_kit.reports.context import load_clinic

    clients = ("a,E1,t1,2025-03-03,2025-04-28,finished,depression,weekly\n"
               "a,E2,t2,2025-09-01,,active,depression,weekly\n"
               "b,,t3,2025-01-06,,active,depression,weekly\n")
    folder = tmp_path / "months"
    folder.mkdir()
    clinic = load_clinic(_folder(folder, clients, "b,2025-01-06,PHQ-9,10\n"))
    # before a's first episode: the first; between the two: the first, ended; then the second
    assert [S.Cohort(clinic, m).therapist_of["a"] for m in ("2025-01", "2025-06", "2025-10")] \
        == ["t1", "t1", "t2"]


def test_a_returning_clients_status_against_a_reference_folder_says_they_came_back(tmp_path):
    # with a separate reference folder the status is computed on the client's own rows: the
    # earlier episode still gives the first reason, and the current one is judged
    from progress_kit.reports import steps as rn
    from progress_kit.reports.context import client_data, load_clinic

    clinic = load_clinic(_both_folder(tmp_path))
    rd = client_data(clinic, "a", "2025-12")
    reference = load_clinic(_folder(tmp_path, STAT_CLIENTS.split("\n", 2)[2], B, S_B))
    report = rn.client_sections(rd, reference)
    flags = report["status"].facts["flags"]
    assert flags.get("episode_id") == "E2" and flags.get("first_score") == 18
    assert report["status"].lines[0].startswith("second episode: the first ended 2025-04, "
                                                "recovered on PHQ-9 (20 to 6)")


@pytest.mark.slow
def test_a_returning_clients_page_one_stays_one_page(tmp_path):
    # C029 of the episodes demo is an alert with five reasons, one of them the episode before:
    # with the usual chart height page 1's last line went onto a page of its own
    from pypdf import PdfReader

    from progress_kit.cli import main

    assert main(["demo-data", "--episodes", str(tmp_path / "demo")]) == 0
    assert main(["report", "client", str(tmp_path / "demo"), "--client", "C029", "--month", "2026-10",
                 "--format", "pdf", "--out", str(tmp_path / "out")]) == 0
    pages = PdfReader(tmp_path / "out" / "2026-10" / "clients" / "C029.pdf").pages
    assert "Second episode of care" in pages[0].extract_text()
    assert pages[1].extract_text().lstrip().startswith("Questionnaires and sessions")


def test_the_cohort_charts_say_what_they_count(demo_episodes):
    # where clients may come back, the funnel's denominators, the binned Jacobson plot's cells and
    # the slope histogram's bars count referrals, and their labels say so (they said "clients")
    from matplotlib.figure import Figure

    from progress_kit.reports import sections as S

    def texts(sec):
        ax = Figure().add_subplot()
        sec.plot(ax)
        return " ".join([ax.get_xlabel(), ax.get_ylabel(), ax.get_title(loc="right"),
                         *(t.get_text() for t in ax.texts)])

    internal = S.Cohort(demo_episodes, "2026-10")
    published = S.Cohort(demo_episodes, "2026-10", audience="publication")
    assert "referrals in the denominator" in texts(S.recovery_funnel(internal))
    slopes = texts(S.slope_distribution(internal))
    assert "share of referrals" in slopes and "clients" not in slopes
    assert "numbers: referrals per cell" in texts(S.jacobson(published))
