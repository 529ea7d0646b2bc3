"""Whether the kit's modules have up-to-date bytecode, for the benchmarks' reports.

Python compiles a module without bytecode (or with stale bytecode) from its source at every
import, and writes the result only where it may (not with ``PYTHONDONTWRITEBYTECODE`` set, as in
many container images). For the kit that is 0.2-0.3 s of every command's start and of every
report's kernel in the plain loop, so the benchmarks say which case they measured. ``make``
compiles the kit (the Makefile's ``COMPILE``); ``python -m compileall progress_kit`` does too.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import progress_kit


def stale_modules(root: Path | None = None) -> list[Path]:
    """The modules under ``root`` (the kit's package by default) whose bytecode is missing or
    does not match the source (by the source's modification time and size, as Python's default
    check does)."""
    root = Path(progress_kit.__file__).parent if root is None else Path(root)
    stale = []
    for source in sorted(root.rglob("*.py")):
        cached = Path(importlib.util.cache_from_source(str(source)))
        try:
            header = cached.read_bytes()[:16]
        except OSError:
            header = b""
        if len(header) < 16:
            stale.append(source)
            continue
        stat = source.stat()
        flags = int.from_bytes(header[4:8], "little")
        # a hash-based pyc (flags != 0) is checked by its hash; count it as current
        if flags == 0 and (int.from_bytes(header[8:12], "little") != int(stat.st_mtime) & 0xFFFFFFFF
                           or int.from_bytes(header[12:16], "little") != stat.st_size & 0xFFFFFFFF):
            stale.append(source)
    return stale


def kit_bytecode() -> str:
    """A sentence for a benchmark's report: compiled, or how many modules compile at each start."""
    stale = stale_modules()
    if not stale:
        return "the kit's modules were compiled to bytecode (as `make` leaves them)"
    return (f"{len(stale)} of the kit's modules had no up-to-date bytecode, so they were compiled "
            "at every start (run `make bench`, or `python -m compileall progress_kit`, to measure "
            "what an installed kit does)")
