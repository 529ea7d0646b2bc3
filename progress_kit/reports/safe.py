"""Safe file names for client IDs, and strict month parsing.

A client ID is data, never a path: :func:`safe_name` turns any ID into one file-name component
that cannot leave the output folder, and appends a short hash whenever it had to change the ID
so that two different IDs never share a file.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import pandas as pd

__all__ = ["safe_name", "safe_names", "parse_month"]

_KEEP = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
             *(f"lpt{i}" for i in range(10)), "cohort", "manifest"}
_MAX = 60


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def safe_name(client_id: str) -> str:
    """A file-name stem for ``client_id`` that stays inside its folder.

    Letters, digits, ``.``, ``_`` and ``-`` are kept; anything else (path separators, spaces,
    control characters, quotes, non-ASCII) becomes ``_``, leading dots are removed, and the
    result is at most 60 characters. When that changed the ID at all, ``-`` and 8 hex digits of
    the ID's SHA-256 are appended, so different IDs never collide.

    Examples
    --------
    >>> safe_name("C001"), safe_name("00123")
    ('C001', '00123')
    >>> safe_name("../../x")
    'x-9cdf6a50'
    >>> safe_name("a/b") != safe_name("a_b")
    True
    """
    text = str(client_id)
    cleaned = unicodedata.normalize("NFKC", text)
    cleaned = _KEEP.sub("_", cleaned).strip("._-") or "client"
    cleaned = cleaned[:_MAX]
    if cleaned != text or cleaned.lower() in _RESERVED or cleaned.lower().split(".")[0] in _RESERVED:
        cleaned = f"{cleaned}-{_digest(text)}"
    return cleaned


def safe_names(client_ids) -> dict[str, str]:
    """:func:`safe_name` for many IDs, also unique when file names ignore case (macOS, Windows).

    Examples
    --------
    >>> names = safe_names(["ab", "AB", "c"])
    >>> names["c"], names["ab"] != names["AB"], names["ab"].lower() != names["AB"].lower()
    ('c', True, True)
    """
    names = {cid: safe_name(cid) for cid in client_ids}
    folded = pd.Series({cid: n.lower() for cid, n in names.items()}, dtype=object)
    clash = folded.duplicated(keep=False)
    for cid in folded.index[clash.to_numpy()]:
        if not names[cid].endswith(_digest(cid)):
            names[cid] = f"{names[cid]}-{_digest(cid)}"
    return names


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
