"""Peak resident memory of this process, resettable on Linux (VmHWM via /proc/self/clear_refs)."""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")


def _status_kib(key: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def rss_bytes() -> int:
    """Current resident set size."""
    return _status_kib("VmRSS") * 1024


def reset_peak() -> None:
    """Make the peak (high-water mark) equal to the current RSS."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_bytes() -> int:
    """Peak resident set size since start or the last :func:`reset_peak`."""
    return _status_kib("VmHWM") * 1024


def trim_heap() -> None:
    """Return freed heap pages to the system (glibc ``malloc_trim``), so that the resident size
    before a measured call holds the data, not what building the data left behind."""
    import ctypes
    import ctypes.util

    try:  # pyarrow keeps freed buffers in its own pool (text columns are pyarrow-backed)
        import pyarrow

        pyarrow.default_memory_pool().release_unused()
    except ImportError:
        pass

    name = ctypes.util.find_library("c")
    if name:
        try:
            ctypes.CDLL(name).malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass
