"""Imports flow one way (issue 14, Structure): no module imports one that imports it back."""

import ast
from pathlib import Path

PKG = Path(__file__).parent.parent / "progress_kit"


def _relative_imports(module: str) -> set[str]:
    tree = ast.parse((PKG / f"{module}.py").read_text("utf-8"))
    found = set()
    for node in ast.walk(tree):  # module level and inside functions alike
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(a.name for a in node.names)
    return found


def test_statistics_modules_do_not_import_the_dask_dispatch():
    for module in ("change", "outcomes", "trajectories"):
        assert "distributed" not in _relative_imports(module), module
    assert {"change", "outcomes", "trajectories"} <= _relative_imports("distributed")


def test_data_does_not_import_demo():
    assert "demo" not in _relative_imports("data")
    assert "data" in _relative_imports("demo")


def test_foundations_import_nothing_above_them():
    for module in ("errors", "_dask"):
        assert _relative_imports(module) == set(), module
    assert _relative_imports("measures") <= {"errors"}


def test_report_modules_import_each_other_one_way():
    """No two modules of progress_kit.reports import each other, even inside functions (issue 24:
    the zygote's start module and the engine did; the start now lives in the engine)."""
    import ast
    import itertools
    from pathlib import Path

    import progress_kit.reports as reports

    folder = Path(reports.__file__).parent
    names = {p.stem for p in folder.glob("*.py")}
    graph = {}
    for path in folder.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        graph[path.stem] = deps & names
    both = [(a, b) for a, b in itertools.combinations(sorted(graph), 2)
            if b in graph[a] and a in graph[b]]
    assert both == []


def test_dependencies_whose_internals_we_use_are_bounded_by_the_installed_version():
    """WeasyPrint, nbconvert, papermill and pyarrow internals (issue 24): each has an upper
    bound in pyproject.toml, and the installed version (the one tested) is inside it."""
    import tomllib
    from importlib.metadata import version
    from pathlib import Path

    from packaging.requirements import Requirement

    root = Path(__file__).resolve().parents[1]
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    reqs = {Requirement(d).name: Requirement(d) for d in deps}
    for name in ("weasyprint", "nbconvert", "papermill", "pyarrow", "pandas"):
        spec = reqs[name].specifier
        assert any(s.operator == "<" for s in spec), name
        assert spec.contains(version(name)), (name, version(name), str(spec))
