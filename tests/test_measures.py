"""The registry: every number sourced, user overrides, item scoring."""

import math

import pandas as pd
import pytest

import progress_kit as pk


@pytest.fixture(autouse=True)
def _fresh_registry():
    yield
    pk.reset_measures()


def test_registry_holds_the_published_ranges_cutoffs_and_thresholds():
    table = pk.measures()
    expected = {"PHQ-9": (0, 27, 10, 6), "GAD-7": (0, 21, 8, 4), "CORE-10": (0, 40, 11, 6),
                "ORS": (0, 40, 25, 5), "OQ-45": (0, 180, 64, 14)}
    for name, (lo, hi, cut, rc) in expected.items():
        row = table.loc[name]
        assert (row["min"], row["max"], row["cutoff"], row["reliable_change"]) == (lo, hi, cut, rc)
    assert table.loc["PCL-5", "cutoff"] == 33
    assert table.loc["ORS", "better"] == "higher"
    assert (table.loc["WSAS", "min"], table.loc["WSAS", "max"]) == (0, 40)


def test_every_number_has_a_source_and_gaps_are_explained():
    table = pk.measures()
    for field in ["cutoff", "reliable_change", "reliability"]:
        has = table[field].notna()
        assert table.loc[has, f"source_{field}"].notna().all(), field
    for name in table.index[table["cutoff"].isna() | table["reliable_change"].isna()]:
        if table.loc[name, "kind"] == "questionnaire":
            assert table.loc[name, "notes"], f"{name} lacks a note on its missing numbers"


def test_caseness_rules():
    assert pk.get_measure("PHQ-9").is_clinical([9, 10]).tolist() == [False, True]
    assert pk.get_measure("ORS").is_clinical([24.9, 25]).tolist() == [True, False]
    assert pk.get_measure("OQ-45").is_clinical([63, 64]).tolist() == [False, True]


def test_unknown_measure_suggests():
    with pytest.raises(ValueError, match="did you mean 'GAD-7'"):
        pk.get_measure("gad7")


def test_toml_override_and_extension(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('["PHQ-9"]\nreliable_change = 5\n["PHQ-9".sources]\n'
                    'reliable_change = "Our service audit 2025"\n'
                    '[K10]\nmin = 10\nmax = 50\nstep = 1\nbetter = "lower"\ncutoff = 20\n')
    table = pk.load_measures(path)
    assert table.loc["PHQ-9", "reliable_change"] == 5
    assert table.loc["PHQ-9", "source_reliable_change"] == "Our service audit 2025"
    assert table.loc["PHQ-9", "cutoff"] == 10
    assert table.loc["K10", "source_cutoff"] == "set in the service's mine.toml"  # no folder path
    pk.reset_measures()
    assert pk.get_measure("PHQ-9").reliable_change == 6


@pytest.mark.parametrize(("text", "message"), [
    ('[X]\nmin = 0\nmax = 10\nbetter = "down"\n', "better must be 'lower' or 'higher'"),
    ('[X]\nmin = 0\nmax = 10\nbetter = "lower"\ncutoff = 11\n', "cutoff 11 lies outside"),
    ('[X]\nmax = 10\n', "needs field"),
    ('[X]\nmin = 0\nmax = 10\nbetter = "lower"\ncutof = 5\n', "unknown field"),
    ('[X\n', "not valid TOML"),
])
def test_bad_toml_is_refused(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        pk.load_measures(path)
    assert "X" not in pk.measures().index


def test_score_items_missing_rule():
    items = pd.DataFrame({f"gad{i}": [1, 1, 1] for i in range(1, 8)})
    items.loc[1, "gad3"] = None
    items.loc[2, ["gad3", "gad4"]] = None
    out = pk.score_items(items, "GAD-7")
    assert out["score"].iloc[0] == 7
    # 6 answered items of mean 1 prorate to 7
    assert out["score"].iloc[1] == 7 and out["prorated"].iloc[1]
    assert math.isnan(out["score"].iloc[2])
    assert "2 of 7 items missing" in out["reason"].iloc[2]


def test_score_items_refuses_out_of_range_items():
    items = pd.DataFrame({f"q{i}": [4] for i in range(1, 10)})
    with pytest.raises(ValueError, match="items must be numbers from 0 to 3"):
        pk.score_items(items, "PHQ-9")


def test_severity_bands_follow_the_published_cut_points():
    # Kroenke et al. 2001: 5, 10, 15, 20; Spitzer et al. 2006: 5, 10, 15
    assert pk.severity_band([0, 4, 5, 9, 10, 14, 15, 19, 20, 27], "PHQ-9").tolist() == [
        "minimal", "minimal", "mild", "mild", "moderate", "moderate", "moderately severe",
        "moderately severe", "severe", "severe"]
    assert pk.severity_band([4, 5, 10, 15, 21], "GAD-7").tolist() == [
        "minimal", "mild", "moderate", "severe", "severe"]
    assert pk.severity_band([5, 6, 11, 25], "CORE-10").tolist() == [
        "healthy", "low level", "mild", "severe"]
    assert pk.severity_band([30.0, None], "ORS").tolist() == [None, None]
    table = pk.measures()
    has = table["severity_bands"] != ""
    assert set(table.index[has]) == {"PHQ-9", "GAD-7", "CORE-10", "WSAS"}
    assert table.loc[has, "source_severity_bands"].notna().all()


def test_critical_items_are_published_risk_items():
    assert [i for i, _ in pk.get_measure("PHQ-9").critical_items] == [9]
    assert [i for i, _ in pk.get_measure("CORE-10").critical_items] == [6]
    table = pk.measures()
    has = table["critical_items"] != ""
    assert table.loc[has, "source_critical_items"].notna().all()


def test_bands_and_critical_items_are_toml_extensible(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[K10]\nmin = 10\nmax = 50\nstep = 1\nbetter = "lower"\nitems = 10\n'
                    'item_min = 1\nitem_max = 5\n'
                    'severity_bands = [{low = 10, high = 15, label = "low"}, '
                    '{low = 16, high = 50, label = "not low"}]\n'
                    'critical_items = [{item = 10, description = "worthless"}]\n'
                    '[K10.sources]\nseverity_bands = "our audit"\n')
    pk.load_measures(path)
    assert pk.severity_band([12, 30], "K10").tolist() == ["low", "not low"]
    assert pk.get_measure("K10").critical_items == ((10, "worthless"),)
    assert pk.measures().loc["K10", "source_critical_items"] == f"set in the service's {path.name}"


@pytest.mark.parametrize(("text", "message"), [
    ('["PHQ-9"]\nclinical_at_cutoff = "no"\n', "field 'clinical_at_cutoff' must be boolean, not str 'no'"),
    ('["GAD-7"]\nproblems = "depression"\n', "field 'problems' must be list of text, not str"),
    ('["PHQ-9"]\ncutoff = "10"\n', "field 'cutoff' must be number, not str"),
    ('["PHQ-9"]\ncutoff = true\n', "field 'cutoff' must be number, not bool"),
    ('["PHQ-9"]\nitems = 9.5\n', "field 'items' must be integer"),
    ('["PHQ-9"]\nlabel = 3\n', "field 'label' must be text"),
    ('["PHQ-9"]\nproblems = [1, 2]\n', "field 'problems' must be list of text"),
    ('["PHQ-9"]\nsources = "Kroenke"\n', "field 'sources' must be table of text"),
    ('["PHQ-9".sources]\ncutoff = 10\n', "field 'sources' must be table of text"),
    ('["PHQ-9"]\nmin = nan\n', "field 'min' must be number"),
    ('["PHQ-9"]\nmin = {a = 1}\n', "field 'min' must be number, not dict"),
    ('X = 5\n', "'X' must be a table of fields"),
    ('["PHQ-9"]\nseverity_bands = [[0, 4, "minimal"]]\n', "field 'severity_bands' must be list of"),
    ('["PHQ-9"]\nseverity_bands = [{low = 0, high = 40, label = "all"}]\n', "must lie within 0-27"),
    ('["PHQ-9"]\nseverity_bands = [{low = 5, high = 9, label = "b"}, {low = 0, high = 4, label = "a"}]\n',
     "overlap or are out of order"),
    ('["PHQ-9"]\ncritical_items = [{item = 10, description = "x"}]\n', "critical item 10 is not one"),
    ('["PHQ-9"]\ncritical_items = [9]\n', "field 'critical_items' must be list of"),
    ('["PHQ-9"]\nkind = "survey"\n', "kind must be 'questionnaire' or 'diary'"),
])
def test_toml_field_types_are_checked(tmp_path, text, message):
    # issue 14 item 12: a wrong type is a ValueError naming the file and the field, never a
    # silent coercion ("no" counted as true) or a TypeError/AttributeError/RecursionError
    path = tmp_path / "types.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        pk.load_measures(path)
    assert str(path) in str(err.value)
    assert pk.get_measure("PHQ-9").clinical_at_cutoff is True
    assert pk.get_measure("GAD-7").problems == ("gad", "generalised_anxiety", "mixed_anxiety_depression")


# ------------------------------------------------------------------ a service's own measures file

K10 = '[K10]\nlabel = "Kessler 10"\nmin = 10\nmax = 50\nstep = 1\nbetter = "lower"\ncutoff = 20\n'


def _k10_clinic(folder, cutoff=20):
    """A data folder whose observations use K10, known only through its measures.toml."""
    from .test_batch import _clinic

    _clinic(folder, ["C1"])
    obs = pd.read_csv(folder / "observations.csv")
    extra = obs.assign(measure="K10", score=30)
    pd.concat([obs, extra]).to_csv(folder / "observations.csv", index=False)
    (folder / "measures.toml").write_text(K10.replace("cutoff = 20", f"cutoff = {cutoff}"))
    return folder


def test_the_data_folders_measures_file_is_read_and_override_wins(tmp_path, monkeypatch):
    from progress_kit.reports.context import load_clinic

    monkeypatch.delenv(pk.MEASURES_ENV, raising=False)
    data = _k10_clinic(tmp_path / "data")
    clinic = load_clinic(data)
    assert set(clinic.observations["measure"]) == {"PHQ-9", "K10"} and clinic.problems.empty
    other = tmp_path / "other.toml"
    other.write_text(K10.replace("cutoff = 20", "cutoff = 25"))
    assert pk.use_measures(data, other) == other.resolve()
    assert pk.get_measure("K10").cutoff == 25
    monkeypatch.setenv(pk.MEASURES_ENV, str(other))  # what --measures sets for child processes
    assert pk.measures_file(data) == other.resolve()
    bad = tmp_path / "bad.toml"
    bad.write_text("[K10]\nmin = 'ten'\n")
    with pytest.raises(ValueError, match="bad.toml"):
        pk.use_measures(data, bad)
    assert pk.get_measure("K10").cutoff == 25, "a bad file leaves the registry as it was"
    with pytest.raises(FileNotFoundError, match="no such measures file"):
        pk.measures_file(data, tmp_path / "missing.toml")


def test_the_batch_cache_carries_the_registry_to_other_processes(tmp_path, monkeypatch):
    """Kernels, zygotes and Dask workers all read the batch's cache: it brings the registry."""
    import subprocess
    import sys

    from progress_kit.reports.context import load_clinic, write_cache

    monkeypatch.delenv(pk.MEASURES_ENV, raising=False)
    data = _k10_clinic(tmp_path / "data")
    (tmp_path / "cache").mkdir(mode=0o700)
    cache = write_cache(load_clinic(data), tmp_path / "cache" / "clinic.pkl")
    code = ("import progress_kit as pk; from progress_kit.reports.context import load_clinic;"
            f"c = load_clinic(None, {str(cache)!r}); print(pk.get_measure('K10').cutoff,"
            " sorted(set(c.observations['measure'])))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["20", "['K10',", "'PHQ-9']"]


def test_the_batch_re_renders_after_the_measures_file_changes(tmp_path, monkeypatch):
    from progress_kit.reports import batch as batch_mod

    from .test_batch import _batch, _fake_render

    monkeypatch.delenv(pk.MEASURES_ENV, raising=False)
    calls: list = []
    client, cohort = _fake_render(calls)
    monkeypatch.setattr(batch_mod, "render_client", client)
    monkeypatch.setattr(batch_mod, "render_cohort", cohort)
    data = _k10_clinic(tmp_path / "data")
    first = _batch(data, tmp_path / "out")
    assert first.failed == 0 and len(calls) == 1
    assert "K10" not in pk.measures().index, "the caller's registry is restored afterwards"
    assert set(_batch(data, tmp_path / "out").manifest["status"]) == {"up to date"}
    _k10_clinic(data, cutoff=22)  # the service edits its measures file
    assert set(_batch(data, tmp_path / "out").manifest["status"]) == {"ok"}
    (data / "benchmarks.toml").write_text("# benchmark lines the cohort report draws\n")
    again = _batch(data, tmp_path / "out").manifest.set_index("kind")["status"]
    assert set(again) == {"ok"}, "benchmarks.toml is part of the up-to-date check (item 8)"


@pytest.mark.slow
def test_a_batch_renders_a_custom_measure_in_every_report_process(tmp_path, monkeypatch):
    from progress_kit.reports.batch import run_batch

    monkeypatch.delenv(pk.MEASURES_ENV, raising=False)
    data = tmp_path / "data"
    pk.demo_data(n_clients=4, months=2, seed=1, end="2026-10-31").write(data)
    obs = pd.read_csv(data / "observations.csv", dtype=str)
    k10 = obs[(obs["client_id"] == "C001") & (obs["measure"] == "PHQ-9")].assign(measure="K10",
                                                                                 score="30")
    pd.concat([obs, k10]).to_csv(data / "observations.csv", index=False)
    (data / "measures.toml").write_text(K10)
    res = run_batch(data, "2026-10", tmp_path / "out", formats=("html",), progress=False,
                    engine="fork", clients=["C001"])
    assert res.failed == 0, res.manifest[["client", "error"]].to_string()
    page = (res.folder / "clients" / "C001.html").read_text()
    # the label and cut-off come only from the service's file, through the zygote's cache
    assert "K10: Kessler 10" in page and "clinical if K10 &gt;= 20" in page
    assert "unknown measure" not in page


def test_every_command_reads_the_measures_file_and_takes_measures(tmp_path, capsys, monkeypatch):
    from progress_kit.cli import build_parser, main

    monkeypatch.delenv(pk.MEASURES_ENV, raising=False)
    data = _k10_clinic(tmp_path / "data")
    assert main(["validate", str(data)]) == 0  # K10 is known through data/measures.toml
    (data / "measures.toml").rename(tmp_path / "k10.toml")
    assert main(["validate", str(data)]) == 1
    assert "K10" in capsys.readouterr().out
    assert main(["validate", str(data), "--measures", str(tmp_path / "k10.toml")]) == 0
    assert "K10" not in pk.measures().index and pk.MEASURES_ENV not in __import__("os").environ
    parser = build_parser()
    for argv in (["batch", "d", "--month", "2026-10"], ["report", "client", "d", "--month", "2026-10",
                 "--client", "C1"], ["report", "cohort", "d", "--month", "2026-10"],
                 ["import", "fhir", "x.json", "--out", "d"]):
        assert parser.parse_args([*argv, "--measures", "m.toml"]).measures == "m.toml"
