"""load_sql / load_data(url) against SQLite and a real PostgreSQL server the suite starts itself.

The server is Debian's ``postgresql`` package (``.ci/run`` installs it when missing). It runs as
an unprivileged user (initdb refuses root) on a free loopback port, in a private temp folder, and
is stopped at the end of the session. In CI (CI=true) missing binaries fail the suite instead of
skipping it.
"""

import datetime as dt
import glob
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy

import progress_kit as pk
from progress_kit import DataValidationError
from progress_kit.ingest import load_sql

TODAY = dt.date(2026, 1, 1)
OBS = pd.DataFrame({"client_id": ["00123", "00123", "b7", "b7", "zz"],
                    "date": ["2024-01-08", "2024-01-15", "2024-01-09", "2024-01-16", "2024-01-10"],
                    "measure": ["PHQ-9", "PHQ-9", "GAD-7", "GAD-7", "PHQ-9"],
                    "score": [18.0, 12.0, 9.0, 31.0, 5.0]})
CLIENTS = pd.DataFrame({"client_id": ["00123", "b7"], "therapist_id": ["t1", "t2"],
                        "start_date": ["2024-01-08", "2024-01-09"], "status": ["active", "active"],
                        "problem": ["depression", "gad"], "session_frequency": ["weekly", "weekly"]})
SESSIONS = pd.DataFrame({"client_id": ["00123"], "date": ["2024-01-08"], "attended": [True],
                         "kind": ["assessment"]})
ITEMS = pd.DataFrame({"client_id": ["00123"] * 2, "date": ["2024-01-08"] * 2, "measure": ["PHQ-9"] * 2,
                      "item": [1, 9], "response": [2.0, 4.0]})


def fill(url, *, obs=OBS, clients=CLIENTS, items=ITEMS, dates_as_dates=False):
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as con:
        for name in ("observations", "clients", "sessions", "items", "phq"):
            con.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {name}"))
    frames = {"observations": obs, "clients": clients, "sessions": SESSIONS, "items": items}
    for name, frame in frames.items():
        if frame is None:
            continue
        if dates_as_dates:
            frame = frame.copy()
            for col in ("date", "start_date"):
                if col in frame:
                    frame[col] = pd.to_datetime(frame[col]).dt.date
        frame.to_sql(name, engine, index=False)
    engine.dispose()


def check_clinic(data):
    obs = data.observations
    assert obs["client_id"].tolist() == ["00123", "00123", "b7"]  # 00123 stays text
    assert obs["date"].dtype == "datetime64[ns]"
    problems = data.problems
    rows = problems[problems["file"].str.contains("observations")].sort_values("line").to_dict("records")
    # row 4: GAD-7 31 out of range; row 5: client zz not in clients
    assert [r["line"] for r in rows] == [4, 5]
    assert rows[0]["reason"] == "result row 4: score 31.0 out of range 0–21 for GAD-7"
    assert "result row 5: client_id 'zz' is not in the clients table" == rows[1]["reason"]
    assert all("table observations" in r["file"] for r in rows)
    assert data.sessions["attended"].tolist() == [True]
    # the items table: item 9 response 4 is outside 0-3
    assert data.items["item"].tolist() == [1]
    (item,) = problems[problems["file"].str.contains("items")].to_dict("records")
    assert item["line"] == 2
    assert item["reason"] == "result row 2: response 4.0 out of range 0–3 for PHQ-9 items"


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'clinic.db'}"


def test_sqlite_tables(sqlite_url):
    fill(sqlite_url)
    data = pk.load_data(sqlite_url, errors="report", today=TODAY)
    check_clinic(data)
    with pytest.raises(DataValidationError) as info:
        pk.load_data(sqlite_url, today=TODAY)
    assert "line 4: result row 4: score 31.0" in str(info.value)


def test_sqlite_items_are_validated(sqlite_url):
    fill(sqlite_url)
    data = load_sql(sqlite_url, errors="report", today=TODAY)
    assert data.items[["item", "response"]].values.tolist() == [[1, 2.0]]


