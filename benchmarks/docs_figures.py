"""Rewrite the benchmark figures in the docs from the benchmark JSON files.

A docs page marks where a benchmark's figures go, each marker alone on its line::

    <!-- figures:bench_archive -->
    ...anything; replaced on every run...
    <!-- /figures:bench_archive -->

The name in the marker is the stem of a results file written by ``make bench`` /
``make bench-quick``: ``bench_archive`` reads ``bench-results/bench_archive.json`` (the full run),
``bench_archive-quick`` reads ``bench-results/bench_archive-quick.json``. ``rows=REGEX`` after the
name (``<!-- figures:bench_detection rows=^muse_ -->``) keeps only the rows whose name matches, so
a page can show one part of a large benchmark where it discusses it. The region is replaced
by a line naming the run (full or quick, date, machine) and a Markdown table of its rows in the
CONVENTIONS.md format. A region whose JSON file does not exist is left as it was, and the script
says so. Text outside the markers is never changed.

Run from the project root::

    python benchmarks/docs_figures.py [--results bench-results] [FILE.md ...]

(``make docs-figures``); without files it updates README.md and docs/*.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# A region: the opening marker, its content (possibly empty) and the closing marker of the same name,
# each marker alone on its line (so a page may mention a marker in its prose).
_REGION = re.compile(
    r"^(?P<open><!-- figures:(?P<name>[A-Za-z0-9_.-]+)(?: rows=(?P<rows>\S+))? -->\n)(?P<body>.*?)"
    r"^(?P<close><!-- /figures:(?P=name) -->)$",
    re.DOTALL | re.MULTILINE,
)
_OPEN = re.compile(r"^<!-- figures:([A-Za-z0-9_.-]+)(?: rows=\S+)? -->$", re.MULTILINE)
_COLUMNS = ("name", "unit", "eegmon", "reference", "ratio", "reference_name")
_HEADERS = ("row", "unit", "eegmon", "reference", "ratio", "reference is")


def _number(value: Any) -> str:
    """A cell: 4 significant figures for floats, '–' for a missing value."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _cell(value: Any) -> str:
    # A '|' inside a cell would end it early in Markdown.
    return _number(value).replace("|", "\\|").replace("\n", " ")


def _run_line(doc: Mapping[str, Any], written: str | None) -> str:
    """The line above the table: which run, when, on what machine."""
    kind = "quick run (`--quick`)" if doc.get("quick") else "full run"
    when = doc.get("date") or (f"results file written {written}" if written else "date not recorded")
    machine = doc.get("machine") or {}
    parts = []
    if machine.get("cpus") is not None:
        parts.append(f"{machine['cpus']} CPUs")
    for key in ("python", "numpy", "numba"):
        if machine.get(key):
            parts.append(f"{key} {machine[key]}")
    if machine.get("platform"):
        parts.append(str(machine["platform"]))
    on = "; ".join(parts) if parts else "machine not recorded"
    return f"`{doc.get('benchmark', '?')}`, {kind}, {when}; {on}. Ratio > 1 means eegmon is better."


