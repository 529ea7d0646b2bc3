"""Fast tests of the report library: safe names, sections, privacy of the data cut, batch logic."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from progress_kit.reports import batch as batch_mod
from progress_kit.reports import sections as S
from progress_kit.reports.context import client_data, clients_active_in, load_clinic
from progress_kit.reports.render import RenderResult, _check_params, render_client
from progress_kit.reports.safe import parse_month, safe_name, safe_names

HOSTILE = ["../../x", 'a"; import os', "/etc/passwd", "..\\..\\win", "..", ".", "", "con",
           "a\x00b", "line\nbreak", "tab\there", "ü-umlaut", "x" * 300, "C:\\temp", "-rf"]


@pytest.mark.parametrize("cid", HOSTILE)
def test_safe_name_never_leaves_the_folder(tmp_path, cid):
    name = safe_name(cid)
    target = (tmp_path / f"{name}.html").resolve()
    assert target.parent == tmp_path.resolve()
    assert name and not name.startswith(".") and len(name) <= 80
    assert all(ch.isalnum() or ch in "._-" for ch in name)


def test_safe_names_do_not_collide():
    ids = ["a/b", "a_b", "a?b", "a b", "A_B", "00123", "123", "C001", "c001"] + HOSTILE
    names = safe_names(ids)
    assert len({n.lower() for n in names.values()}) == len(set(ids))
    assert names["00123"] == "00123" and names["123"] == "123"
    assert names["a_b"] != names["A_B"]  # same file on a case-insensitive disk: both get a hash


def test_parse_month():
    assert parse_month("2026-10")[1] == pd.Timestamp("2026-10-31")
    for bad in ["2026-13", "2026-1", "26-10", "2026-10-01", 202610, "last"]:
        with pytest.raises(ValueError, match="YYYY-MM"):
            parse_month(bad)


def test_one_copy_of_each_notebook_and_template():
    """The notebooks and the template live in the package only: no second copy to keep equal."""
    from progress_kit.reports.resources import KINDS, notebook_path, package_dir, template_dir

    root = package_dir().parent
    assert all(notebook_path(k).is_file() for k in KINDS)
    assert (template_dir() / "clinical" / "index.html.j2").is_file()
    if (root / "pyproject.toml").is_file():  # a source checkout
        assert not (root / "templates").exists()
        assert not list((root / "notebooks").rglob("*.ipynb")), "notebooks/ is for a user's own"


def test_parameters_must_be_json_native():
    assert _check_params({"client_id": "00123", "data_dir": None, "n": 3})
    with pytest.raises(ValueError, match="pass dates and paths as strings"):
        _check_params({"month": pd.Timestamp("2026-10-01")})
    with pytest.raises(ValueError, match="pass dates and paths as strings"):
        _check_params({"data_dir": Path("/tmp")})
    with pytest.raises(ValueError, match="must be text"):
        render_client(None, 123, "2026-10", "/tmp/never")


# ------------------------------------------------------------------ small hand-made clinic


def _clinic_folder(folder: Path) -> Path:
    """Clients: single PHQ-9, diary only, questionnaires only, leading zeros; two bad rows."""
    days = pd.date_range("2026-09-01", "2026-10-31")
    rng = np.random.default_rng(1)
    obs = [("single", "2026-10-05", "PHQ-9", 18), ("00123", "2026-10-06", "PHQ-9", 11)]
    for d in days:  # diary only
        obs += [("diary", d.strftime("%Y-%m-%d"), "mood", float(rng.integers(3, 8))),
                ("diary", d.strftime("%Y-%m-%d"), "sleep_quality", float(rng.integers(1, 6))),
                ("diary", d.strftime("%Y-%m-%d"), "homework", float(rng.integers(0, 6)))]
    for k, score in enumerate([20, 17, 15, 12, 9]):
        day = (pd.Timestamp("2026-09-07") + pd.Timedelta(weeks=k)).strftime("%Y-%m-%d")
        obs += [("quest", day, "PHQ-9", score), ("quest", day, "GAD-7", max(0, score - 6))]
    obs += [("single", "2026-10-07", "PHQ-9", 31), ("quest", "2026-10-08", "GAD-7", 99)]  # rejected
    pd.DataFrame(obs, columns=["client_id", "date", "measure", "score"]).to_csv(
        folder / "observations.csv", index=False)
    pd.DataFrame({"client_id": ["single", "diary", "quest", "00123"], "therapist_id": "T1",
                  "start_date": "2026-09-01", "end_date": "", "status": "active",
                  "problem": "depression", "session_frequency": "weekly"}).to_csv(
        folder / "clients.csv", index=False)
    pd.DataFrame({"client_id": ["single", "quest", "00123"], "date": "2026-10-05",
                  "attended": "true", "kind": "treatment"}).to_csv(folder / "sessions.csv",
                                                                   index=False)
    return folder


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = _clinic_folder(tmp_path_factory.mktemp("small"))
    return folder, load_clinic(folder)


def test_leading_zeros_stay_text(small):
    _, clinic = small
    assert "00123" in clinic.clients["client_id"].tolist()
    assert "00123" in clients_active_in(clinic, "2026-10")


def test_client_sees_only_own_rejected_rows(small):
    _, clinic = small
    rd = client_data(clinic, "single", "2026-10")
    assert set(rd.problems["client_id"]) == {"single"}
    quality = S.data_quality(rd)
    assert "31" in quality.table.to_string() and "99" not in quality.table.to_string()
    assert set(rd.observations["client_id"]) == {"single"}


@pytest.mark.parametrize("cid", ["single", "diary", "quest", "00123"])
def test_every_section_copes_with_sparse_clients(small, cid):
    from progress_kit.reports.steps import client_sections

    _, clinic = small
    rd = client_data(clinic, cid, "2026-10")
    report = client_sections(rd, clinic)
    flat = [report["header"], report["quality"], *report["questionnaires"], *report["tracking"],
            *report["diary"], *report["page1"]]
    assert all(s.status in ("ok", "insufficient", "unavailable") for s in flat)
    html = "".join(s.to_html() for s in flat)
    assert "nan" not in html.lower().replace("nano", "")
    if cid == "single":
        q = report["questionnaires"][0]
        assert q.status == "insufficient" and "at least two scores" in q.message
        assert all(s.status != "ok" for s in report["diary"])
    if cid == "quest":
        assert all(s.status != "ok" for s in report["diary"])
    if cid == "diary":
        assert [s.key for s in report["questionnaires"]] == ["no_questionnaires"]
        assert "No questionnaire scores yet." in report["note"].lines


def test_diary_sections_say_plainly_when_too_few_days(small):
    _, clinic = small
    rd = client_data(clinic, "diary", "2026-09")
    rd.diary = rd.diary[rd.diary["date"] <= "2026-09-05"]
    for fn in (S.homework_mood, S.sleep_mood_lag):
        sec = fn(rd)
        assert sec.status in ("insufficient", "unavailable")
        if sec.status == "insufficient":
            assert "Not enough diary days yet" in sec.message


def test_cohort_sections_suppress_small_cells(small):
    from progress_kit.reports.steps import cohort_sections

    _, clinic = small
    internal = cohort_sections(clinic, "2026-10")  # the default audience: exact counts
    assert internal["overview"].table["count"].tolist()[0] == 4
    report = cohort_sections(clinic, "2026-10", audience="publication")
    assert report["overview"].table["count"].tolist()[0] == "*"
    for sec in [report["overview"], *report["outcomes"], *report["service"]]:
        if sec.table is None:
            continue
        # every count cell is '*' or a multiple of 5 (NHS Digital rounding)
        cells = [str(v) for v in sec.table.to_numpy().ravel()]
        counts = [int(v) for v in cells if re.fullmatch(r"\d+", v)]
        assert all(v % 5 == 0 for v in counts), (sec.key, sec.table)


def test_batch_goes_on_after_a_failure_and_masks_numbers(small, tmp_path, monkeypatch):
    folder, _ = small

    def fake_client(data_dir, client_id, month, out_dir, *, stem, **kw):
        if client_id == "quest":
            raise ValueError("PHQ-9 score 17 broke something")
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        paths = [Path(out_dir) / f"{stem}.{ext}" for ext in ("ipynb", "html")]
        for path in paths:
            path.write_text("ok")
        return RenderResult(paths)

    def fake_cohort(data_dir, month, out_dir, **kw):
        paths = [Path(out_dir) / f"cohort.{ext}" for ext in ("ipynb", "html")]
        for path in paths:
            path.write_text("ok")
        return RenderResult(paths)

    monkeypatch.setattr(batch_mod, "render_client", fake_client)
    monkeypatch.setattr(batch_mod, "render_cohort", fake_cohort)
    # the fakes live in this process, so render in it (the fork server is tested in test_engine)
    res = batch_mod.run_batch(folder, "2026-10", tmp_path, formats=("html",), progress=False,
                              engine="kernel")
    m = res.manifest.set_index("client")
    assert res.failed == 1 and m.loc["quest", "status"] == "failed"
    assert "17" not in m.loc["quest", "error"] and "PHQ-9 score #" in m.loc["quest", "error"]
    assert (m.drop(index="quest")["status"] == "ok").all()
    assert m.loc["00123", "files"] == "clients/00123.ipynb;clients/00123.html"
    on_disk = pd.read_csv(tmp_path / "2026-10" / "manifest.csv", dtype=str)
    assert on_disk["client"].tolist()[:1] == ["00123"]
    assert not list((tmp_path / "2026-10").glob(".cache*")), "the data cache is removed"
    # a re-run skips what is up to date and retries the failure
    again = batch_mod.run_batch(folder, "2026-10", tmp_path, formats=("html",), progress=False,
                                engine="kernel")
    status = again.manifest.set_index("client")["status"]
    assert status.drop(index="quest").eq("up to date").all() and status["quest"] == "failed"
    forced = batch_mod.run_batch(folder, "2026-10", tmp_path, formats=("html",), progress=False,
                                 force=True, engine="kernel")
    assert forced.manifest.set_index("client")["status"].drop(index="quest").eq("ok").all()


def test_cli_has_report_and_batch():
    from progress_kit.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["report", "client", "d", "--client", "00123", "--month", "2026-10",
                              "--format", "html"])
    assert args.client == "00123" and args.format == ("html",)
    args = parser.parse_args(["batch", "d", "--month", "2026-10", "--jobs", "2", "--force"])
    assert args.jobs == 2 and args.force
    with pytest.raises(SystemExit):
        parser.parse_args(["batch", "d", "--month", "2026-13"])


def test_notebook_parameters_are_json_native():
    from progress_kit.reports.resources import notebook_path

    for kind in ("client", "cohort", "prep"):
        nb = json.loads(notebook_path(kind).read_text())
        cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(cells) == 1
        ns: dict = {}
        exec("".join(cells[0]["source"]), {}, ns)  # our own source, not data
        assert all(v is None or isinstance(v, str) for v in ns.values())


def test_cli_report_unknown_client_and_missing_folder(small, tmp_path, capsys):
    from progress_kit.cli import main

    folder, _ = small
    code = main(["report", "client", str(folder), "--client", "nobody", "--month", "2026-10",
                 "--out", str(tmp_path)])
    assert code == 1 and "'nobody' is not in" in capsys.readouterr().err
    code = main(["report", "prep", str(folder), "--client", "nobody", "--date", "2026-10-20",
                 "--out", str(tmp_path)])
    assert code == 1 and "report prep: client 'nobody' is not in" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "missing"), "--month", "2026-10"]) == 2
    assert not list(tmp_path.rglob("*.html"))


def test_p_values_never_print_as_zero():
    from progress_kit.reports.sections import _p_text

    assert _p_text(4.8e-172) == "p < 0.001"
    assert _p_text(0.0342) == "p = 0.034"