def test_query_and_table_overrides(sqlite_url):
    fill(sqlite_url, items=None)
    data = load_sql(sqlite_url, query="SELECT * FROM observations WHERE measure = 'PHQ-9' "
                                      "AND client_id != 'zz'", today=TODAY)
    assert data.observations["score"].tolist() == [18.0, 12.0]
    engine = sqlalchemy.create_engine(sqlite_url)
    OBS.iloc[:2].to_sql("phq", engine, index=False)
    engine.dispose()
    data = load_sql(sqlite_url, tables={"observations": "phq"}, today=TODAY)
    assert len(data.observations) == 2
    # the same overrides through load_data(url), as the issue asks
    data = pk.load_data(sqlite_url, tables={"observations": "phq"}, today=TODAY)
    assert len(data.observations) == 2
    data = pk.load_data(sqlite_url, query="SELECT * FROM observations WHERE measure = 'PHQ-9' "
                                          "AND client_id != 'zz'", today=TODAY)
    assert data.observations["score"].tolist() == [18.0, 12.0]


def test_tables_and_query_need_a_url(tmp_path):
    with pytest.raises(ValueError, match="apply to a database URL, not to a data folder"):
        pk.load_data(tmp_path, tables={"observations": "phq"})


def test_stub_clients_when_the_database_has_none(sqlite_url):
    fill(sqlite_url, obs=OBS.iloc[:3], clients=None, items=None)
    data = load_sql(sqlite_url, today=TODAY)
    stub = data.clients.set_index("client_id")
    assert list(stub.index) == ["00123", "b7"]
    assert stub.loc["00123", "start_date"] == pd.Timestamp("2024-01-08")


def test_bad_urls_and_missing_tables(sqlite_url, tmp_path):
    with pytest.raises(ValueError, match="not a usable SQLAlchemy URL"):
        load_sql("nosuchdialect://x")
    sqlite3.connect(tmp_path / "empty.db").close()  # a database with no tables
    with pytest.raises(ValueError, match="no table 'observations'"):
        load_sql(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(ValueError, match="unknown table role"):
        load_sql(sqlite_url, tables={"scores": "x"})


def test_a_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"typo\.db does not exist; nothing was created"):
        pk.load_data("sqlite:///typo.db")
    assert not (tmp_path / "typo.db").exists()
    (tmp_path / "folder.db").mkdir()
    with pytest.raises(ValueError, match="is a folder, not a database file"):
        load_sql("sqlite:///folder.db")


def test_sqlite_is_opened_read_only(sqlite_url, tmp_path):
    fill(sqlite_url)
    path = tmp_path / "clinic.db"
    before = path.read_bytes()
    from progress_kit.ingest.sql import _engine

    engine, _ = _engine(sqlite_url)
    with engine.connect() as con, pytest.raises(sqlalchemy.exc.OperationalError, match="readonly"):
        con.execute(sqlalchemy.text("CREATE TABLE x (a INT)"))
    engine.dispose()
    assert len(load_sql(sqlite_url, errors="report", today=TODAY).observations) == 3
    assert path.read_bytes() == before


