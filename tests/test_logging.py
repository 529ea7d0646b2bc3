"""Messages go through logging, masked; warnings are logged and --quiet silences them (issue 24,
item 16 and "Logging"). Render workers are separate processes, so these run a small script."""

import logging
import subprocess
import sys
import textwrap

import pytest

from progress_kit.reports.engine import fork_available
from progress_kit.reports.safe import MaskScores, log_to_stderr, stop_logging

SCRIPT = """
import logging, warnings
from progress_kit.reports.safe import log_to_stderr
from progress_kit.reports.engine import ForkServer
log_to_stderr(logging.INFO, warnings={warnings})
with ForkServer(1, prepare={prepare}):
    pass
"""


def _run(warnings: bool, prepare: str) -> str:
    code = textwrap.dedent(SCRIPT.format(warnings=warnings, prepare=prepare))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=True).stderr


@pytest.mark.skipif(not fork_available(), reason="the fork server needs Linux fork")
def test_quiet_silences_a_warning_raised_in_a_render_worker():
    """A RuntimeWarning raised while the zygotes compute the month's flags (flags.py's numpy
    calls) printed even with --quiet: the zygotes log as the batch's own process does."""
    warn = '(warnings.warn, ("flags.py: mean of empty slice for PHQ-9 17", RuntimeWarning))'
    assert "RuntimeWarning" not in _run(False, warn)
    loud = _run(True, warn)
    assert "RuntimeWarning" in loud and "PHQ-9 #" in loud and "17" not in loud


@pytest.mark.skipif(not fork_available(), reason="the fork server needs Linux fork")
def test_an_error_the_engine_used_to_drop_is_logged_masked():
    err = _run(False, '(int, ("score 17",))')
    assert "could not compute the month's shared results (ValueError:" in err
    assert "score #" in err and "17" not in err


def test_the_cli_keeps_its_own_lines_exact_and_masks_the_rest(capsys):
    log_to_stderr(logging.INFO)
    try:
        logger = logging.getLogger("progress_kit.test")
        logger.info("3 report(s) for 2026-10 in 12 s: 3 ok", extra={"exact": True})
        logger.warning("PHQ-9 score 17 for C001 in /data/2026/obs.csv", extra={"keep": ["C001"]})
        err = capsys.readouterr().err.splitlines()
        assert err == ["3 report(s) for 2026-10 in 12 s: 3 ok",
                       "PHQ-9 score # for C001 in /data/2026/obs.csv"]
    finally:
        stop_logging()
    assert not logging.getLogger("progress_kit").handlers


def test_the_mask_is_a_filter_a_service_can_attach_to_its_own_handler():
    record = logging.LogRecord("progress_kit.x", logging.ERROR, __file__, 1, "score %d on %s",
                               (27, "2026-10-05"), None)
    assert MaskScores().filter(record) and record.getMessage() == "score # on #-#-#"


def test_a_cache_that_cannot_be_removed_is_logged_not_ignored(tmp_path, monkeypatch, capsys):
    import os

    from progress_kit.reports.files import remove_tree

    cache = tmp_path / ".pk-tmp-cache-x"
    cache.mkdir()
    (cache / "clinic-0.pkl").write_bytes(b"every client's data")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "unlink", refuse)
    log_to_stderr(logging.INFO)
    try:
        remove_tree(cache)
    finally:
        stop_logging()
    err = capsys.readouterr().err
    assert "could not remove" in err and "clinic-0.pkl" in err and "delete it by hand" in err
