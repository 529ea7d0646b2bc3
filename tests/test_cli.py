"""CLI exit codes and output."""

from pathlib import Path

import pytest

from progress_kit.cli import main

DATA = Path(__file__).parent / "data"



def test_validate_valid_folder(demo_dir, capsys):
    assert main(["validate", str(demo_dir)]) == 0
    assert "valid:" in capsys.readouterr().err


def test_validate_bad_file_prints_problems_with_lines(capsys):
    code = main(["validate", str(DATA / "bad" / "obs_out_of_range.csv"), "--table", "observations"])
    out = capsys.readouterr().out
    assert code == 1
    assert "obs_out_of_range.csv line 7: score 31 out of range 0–27 for PHQ-9" in out.splitlines()


def test_validate_folder_with_unknown_clients(capsys):
    assert main(["validate", str(DATA / "bad" / "unknown_client")]) == 1
    assert "line 3" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2
    assert main(["validate", "/no/such/place"]) == 2
    assert main(["validate", str(DATA / "good_bom_crlf.csv")]) == 2


def test_demo_data_command(tmp_path, capsys):
    assert main(["demo-data", str(tmp_path / "d"), "--clients", "5", "--months", "2",
                 "--end", "2025-06-30"]) == 0
    assert (tmp_path / "d" / "observations.csv").exists()
    assert main(["validate", str(tmp_path / "d")]) == 0
