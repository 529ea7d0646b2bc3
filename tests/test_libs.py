"""reports/_libs.py: WeasyPrint imported with its native libraries found from one ``ldconfig -p``
loads the very libraries the usual import loads, and falls back to the usual import."""

import json
import subprocess
import sys
import textwrap

import pytest

from progress_kit.reports import _libs

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ldconfig is Linux's")

_LOADED = """
import json, sys
{setup}
libs = sorted({{line.split()[-1] for line in open("/proc/self/maps")
               if ".so" in line.split()[-1]}})
import ctypes.util
print(json.dumps({{"libs": libs, "restored": ctypes.util.find_library.__module__}}))
"""


def _loaded(setup: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _LOADED.format(setup=textwrap.dedent(setup))],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@linux
def test_the_same_native_libraries_load_as_with_the_usual_import():
    usual = _loaded("import progress_kit.reports._libs\nimport weasyprint")
    kit = _loaded("from progress_kit.reports._libs import import_weasyprint\n"
                  "import_weasyprint()\nimport weasyprint")
    assert kit["libs"] == usual["libs"]
    assert any("libpango" in lib for lib in kit["libs"])
    assert kit["restored"] == "ctypes.util"  # find_library is ctypes' own again


@linux
def test_the_listing_answers_as_ctypes_does():
    """Each name WeasyPrint tries is answered as ``ctypes.util.find_library`` answers it
    wherever ldconfig knows the library (there, CPython's first step is the one used)."""
    import ctypes.util

    listing = _libs._ldconfig_cache()
    assert listing
    find = _libs._finder(listing, ctypes.util.find_library)

    for name in ("gobject-2.0", "pango-1.0", "harfbuzz", "fontconfig", "pangoft2-1.0", "c"):
        assert find(name) == ctypes.util.find_library(name), name
    for name in ("libgobject-2.0-0", "gobject-2.0-0", "no-such-library-anywhere"):
        assert find(name) is None


def test_a_failed_import_is_made_again_the_usual_way(tmp_path, monkeypatch):
    """Should WeasyPrint's import fail with the listing's answers, it is imported again with
    ``find_library`` as it was."""
    fake = tmp_path / "weasyprint"
    (fake / "text").mkdir(parents=True)
    (fake / "__init__.py").write_text(textwrap.dedent("""
        import ctypes.util
        if ctypes.util.find_library.__module__ != "ctypes.util":
            print("WeasyPrint could not import some external libraries")
            raise OSError("cannot load library 'libpango-1.0-0'")
        from . import text
        """))
    (fake / "text" / "__init__.py").write_text("from . import ffi\n")
    (fake / "text" / "ffi.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "weasyprint" or m.startswith("weasyprint.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(_libs, "_ldconfig_cache", lambda: b"")
    monkeypatch.setattr(_libs.sys, "platform", "linux")
    import ctypes.util

    own = ctypes.util.find_library
    _libs.import_weasyprint()
    assert sys.modules["weasyprint.text.ffi"].__file__.startswith(str(tmp_path))
    assert ctypes.util.find_library is own


def test_without_ldconfig_weasyprint_is_imported_as_it_is(monkeypatch):
    monkeypatch.setattr(_libs.subprocess, "run", _raise_oserror)
    assert _libs._ldconfig_cache.__wrapped__() is None


@linux
def test_a_library_in_ld_library_path_is_asked_of_ctypes(tmp_path, monkeypatch):
    """ctypes.util's last step searches LD_LIBRARY_PATH, which ldconfig does not know: a name
    with a library file there is answered by ctypes itself; others are not asked of it."""
    (tmp_path / "libpk-only-here.so.1").write_bytes(b"")
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path))
    asked = []
    find = _libs._finder(b"", lambda name: asked.append(name) or f"lib{name}.so.1")
    assert find("pk-only-here") == "libpk-only-here.so.1"
    assert find("gobject-2.0-0") is None
    assert asked == ["pk-only-here"]


@linux
def test_two_threads_importing_at_once_leave_find_library_as_it_was(tmp_path, monkeypatch):
    """The replacement of find_library is the whole process's: the import holds a lock, so a
    second thread neither takes the first one's replacement for the original nor imports
    twice."""
    import ctypes.util
    import threading

    fake = tmp_path / "weasyprint"
    (fake / "text").mkdir(parents=True)
    (fake / "__init__.py").write_text("import time\ntime.sleep(0.2)\nfrom . import text\n")
    (fake / "text" / "__init__.py").write_text("from . import ffi\n")
    (fake / "text" / "ffi.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "weasyprint" or m.startswith("weasyprint.")]:
        monkeypatch.delitem(sys.modules, name)
    own = ctypes.util.find_library
    threads = [threading.Thread(target=_libs.import_weasyprint) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ctypes.util.find_library is own
    assert sys.modules["weasyprint.text.ffi"].__file__.startswith(str(tmp_path))


def _raise_oserror(*args, **kwargs):
    raise OSError("no /sbin/ldconfig")