def test_password_never_shown(tmp_path):
    with pytest.raises(ValueError) as info:
        load_sql("postgresql+psycopg://me:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in str(info.value)


# ------------------------------------------------------------------ PostgreSQL


def _postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    bindir = _postgres_bin()
    if bindir is None or not (bindir / "initdb").exists():
        message = ("PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's "
                   "postgresql package (apt-get install -y postgresql; .ci/run does this)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    base = Path(tempfile.mkdtemp(prefix="pk-postgres-"))
    prefix = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(base, "nobody")
        prefix = ["runuser", "-u", "nobody", "--"]
    port = _free_port()
    data, log = base / "data", base / "server.log"

    def run(*args):
        return subprocess.run(prefix + [str(a) for a in args], check=True, capture_output=True,
                              text=True, timeout=120)

    try:
        run(bindir / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync")
        run(bindir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "start", "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off")
    except subprocess.CalledProcessError as exc:
        text = log.read_text() if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {exc.stderr}\n{text}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def test_postgres_tables(postgres_url):
    # real DATE columns and a REAL score column, as a clinic database would have them
    fill(postgres_url, dates_as_dates=True)
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.connect() as con:
        kinds = dict(con.execute(sqlalchemy.text(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'observations'")).all())
    engine.dispose()
    assert kinds["date"] == "date"
    check_clinic(pk.load_data(postgres_url, errors="report", today=TODAY))


def test_postgres_query(postgres_url):
    fill(postgres_url, dates_as_dates=True)
    data = load_sql(postgres_url, query={"observations": "SELECT client_id, date, measure, score "
                                                         "FROM observations WHERE score < 20 "
                                                         "ORDER BY date"},
                    errors="report", today=TODAY)
    assert data.observations["score"].tolist() == [18.0, 9.0, 12.0]
    assert "result row 3: client_id 'zz'" in "\n".join(data.problems["reason"])


def test_items_in_the_database_are_checked_against_totals(sqlite_url):
    # client 00123 on 2024-01-08: nine items summing 2+2+2+2+2+2+2+2+3 = 19, stated total 18;
    # on 2024-01-15 only items (sum 12): the total is derived, as load_data does for a folder
    items = pd.DataFrame({"client_id": ["00123"] * 18,
                          "date": ["2024-01-08"] * 9 + ["2024-01-22"] * 9,
                          "measure": ["PHQ-9"] * 18, "item": list(range(1, 10)) * 2,
                          "response": [2.0] * 8 + [3.0] + [1.0] * 6 + [2.0] * 3})
    engine = sqlalchemy.create_engine(sqlite_url)
    OBS.iloc[:2].to_sql("observations", engine, index=False)
    CLIENTS.to_sql("clients", engine, index=False)
    items.to_sql("items", engine, index=False)
    engine.dispose()
    data = load_sql(sqlite_url, errors="report", today=TODAY)
    obs = data.observations.set_index(data.observations["date"].dt.strftime("%m-%d"))
    assert "01-08" not in obs.index  # disagreeing total: rejected with its items
    assert obs.loc["01-22", "score"] == 12.0 and bool(obs.loc["01-22", "derived"])
    reasons = "\n".join(data.problems["reason"])
    assert ("result row 1: total 18 of PHQ-9 for client 00123 on 2024-01-08 disagrees with its "
            "items") in reasons


def test_a_booked_session_in_a_database_is_kept_apart(sqlite_url):
    # attended NULL is a booking (docs/data-format.md): like a folder's blank, it goes to
    # .booked and never counts as a held or missed session
    fill(sqlite_url, items=None)
    engine = sqlalchemy.create_engine(sqlite_url)
    booked = pd.DataFrame({"client_id": ["b7"], "date": ["2026-02-02"], "attended": [None],
                           "kind": ["treatment"]})
    pd.concat([SESSIONS, booked]).to_sql("sessions", engine, index=False, if_exists="replace")
    engine.dispose()
    data = load_sql(sqlite_url, errors="report", today=TODAY)
    assert data.sessions["attended"].dtype == bool and len(data.sessions) == 1
    assert list(data.booked["client_id"]) == ["b7"]
    assert list(pk.booked_sessions(data, on="2026-02-02")["client_id"]) == ["b7"]


# ------------------------------------------------------------------ episodes under another name

# client 00123 was referred twice (referral_no R1: 2024-01-08 to 2024-03-25; R2 from 2024-09-02);
# b7 once. Observation rows, by result row: 1-2 in R1, 3 in R2, 4 between the two referrals
# (2024-06-03), 5 says R2 but is dated inside R1, 6 is b7's (no referral number: by date)
EP_CLIENTS = pd.DataFrame({
    "client_id": ["00123", "00123", "b7"], "referral_no": ["R1", "R2", "R9"],
    "therapist_id": ["t1", "t1", "t2"], "start_date": ["2024-01-08", "2024-09-02", "2024-01-09"],
    "end_date": ["2024-03-25", None, None], "status": ["finished", "active", "active"],
    "problem": ["depression"] * 3, "session_frequency": ["weekly"] * 3})
EP_OBS = pd.DataFrame({
    "client_id": ["00123"] * 5 + ["b7"],
    "referral_no": ["R1", "R1", "R2", "R1", "R2", None],
    "date": ["2024-01-08", "2024-03-18", "2024-09-02", "2024-06-03", "2024-02-05", "2024-01-09"],
    "measure": ["PHQ-9"] * 6, "score": [18.0, 9.0, 16.0, 12.0, 11.0, 7.0]})


def fill_episodes(url, clients=EP_CLIENTS, obs=EP_OBS):
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as con:
        for name in ("observations", "clients", "sessions", "items", "phq"):
            con.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {name}"))
    clients, obs = clients.copy(), obs.copy()
    for frame, cols in ((clients, ("start_date", "end_date")), (obs, ("date",))):
        for col in cols:  # real DATE columns, NULL where blank
            frame[col] = pd.to_datetime(frame[col]).dt.date
    clients.to_sql("clients", engine, index=False)
    obs.to_sql("observations", engine, index=False)
    engine.dispose()


def check_episodes(data):
    obs = data.observations
    assert obs[["client_id", "episode_id", "score"]].values.tolist() == [
        ["00123", "R1", 18.0], ["00123", "R1", 9.0], ["00123", "R2", 16.0], ["b7", "R9", 7.0]]
    assert data.clients["episode_id"].tolist() == ["R1", "R2", "R9"]
    errs = data.problems.sort_values("line").to_dict("records")
    assert [(p["line"], p["column"]) for p in errs] == [(4, "date"), (5, "referral_no")]
    assert all("table observations" in p["file"] for p in errs)
    assert errs[0]["value"] == "2024-06-03"
    assert errs[0]["reason"].startswith("result row 4: date 2024-06-03 of client '00123' falls "
                                        "between episode 'R1' (2024-01-08 to 2024-03-25, table "
                                        "clients result row 1) and episode 'R2'")
    assert errs[1]["value"] == "R2"
    assert errs[1]["reason"].startswith("result row 5: referral_no 'R2' disagrees with the date "
                                        "2024-02-05, which falls in episode 'R1'")


def test_sqlite_episode_column_under_another_name(sqlite_url):
    fill_episodes(sqlite_url)
    check_episodes(load_sql(sqlite_url, episode="referral_no", errors="report", today=TODAY))
    with pytest.raises(DataValidationError, match="referral_no 'R2' disagrees"):
        pk.load_data(sqlite_url, episode="referral_no", today=TODAY)


def test_postgres_episode_column_under_another_name(postgres_url):
    fill_episodes(postgres_url)
    check_episodes(pk.load_data(postgres_url, episode="referral_no", errors="report", today=TODAY))


def test_postgres_overlapping_referrals_name_the_row_and_column(postgres_url):
    # R2 starts 2024-03-01, before R1 ends (2024-03-25): an error on clients result row 2; none
    # of 00123's rows is assigned, each listed
    clients = EP_CLIENTS.assign(start_date=["2024-01-08", "2024-03-01", "2024-01-09"])
    fill_episodes(postgres_url, clients=clients, obs=EP_OBS.iloc[[0, 5]])
    data = load_sql(postgres_url, episode="referral_no", errors="report", today=TODAY)
    clients_problems = data.problems[data.problems["file"].str.contains("table clients")]
    (overlap,) = clients_problems.to_dict("records")
    assert (overlap["line"], overlap["column"]) == (2, "start_date")
    assert "episode 'R2' of client '00123' starts on 2024-03-01, inside episode 'R1'" in overlap["reason"]
    assert data.observations["client_id"].tolist() == ["b7"]
    assert "has an episode rejected" in "\n".join(data.problems["reason"])


def test_episode_column_errors_are_clear(sqlite_url, tmp_path):
    fill_episodes(sqlite_url)
    with pytest.raises(ValueError, match="episode='ref': no column 'ref' in .*table clients"):
        load_sql(sqlite_url, episode="ref")
    with pytest.raises(ValueError, match="episode= applies to a database URL"):
        pk.load_data(tmp_path, episode="referral_no")


def test_import_sql_episode_from_the_command_line(sqlite_url, tmp_path, capsys):
    from progress_kit.cli import main

    fill_episodes(sqlite_url, obs=EP_OBS.iloc[[0, 1, 2, 5]])
    out = tmp_path / "clinic"
    assert main(["import", "sql", sqlite_url, "--episode", "referral_no", "--out", str(out)]) == 0
    back = pk.load_data(out, today=TODAY)
    assert back.clients["episode_id"].tolist() == ["R1", "R2", "R9"]
    assert back.observations.sort_values(["client_id", "date"])["episode_id"].tolist() == [
        "R1", "R1", "R2", "R9"]
    fill_episodes(sqlite_url)  # rows 4 and 5 are errors: written without them, exit 1, listed
    assert main(["import", "sql", sqlite_url, "--episode", "referral_no", "--out",
                 str(tmp_path / "c2")]) == 1
    assert "referral_no 'R2' disagrees" in capsys.readouterr().out