def render_table(doc: Mapping[str, Any], *, written: str | None = None, rows: str | None = None) -> str:
    """The Markdown for one benchmark document (CONVENTIONS.md format).

    Parameters
    ----------
    doc : mapping
        The JSON document a benchmark writes with ``--json``: ``benchmark``, ``quick``,
        ``machine`` and ``results`` (rows with ``name``, ``unit``, ``eegmon``, ``reference``,
        ``reference_name``, ``ratio``; a ``note`` column is added when a row has one).
    written : str, optional
        When the results file was written, shown if the document has no ``date`` of its own.
    rows : str, optional
        A regular expression: only rows whose ``name`` it matches (``re.search``) are shown.

    Returns
    -------
    str
        A run line, a blank line and a table, ending with a newline.
    """
    results = doc.get("results")
    if not isinstance(results, list):
        raise ValueError(f"expected a 'results' list in the benchmark document, got {type(results).__name__}")
    if not all(isinstance(row, Mapping) for row in results):
        raise ValueError("expected each result row to be an object")
    if rows is not None:
        try:
            keep = re.compile(rows)
        except re.error as exc:
            raise ValueError(f"rows={rows!r} is not a regular expression ({exc})") from None
        results = [row for row in results if keep.search(str(row.get("name", "")))]
    # Quality benchmarks say per row what a figure rests on (in-sample, why it is null): keep it.
    columns, headers = _COLUMNS, _HEADERS
    if any(row.get("note") for row in results):
        columns, headers = (*columns, "note"), (*headers, "note")
    lines = [_run_line(doc, written), ""]
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("| " + " | ".join("---" for _ in headers) + " |")
    for row in results:
        cells = [_cell(row.get(col)) for col in columns]
        cells[0] = f"`{cells[0]}`"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def load_results(results_dir: Path, name: str) -> tuple[dict[str, Any], str] | None:
    """The document ``results_dir/<name>.json`` and its modification time (UTC), or None if absent."""
    path = Path(results_dir) / f"{name}.json"
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(doc).__name__}")
    mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
    return doc, mtime.strftime("%Y-%m-%d %H:%M UTC")


def update_text(text: str, results_dir: Path, *, source: str = "<text>") -> tuple[str, list[str]]:
    """Replace every figures region of ``text`` whose JSON exists in ``results_dir``.

    Parameters
    ----------
    text : str
        A Markdown page.
    results_dir : Path
        The folder of benchmark JSON files (``bench-results``).
    source : str
        The page's name, used in the messages.

    Returns
    -------
    new_text : str
        The page with the regions rewritten; everything outside them unchanged.
    messages : list of str
        One line per region: updated, or left as it was and why.
    """
    closed = {m.group("name") for m in _REGION.finditer(text)}
    unclosed = sorted({name for name in _OPEN.findall(text) if name not in closed})
    if unclosed:
        raise ValueError(
            f"{source}: figures marker without its closing '<!-- /figures:NAME -->': {', '.join(unclosed)}"
        )
    messages: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        found = load_results(results_dir, name)
        if found is None:
            wanted = _display(Path(results_dir) / f"{name}.json")
            messages.append(f"{source}: {name}: no {wanted}; region left as it was")
            return match.group(0)
        doc, written = found
        table = render_table(doc, written=written, rows=match.group("rows"))
        shown = sum(line.startswith("| `") for line in table.splitlines())
        messages.append(f"{source}: {name}: {shown} rows")
        return match.group("open") + "\n" + table + "\n" + match.group("close")

    return _REGION.sub(replace, text), messages


def _display(path: Path) -> str:
    """A path as short as it can be said: relative to the project root when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def update_files(paths: Iterable[Path], results_dir: Path) -> list[str]:
    """Rewrite the figures regions of each Markdown file in place (only files that change)."""
    messages: list[str] = []
    for path in paths:
        path = Path(path)
        text = path.read_text()
        new, notes = update_text(text, results_dir, source=_display(path))
        if new != text:
            path.write_text(new)
        messages.extend(notes)
    return messages


def default_pages(root: Path = ROOT) -> list[Path]:
    """README.md and every page in docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path, help="Markdown files (default: README.md and docs/*.md)")
    parser.add_argument("--results", type=Path, default=ROOT / "bench-results", help="folder of benchmark JSON")
    args = parser.parse_args(argv)
    pages = args.pages or default_pages()
    missing = [str(p) for p in pages if not Path(p).is_file()]
    if missing:
        print(f"docs_figures: error: no such page: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        messages = update_files(pages, args.results)
    except ValueError as exc:
        print(f"docs_figures: error: {exc}", file=sys.stderr)
        return 2
    for line in messages:
        print(line)
    if not messages:
        print("docs_figures: no figures markers in these pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
