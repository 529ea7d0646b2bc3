"""Safe file names for client IDs, spreadsheet-safe CSV cells, masked errors, strict months.

A client ID is data, never a path: :func:`safe_name` turns any ID into one file-name component
that cannot leave the output folder, and appends a short hash whenever it had to change the ID
so that two different IDs never share a file (see docs/security.md).
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
import unicodedata
from collections.abc import Iterable

import pandas as pd

__all__ = ["safe_name", "safe_names", "name_candidates", "parse_month", "csv_cell", "csv_uncell",
           "csv_safe", "mask_numbers", "MaskScores", "log_to_stderr", "stop_logging", "LOGGER"]

LOGGER = "progress_kit"
"""The kit's loggers are ``progress_kit`` and its children (``progress_kit.reports.engine``...)."""

_KEEP = re.compile(r"[^A-Za-z0-9._-]+")
_PLAIN = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,58}[A-Za-z0-9_-])?")  # no trailing dot (Windows)
_HASHED = re.compile(r"-[0-9a-f]{8,64}$")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
             *(f"lpt{i}" for i in range(10)), "cohort", "manifest"}
_MAX = 60


def _digest(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def _clean(text: str) -> str:
    cleaned = unicodedata.normalize("NFKC", text)
    return _KEEP.sub("_", cleaned).strip("._-")[:_MAX] or "client"


def _is_plain(text: str) -> bool:
    """An ID usable verbatim: safe characters only, and never mistakable for a hashed name."""
    return (bool(_PLAIN.fullmatch(text)) and not _HASHED.search(text)
            and text.lower() not in _RESERVED and text.lower().split(".")[0] not in _RESERVED)


def safe_name(client_id: str) -> str:
    """A file-name stem for ``client_id`` that stays inside its folder.

    An ID made of letters, digits, ``.``, ``_`` and ``-`` (not starting with ``.`` or ``-``, at
    most 60 characters, not a reserved device name) is kept as it is, unless it ends like a
    hashed name (``-`` and 8 hex digits). Any other ID is cleaned (path separators, spaces,
    control characters, quotes and non-ASCII become ``_``; leading dots go; at most 60
    characters) and gets ``-`` plus 8 hex digits of its SHA-256. So a kept ID and a hashed name
    never coincide. The batch and ``report client`` both take names through
    :func:`progress_kit.reports.files.claim_stems`, which also settles case-only differences
    and hash clashes within a folder.

    Examples
    --------
    >>> safe_name("C001"), safe_name("00123")
    ('C001', '00123')
    >>> safe_name("../../x")
    'x-9cdf6a50'
    >>> safe_name("a/b") != safe_name("a_b")
    True
    >>> safe_name("ab-" + safe_name("/ab")[-8:]) != safe_name("/ab")
    True
    """
    text = str(client_id)
    return text if _is_plain(text) else f"{_clean(text)}-{_digest(text)}"


def name_candidates(client_id: str) -> list[str]:
    """File-name stems for ``client_id``, best first: :func:`safe_name`, then longer hashes.

    Examples
    --------
    >>> first, second = name_candidates("C001")[:2]
    >>> first, second.startswith("C001-"), len(second)
    ('C001', True, 13)
    """
    text = str(client_id)
    first = safe_name(text)
    rest = [f"{_clean(text)}-{_digest(text, n)}" for n in (8, 16, 64)]
    return list(dict.fromkeys([first, *rest]))


def safe_names(client_ids) -> dict[str, str]:
    """:func:`safe_name` for many IDs, also unique when file names ignore case (macOS, Windows).

    For a quick look only: files are named by :func:`progress_kit.reports.files.claim_stems`,
    which also knows what is already in the folder.

    Examples
    --------
    >>> names = safe_names(["ab", "AB", "c"])
    >>> names["c"], names["ab"] != names["AB"], names["ab"].lower() != names["AB"].lower()
    ('c', True, True)
    """
    out, taken = {}, set()
    for cid in client_ids:
        for cand in name_candidates(cid):
            if cand.lower() not in taken:
                break
        out[cid] = cand
        taken.add(cand.lower())
    return out


# the guard lives in the foundations layer, so ingest (layer 1) writes problems.csv with it too
from ..errors import csv_cell, csv_uncell  # noqa: E402,F401


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and column name) passed through :func:`csv_cell`.

    Use it on every CSV the kit writes for people to open.

    Examples
    --------
    >>> csv_safe(pd.DataFrame({"client": ["+SUM(1,1)", "C1"], "n": [1, -2]}))["client"].tolist()
    ["'+SUM(1,1)", 'C1']
    """
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(csv_cell)
    out.columns = [csv_cell(c) for c in out.columns]
    return out


_PATHLIKE = re.compile(r"""(?:[A-Za-z]:)?[\\/][^\s'"`,;:()]*"""  # a path
                       r"|[\w.-]+\.(?:csv|xlsx|parquet|ipynb|html|pdf|toml|json|pkl)\b")  # a file name


