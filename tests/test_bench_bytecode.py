"""bench.bytecode: which of a package's modules would be compiled from source at import."""

import compileall
import os

from bench.bytecode import kit_bytecode, stale_modules


def test_modules_without_bytecode_are_listed_until_compiled(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("x = 1\n")
    assert [p.name for p in stale_modules(pkg)] == ["__init__.py", "a.py"]
    assert compileall.compile_dir(str(pkg), quiet=1)
    assert stale_modules(pkg) == []


def test_an_edited_module_is_stale_again(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    source = pkg / "a.py"
    source.write_text("x = 1\n")
    compileall.compile_dir(str(pkg), quiet=1)
    source.write_text("x = 12\n")  # another size
    os.utime(source, (1_700_000_000, 1_700_000_000))  # and another time
    assert stale_modules(pkg) == [source]


def test_the_sentence_says_which_case_was_measured():
    text = kit_bytecode()
    assert text.startswith("the kit's modules were compiled") or "compiled at every start" in text
