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


_CONSOLE = """
import atexit, sys
from pathlib import Path

class Teardown:  # says so when Python tears the interpreter down object by object
    def __del__(self):
        sys.stderr.write("torn down\\n")

kept = Teardown()
mark = Path(sys.argv.pop(1))
atexit.register(lambda: mark.write_text("exit handlers ran"))
from progress_kit.cli import console
console()
"""


@pytest.mark.slow
@pytest.mark.parametrize("command", ["report", "validate"])
def test_the_command_exits_without_tearing_a_warmed_heap_down(demo_dir, tmp_path, command):
    # a command that forked its report from itself skips the teardown (0.8 s), but its exit
    # handlers still run and its streams are flushed; any other command exits the usual way
    import subprocess
    import sys

    mark, out = tmp_path / "atexit.txt", tmp_path / "out"
    args = (["report", "client", str(demo_dir), "--client", "C002", "--month", "2026-10",
             "--format", "html", "--out", str(out)] if command == "report"
            else ["validate", str(demo_dir)])
    run = subprocess.run([sys.executable, "-c", _CONSOLE, str(mark), *args],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert mark.read_text() == "exit handlers ran"
    if command == "report":
        html = out / "2026-10" / "clients" / "C002.html"
        assert str(html) in run.stdout.splitlines() and html.is_file()
        assert "torn down" not in run.stderr
    else:
        assert "valid:" in run.stderr and "torn down" in run.stderr