def mask_numbers(message: str, keep: Iterable[str] = ()) -> str:
    """One short line of ``message`` with every number masked as ``#`` (logs hold no scores).

    What the reader needs to act stays: file paths and file names, ``line N``, measure names
    from the registry (``PHQ-9``) and the strings in ``keep`` (the client's ID, the folders).

    Examples
    --------
    >>> mask_numbers("PHQ-9 score 17 on line 12 of /data/2026/obs.csv for C001", keep=["C001"])
    'PHQ-9 score # on line 12 of /data/2026/obs.csv for C001'
    >>> mask_numbers("Is a directory: '/out/clients/C001.html'", keep=["C001", "/out"])
    "Is a directory: '/out/clients/C001.html'"
    """
    text = str(message).strip()
    first = re.sub("[\ue000-\uf8ff]", "?", text.splitlines()[0] if text else "")
    kept: list[str] = []

    def hold(match: re.Match) -> str:  # a private-use character holds the kept text's place
        kept.append(match.group(0))
        return chr(0xE000 + len(kept) - 1)

    tokens = sorted({str(k) for k in keep if k} | _measure_names(), key=len, reverse=True)
    if tokens:
        first = re.sub("|".join(re.escape(t) for t in tokens), hold, first)
    first = _PATHLIKE.sub(hold, first)
    first = re.sub(r"\bline \d+\b", hold, first)
    first = re.sub(r"\d+(\.\d+)?", "#", first)
    # a kept path may itself hold a kept token (the client's ID in ``clients/C001.html``): put
    # back every level, innermost last, so no placeholder reaches the reader
    for _ in range(len(kept) + 1):
        restored = re.sub("[\ue000-\uf8ff]", lambda m: kept[ord(m.group(0)) - 0xE000], first)
        if restored == first:
            break
        first = restored
    return first[:300]


def _measure_names() -> set[str]:
    try:
        from ..measures import measures

        return set(measures().index.astype(str))
    except Exception:  # noqa: BLE001 (masking must work whatever the registry does)
        return set()


def parse_month(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of a ``YYYY-MM`` month.

    Examples
    --------
    >>> parse_month("2026-02")
    (Timestamp('2026-02-01 00:00:00'), Timestamp('2026-02-28 00:00:00'))
    """
    if not isinstance(month, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise ValueError(f"month {month!r} is not a month in the form YYYY-MM")
    start = pd.Timestamp(f"{month}-01")
    return start, start + pd.offsets.MonthEnd(0)


class MaskScores(logging.Filter):
    """A logging filter that masks every number in a message (:func:`mask_numbers`): logs hold
    no scores, wherever a service routes them.

    A record logged with ``extra={"exact": True}`` passes unchanged (the command line's own
    summaries: counts, file names, usage errors); ``extra={"keep": [...]}`` keeps those strings
    (a client's ID, a folder) readable in a masked message. Python warnings captured into
    logging (``py.warnings``) are masked like any other message.

    Examples
    --------
    >>> record = logging.LogRecord("progress_kit", logging.WARNING, "", 0, "score %s", (17,), None)
    >>> MaskScores().filter(record), record.getMessage()
    (True, 'score #')
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "exact", False):
            record.msg = mask_numbers(record.getMessage(), getattr(record, "keep", ()))
            record.args = None
        return True


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (a test or a tool may swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def log_to_stderr(level: int = logging.INFO, warnings: bool = True) -> logging.Handler:
    """Send the kit's messages (from ``level`` up) and Python's warnings to stderr, masked.

    What the command line (and each render worker it starts) calls once: the message text alone,
    as the kit printed it before, through :class:`MaskScores`. Warnings (``warnings.warn``,
    numpy's ``RuntimeWarning``) go through logging too (``logging.captureWarnings``, logger
    ``py.warnings``); ``warnings=False`` (``--quiet``) silences them. A library user configures
    logging as they like instead; the kit itself only logs.
    """
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(MaskScores())
    handler._progress_kit = True
    logging.captureWarnings(True)
    levels = {LOGGER: level, "py.warnings": logging.WARNING if warnings else logging.CRITICAL + 1}
    for name, threshold in levels.items():
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "_progress_kit", False)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(threshold)
        logger.propagate = False
    return handler


def stop_logging() -> None:
    """Undo :func:`log_to_stderr` (the command line calls it when it returns)."""
    logging.captureWarnings(False)
    for name in (LOGGER, "py.warnings"):
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if getattr(h, "_progress_kit", False)]:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
