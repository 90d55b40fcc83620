"""The house plan's layers, checked on every import statement (ARCHITECTURE: "Arrows point down the path").

Every ``import`` and ``from ... import`` of every module is read with :mod:`ast`, at module level
and inside functions, with relative imports resolved against the ``eegmon`` namespace that
pyproject maps the folders into (``detectors/`` is ``eegmon.detectors``, and so on), plus
``importlib.import_module`` calls on a literal name. The rules are those ARCHITECTURE states:

- the core (``eegmon/`` without ``commands/`` and ``cli.py``) never imports ``eegmon.detectors``,
  ``eegmon.streaming`` or ``eegmon.viewer``, except where listed in ``CORE_EXCEPTIONS`` with the
  reason;
- ``eegmon.detectors`` never imports ``eegmon.streaming`` or ``eegmon.viewer``;
- no library module imports ``eegmon.viewer`` but the CLI entry that opens it, and that one only
  inside a function (so the rest works with no Qt); tests and benchmarks of the viewer import it;
- nothing outside ``eegmon/commands`` and ``eegmon/cli.py`` imports ``eegmon.commands``: no library
  module, test or benchmark, except the tests of the CLI itself that read its ``COMMANDS`` table;
- within the core, only the CLI imports ``eegmon.cohort`` (the issue that asked for this test: the
  core never imports cohort; ARCHITECTURE lists cohort in the core, as its top floor).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Folder -> the package it is imported as (pyproject's [tool.setuptools.package-dir]).
FOLDERS = {"eegmon": "eegmon", "detectors": "eegmon.detectors", "streaming": "eegmon.streaming",
           "viewer": "eegmon.viewer"}
CLI = ("eegmon.commands", "eegmon.cli")
#: (importing module or package, imported package) -> why the core may import it.
CORE_EXCEPTIONS = {
    ("eegmon.cohort", "eegmon.detectors"): "batch detection over a dataset runs the detectors on every recording",
    ("eegmon.demo", "eegmon.detectors"): "the demo is the tour of every floor that 'eegmon demo' gives",
    ("eegmon.demo", "eegmon.streaming"): "the demo is the tour of every floor that 'eegmon demo' gives",
}
#: Modules outside the CLI allowed to import eegmon.commands, and why.
COMMANDS_EXCEPTIONS = {
    "tests.test_cli": "tests the CLI itself: every command of the COMMANDS table has a help",
    "tests.test_cli_polish": "tests what the CLI prints (its progress bar, pipes, figures' precision)",
    "tests.test_monitor_status": "tests what 'eegmon monitor' prints: its status line on a terminal",
    "tests.test_docs": "checks the README's command table against the COMMANDS table",
    "tests.test_open_recording": "checks that the names moved out of eegmon.commands still import, with a warning",
}
VIEWER_ENTRY = "eegmon.commands.view"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # what it imports (a module, or a name in one: both are checked)
    line: int
    in_function: bool

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def _modules():
    """(dotted name, path, is a package) of every library module, test and benchmark."""
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            yield ".".join([package, *(parts[:-1] if is_package else parts)]), path, is_package
    for folder in ("tests", "benchmarks"):
        for path in sorted((ROOT / folder).glob("*.py")):
            yield f"{folder}.{path.stem}", path, False


def _literal_prefix(node: ast.expr) -> str | None:
    """The constant start of a string argument (``f"eegmon.commands.{name}"`` gives its first part)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value).rstrip(".")
    return None


def _imports(module: str, path: Path, is_package: bool) -> list[Import]:
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[:len(package.split(".")) - child.level + 1]
                    source = ".".join(base + ([child.module] if child.module else []))
                else:
                    source = child.module or ""
                targets = [source] + [f"{source}.{a.name}" for a in child.names]  # a name may be a submodule
            elif (isinstance(child, ast.Call) and child.args
                  and getattr(child.func, "attr", getattr(child.func, "id", None)) == "import_module"):
                prefix = _literal_prefix(child.args[0])
                targets = [prefix] if prefix else []
            found.extend(Import(module, t, child.lineno, in_function) for t in targets)
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


ALL = [imp for args in _modules() for imp in _imports(*args)]
LIBRARY = [imp for imp in ALL if _within(imp.module, "eegmon")]
CORE = [imp for imp in LIBRARY if not any(_within(imp.module, p) for p in CLI)
        and not any(_within(imp.module, p) for p in ("eegmon.detectors", "eegmon.streaming", "eegmon.viewer"))]


def _allowed_in_core(imp: Import, package: str) -> bool:
    return any(_within(imp.module, who) and package == what for who, what in CORE_EXCEPTIONS)


def test_the_walk_sees_every_floor():
    """The walk is no test if it reads nothing: it finds the imports it must (also relative ones, in functions)."""
    seen = {(imp.module, imp.target, imp.in_function) for imp in ALL}
    assert ("eegmon.cli", "eegmon.commands.COMMANDS", False) in seen  # relative, module level
    assert ("eegmon.cli", "eegmon.commands", True) in seen  # importlib.import_module(f"eegmon.commands.{...}")
    assert ("eegmon.streaming.engine", "eegmon.detectors.StreamingDetector", True) in seen  # inside a method
    assert any(_within(imp.module, "eegmon.detectors") for imp in ALL)
    assert len({imp.module for imp in CORE}) > 20


@pytest.mark.parametrize("package", ["eegmon.detectors", "eegmon.streaming", "eegmon.viewer"])
def test_core_never_imports_the_floors_above(package):
    bad = [str(imp) for imp in CORE if _within(imp.target, package) and not _allowed_in_core(imp, package)]
    assert not bad, f"the core must not import {package}:\n" + "\n".join(bad)


def test_core_exceptions_are_still_needed():
    """An exception nobody uses any more is removed from the list (it would hide a new violation)."""
    for who, what in CORE_EXCEPTIONS:
        assert any(_within(imp.module, who) and _within(imp.target, what) for imp in CORE), (who, what)


def test_detectors_never_import_streaming_or_viewer():
    bad = [str(imp) for imp in LIBRARY if _within(imp.module, "eegmon.detectors")
           and (_within(imp.target, "eegmon.streaming") or _within(imp.target, "eegmon.viewer"))]
    assert not bad, "\n".join(bad)


def test_only_the_cli_entry_opens_the_viewer_and_lazily():
    bad = [str(imp) for imp in LIBRARY if _within(imp.target, "eegmon.viewer")
           and not _within(imp.module, "eegmon.viewer") and not (imp.module == VIEWER_ENTRY and imp.in_function)]
    assert not bad, "only eegmon.commands.view may import eegmon.viewer, inside a function:\n" + "\n".join(bad)


def test_nothing_but_the_cli_imports_commands():
    bad = [str(imp) for imp in ALL if _within(imp.target, "eegmon.commands")
           and not any(_within(imp.module, p) for p in CLI) and imp.module not in COMMANDS_EXCEPTIONS]
    assert not bad, "library code, tests and benchmarks must not import eegmon.commands:\n" + "\n".join(bad)


def test_only_the_cli_imports_cohort():
    bad = [str(imp) for imp in CORE
           if _within(imp.target, "eegmon.cohort") and not _within(imp.module, "eegmon.cohort")]
    bad += [str(imp) for imp in LIBRARY if _within(imp.target, "eegmon.cohort")
            and any(_within(imp.module, p) for p in ("eegmon.detectors", "eegmon.streaming", "eegmon.viewer"))]
    assert not bad, "\n".join(bad)
