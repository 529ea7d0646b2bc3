"""Import WeasyPrint without one ``ldconfig``, ``gcc`` and ``ld`` run per library name it tries.

WeasyPrint loads its native libraries when it is imported (``weasyprint.text.ffi``), trying
for each several names in turn, most of them Windows' or macOS' (``libgobject-2.0-0``,
``gobject-2.0-0``, then ``gobject-2.0`` ...). cffi hands each name to
``ctypes.util.find_library``, which on Linux runs ``/sbin/ldconfig -p`` and, when that does
not know the name, ``gcc`` and ``ld`` as well: 12-30 ms for every name that is not found, 0.3 s
of the import's 0.55 s (measured on the project's machine; docs/performance.md, round five,
fourth session). Every command that renders a report pays it once, before anything else can run.

:func:`import_weasyprint` imports WeasyPrint with ``find_library`` answering from a single
``ldconfig -p``, read once, by the same rule as CPython's first step
(``ctypes.util._findSoname_ldconfig``). It leaves out the ``gcc`` step, and the ``ld`` step
too except for a name whose library file lies in a folder of ``LD_LIBRARY_PATH`` (there it
asks ``ctypes.util`` itself). The libraries loaded are the same (tested, also with an empty
``LD_LIBRARY_PATH`` folder and without ``gcc``): on Linux ``find_library`` returns a library's
soname, which cffi then opens by the dynamic linker's own search, and each WeasyPrint
library's list also holds its soname (``libgobject-2.0.so.0``), which cffi opens directly.
Should the import still fail that way (a library only ``gcc`` finds), WeasyPrint prints its
advice and the import is made again the usual way (tested): such a machine loses nothing but
the time.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import subprocess
import sys
import threading

__all__ = ["import_weasyprint"]

_ABI = {"x86_64-64": "libc6,x86-64", "ppc64-64": "libc6,64bit", "sparc64-64": "libc6,64bit",
        "s390x-64": "libc6,64bit", "ia64-64": "libc6,IA-64"}
"""``ldconfig -p``'s name for each machine's ABI, as in ``ctypes.util._findSoname_ldconfig``."""


@functools.cache
def _ldconfig_cache() -> bytes | None:
    """``ldconfig -p``'s listing, as ``ctypes.util`` reads it, once per process; None where it
    cannot run."""
    try:
        done = subprocess.run(["/sbin/ldconfig", "-p"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              env={"LC_ALL": "C", "LANG": "C"}, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 and done.stdout else None


def _finder(listing: bytes, fallback):
    """``find_library`` answered from ``listing`` (CPython's first step on Linux), and by
    ``fallback`` (``ctypes.util``'s own) for a name whose library file lies in a folder of
    ``LD_LIBRARY_PATH``, which ``ctypes.util`` searches in its last step and ``ldconfig`` does
    not know."""
    import struct

    machine = os.uname().machine + ("-32" if struct.calcsize("l") == 4 else "-64")
    abi = _ABI.get(machine, "libc6")
    folders = [f for f in os.environ.get("LD_LIBRARY_PATH", "").split(":") if f]

    def find_library(name: str) -> str | None:
        pattern = r"\s+(lib" + re.escape(name) + r"\.[^\s]+)\s+\(" + abi  # ctypes.util's
        found = re.search(os.fsencode(pattern), listing)
        if found:
            return os.fsdecode(found.group(1))
        if any(glob.glob(os.path.join(glob.escape(f), f"lib{glob.escape(name)}.*")) for f in folders):
            return fallback(name)
        return None

    return find_library


_LOCK = threading.Lock()


def import_weasyprint() -> None:
    """Import WeasyPrint (its native libraries found as described in this module); a no-op
    once it is imported. Elsewhere than on Linux, or where ``ldconfig`` cannot run, WeasyPrint
    is imported as it is.

    ``ctypes.util.find_library`` is replaced for the whole process while WeasyPrint imports, so
    the import holds a lock: a second thread waits for the first, then finds WeasyPrint
    imported."""
    if "weasyprint.text.ffi" in sys.modules:
        return
    with _LOCK:
        if "weasyprint.text.ffi" in sys.modules:
            return
        listing = _ldconfig_cache() if sys.platform.startswith("linux") else None
        if listing is not None:
            import ctypes.util

            own = ctypes.util.find_library
            ctypes.util.find_library = _finder(listing, own)
            try:
                import weasyprint  # noqa: F401
                return
            except OSError:
                # a library only ctypes' gcc step finds (and WeasyPrint has printed its advice):
                # the usual way below
                for name in [m for m in sys.modules
                             if m == "weasyprint" or m.startswith("weasyprint.")]:
                    del sys.modules[name]
            finally:
                ctypes.util.find_library = own
        import weasyprint  # noqa: F401, F811
