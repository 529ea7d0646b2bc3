"""progress-kit import fhir|redcap|wide|sql: a validated data folder, counts, exit codes."""

import json
import stat
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy

from progress_kit import load_data
from progress_kit.cli import main

DATA = Path(__file__).parent / "data"


def test_import_fhir_writes_a_valid_private_folder(tmp_path, capsys):
    out = tmp_path / "clinic"
    assert main(["import", "fhir", str(DATA / "fhir" / "us-core"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "1 observations, 9 item answers, 1 clients" in err
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "observations.csv").stat().st_mode) == 0o600
    data = load_data(out)  # the folder passes the kit's own validation
    assert data.observations["score"].tolist() == [12.0]
    assert len(pd.read_csv(out / "items.csv")) == 9


def test_import_fhir_with_problems_exits_1_and_lists_them(tmp_path, capsys):
    out = tmp_path / "clinic"
    assert main(["import", "fhir", str(DATA / "fhir" / "sdc"), str(DATA / "fhir" / "us-core"),
                 "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "stated total 13 disagrees with the item sum 10" in captured.out
    # the total's disagreement, and item 9 (a critical item, answered 1) named on its own line
    assert "2 problem(s)" in captured.err
    assert len(pd.read_csv(out / "problems.csv")) == 2


def test_import_refuses_a_folder_with_data(tmp_path, capsys):
    (tmp_path / "observations.csv").write_text("x\n")
    assert main(["import", "fhir", str(DATA / "fhir" / "us-core"), "--out", str(tmp_path)]) == 2
    assert "already holds observations.csv" in capsys.readouterr().err
    assert (tmp_path / "observations.csv").read_text() == "x\n"


def test_import_redcap_and_wide_with_shipped_recipes(tmp_path, capsys):
    code = main(["import", "redcap", str(DATA / "ingest" / "redcap_records.csv"), "--recipe",
                 "redcap_phq9_gad7", "--dictionary", str(DATA / "ingest" / "redcap_dictionary.csv"),
                 "--out", str(tmp_path / "r")])
    assert code == 1
    assert "line 8: PHQ-9: phq9_9 '5' is not one of the data dictionary's choices" in capsys.readouterr().out
    assert main(["import", "wide", str(DATA / "ingest" / "novopsych.csv"), "--recipe", "novopsych",
                 "--out", str(tmp_path / "w")]) == 0
    assert "DASS-21 Assessment not in the recipe: 1" in capsys.readouterr().err


def test_import_sql(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = sqlalchemy.create_engine(url)
    pd.DataFrame({"client_id": ["a"], "date": ["2024-01-08"], "measure": ["PHQ-9"],
                  "score": [18]}).to_sql("observations", engine, index=False)
    engine.dispose()
    assert main(["import", "sql", url, "--out", str(tmp_path / "out")]) == 0
    assert load_data(tmp_path / "out").observations["client_id"].tolist() == ["a"]
    assert main(["import", "sql", "nosuch://x", "--out", str(tmp_path / "o2")]) == 1
    assert "not a usable SQLAlchemy URL" in capsys.readouterr().err


def test_import_out_pointing_at_a_file_is_a_clear_error(tmp_path, capsys):
    target = tmp_path / "clinic.csv"
    target.write_text("keep me\n")
    assert main(["import", "fhir", str(DATA / "fhir" / "us-core"), "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("progress-kit import: --out ") and "is a file" in err
    assert "Traceback" not in err and target.read_text() == "keep me\n"


@pytest.mark.parametrize("line,expected", [
    ('items = "q1"', "instrument 1: items must be a list of column names (texts), not 'q1'"),
    ('total = "t"\nanswers = {a = "zero"}', "instrument 1: answers must be a table of answers to numbers"),
    ('total = 3', "instrument 1: total must be a text, not 3"),
])
def test_import_recipe_of_the_wrong_type_names_the_recipe(tmp_path, capsys, line, expected):
    recipe = tmp_path / "my-recipe.toml"
    recipe.write_text(f'client_id = "id"\n[[instrument]]\nmeasure = "GAD-7"\ndate = "d"\n{line}\n')
    code = main(["import", "wide", str(DATA / "ingest" / "novopsych.csv"), "--recipe", str(recipe),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert f"{recipe}: {expected}" in err


def test_import_problems_csv_is_spreadsheet_safe(tmp_path):
    from progress_kit.errors import csv_cell
    from progress_kit.reports import safe

    assert safe.csv_cell is csv_cell  # the manifest's guard and problems.csv's: one rule
    obs = {"resourceType": "Observation", "id": "=HYPERLINK(\"http://x\")", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
           "subject": {"reference": "Patient/=cmd|' /C calc'!A0"}, "effectiveDateTime": "2024-01-02",
           "valueInteger": 31}
    source = tmp_path / "=evil.json"
    source.write_text(json.dumps(obs))
    out = tmp_path / "out"
    assert main(["import", "fhir", str(source), "--out", str(out)]) == 1
    problems = pd.read_csv(out / "problems.csv", dtype=str, keep_default_na=False)
    cells = [c for row in problems.itertuples(index=False) for c in row]
    assert cells and not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    assert "'=evil.json" in problems["file"].tolist()


def test_import_output_stays_short_for_a_huge_id(tmp_path, capsys):
    big = "x" * 1_000_000
    obs = {"resourceType": "Observation", "id": big, "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
           "subject": {"reference": f"Patient/{big}"}, "effectiveDateTime": "2024-01-02",
           "valueInteger": 31}
    (tmp_path / "big.json").write_text(json.dumps(obs))
    assert main(["import", "fhir", str(tmp_path / "big.json"), "--out", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert len(captured.out) + len(captured.err) < 3000
    assert (tmp_path / "out" / "problems.csv").stat().st_size < 3000
