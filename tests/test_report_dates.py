"""Dates and month ranges of ``report`` and ``batch`` (issue 23, part 4): --date-format as for
``validate``, a month after the data refused unless --allow-empty, and the validation error
instead of "client is not in the folder" or "no dated rows" for day-first dates."""

from __future__ import annotations

import pandas as pd
import pytest

import progress_kit as pk
from progress_kit.cli import main


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """The same small demo clinic twice: ISO dates, and day-first dates (31/10/2026)."""
    root = tmp_path_factory.mktemp("dates")
    iso = pk.demo_data(n_clients=6, months=3, seed=3, end="2026-10-31").write(root / "iso")
    dmy = root / "dmy"
    dmy.mkdir()
    for name in ("observations", "clients", "sessions"):
        frame = pd.read_csv(iso / f"{name}.csv", dtype=str, keep_default_na=False)
        for col in ("date", "start_date", "end_date"):
            if col in frame:
                frame[col] = [pd.Timestamp(v).strftime("%d/%m/%Y") if v else "" for v in frame[col]]
        frame.to_csv(dmy / f"{name}.csv", index=False)
    return iso, dmy


def test_day_first_dates_without_the_format_give_the_validation_error(folders, tmp_path, capsys):
    _, dmy = folders
    code = main(["report", "client", str(dmy), "--client", "C001", "--month", "2026-10",
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "client 'C001' has no valid rows" in err
    assert "--date-format" in err and "is not in" not in err
    code = main(["batch", str(dmy), "--month", "2026-10", "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "the data folder holds no dated rows" in err
    assert "for their dates (day-first dates need --date-format %d/%m/%Y)" in err
    assert not list(tmp_path.rglob("*.html"))


def test_date_format_reads_the_day_first_folder(folders):
    from progress_kit.reports.cli import _load, data_end

    iso, dmy = folders
    assert data_end(_load(dmy, "%d/%m/%Y")) == data_end(_load(iso, None))
    assert len(_load(dmy, "%d/%m/%Y").observations) == len(_load(iso, None).observations)


def test_every_report_command_takes_the_date_format():
    from progress_kit.cli import build_parser

    parser = build_parser()
    for argv in (["report", "client", "D", "--client", "a", "--month", "2026-10"],
                 ["report", "cohort", "D", "--month", "2026-10"],
                 ["report", "prep", "D", "--client", "a", "--date", "2026-10-20"],
                 ["report", "share", "D", "--client", "a", "--date", "2026-10-20"],
                 ["batch", "D", "--month", "2026-10"]):
        assert parser.parse_args([*argv, "--date-format", "%d/%m/%Y"]).date_format == "%d/%m/%Y"


def test_a_month_after_the_data_is_refused_saying_where_they_end(folders, tmp_path, capsys):
    iso, _ = folders
    for kind in (["client", "--client", "C001"], ["cohort"]):
        code = main(["report", kind[0], str(iso), *kind[1:], "--month", "2027-02",
                     "--out", str(tmp_path)])
        err = capsys.readouterr().err
        assert code == 1 and "2027-02 is after the data: the data end on 2026-10-31" in err
        assert "--allow-empty" in err
    assert not list(tmp_path.rglob("*.html"))


@pytest.mark.slow
def test_allow_empty_and_date_format_render(folders, tmp_path, capsys):
    _, dmy = folders
    code = main(["report", "client", str(dmy), "--client", "C001", "--month", "2026-11",
                 "--allow-empty", "--date-format", "%d/%m/%Y", "--format", "html",
                 "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    page = (tmp_path / "2026-11" / "clients" / "C001.html").read_text()
    assert "Monthly progress report, 2026-11" in page
    code = main(["report", "share", str(dmy), "--client", "C001", "--date", "2026-10-20",
                 "--date-format", "%d/%m/%Y", "--format", "html", "--out", str(tmp_path)])
    assert code == 0 and (tmp_path / "share" / "C001-share-2026-10-20.html").exists()
