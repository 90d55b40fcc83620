"""benchmarks/docs_figures.py: benchmark JSON -> tables between markers in the docs."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import docs_figures  # noqa: E402

DOC = {
    "benchmark": "archive",
    "quick": True,
    "machine": {"cpus": 2, "python": "3.11.7", "numpy": "2.1.0", "numba": "0.60.0"},
    "results": [
        {"name": "random_read_30s", "unit": "s", "eegmon": 0.000301234, "reference": 0.00036,
         "reference_name": "mne get_data", "ratio": 1.1951, "higher_is_better": False},
        {"name": "import_peak_rss", "unit": "MB", "eegmon": 119.0, "reference": None,
         "reference_name": None, "ratio": None, "higher_is_better": False},
    ],
}

PAGE = """# Archive

Text before, with a table of its own:

| a | b |
| --- | --- |
| 1 | 2 |

<!-- figures:bench_archive-quick -->
run `make bench-quick docs-figures`
<!-- /figures:bench_archive-quick -->

Between the regions.

<!-- figures:bench_viewer -->
old viewer figures
<!-- /figures:bench_viewer -->

Text after; a marker named in prose, `<!-- figures:bench_archive-quick -->`, is not a region.
"""


def _outside(text: str) -> str:
    """The page with every region's body taken out: what must never change."""
    return re.sub(r"^(<!-- figures:(\S+) -->\n).*?^(<!-- /figures:\2 -->)$", r"\1\3", text,
                  flags=re.DOTALL | re.MULTILINE)


@pytest.fixture
def results(tmp_path: Path) -> Path:
    folder = tmp_path / "bench-results"
    folder.mkdir()
    (folder / "bench_archive-quick.json").write_text(json.dumps(DOC))
    return folder


def test_region_gets_the_table_and_the_rest_is_unchanged(tmp_path, results):
    page = tmp_path / "archive.md"
    page.write_text(PAGE)
    messages = docs_figures.update_files([page], results)
    new = page.read_text()

    region = new.split("<!-- figures:bench_archive-quick -->\n")[1].split("<!-- /figures:bench_archive-quick -->")[0]
    assert "make bench-quick" not in region
    assert "| row | unit | eegmon | reference | ratio | reference is |" in region
    assert "| `random_read_30s` | s | 0.0003012 | 0.00036 | 1.195 | mne get_data |" in region
    assert "| `import_peak_rss` | MB | 119 | – | – | – |" in region
    assert "`archive`, quick run (`--quick`)" in region
    assert "2 CPUs; python 3.11.7; numpy 2.1.0; numba 0.60.0" in region
    assert "results file written 20" in region  # no date in the JSON: the file's time stands in
    assert _outside(new) == _outside(PAGE)
    assert new.count("| `random_read_30s` |") == 1
    assert any("bench_archive-quick: 2 rows" in m for m in messages)


def test_missing_json_leaves_the_region_as_it_was(tmp_path, results):
    page = tmp_path / "viewer.md"
    page.write_text(PAGE)
    docs_figures.update_files([page], results)
    new = page.read_text()
    assert "<!-- figures:bench_viewer -->\nold viewer figures\n<!-- /figures:bench_viewer -->" in new
    _, messages = docs_figures.update_text(PAGE, results, source="viewer.md")
    assert any("bench_viewer" in m and "left as it was" in m for m in messages)


def test_no_json_at_all_leaves_the_page_byte_identical(tmp_path):
    new, messages = docs_figures.update_text(PAGE, tmp_path / "nothing-here")
    assert new == PAGE
    assert len(messages) == 2


def test_second_run_changes_nothing(tmp_path, results):
    once, _ = docs_figures.update_text(PAGE, results)
    twice, _ = docs_figures.update_text(once, results)
    assert twice == once


def test_date_from_the_json_wins_over_the_file_time(tmp_path):
    table = docs_figures.render_table({**DOC, "quick": False, "date": "2026-12-01T12:00:00+00:00"})
    assert table.startswith("`archive`, full run, 2026-12-01T12:00:00+00:00; 2 CPUs")


def test_pipe_in_a_cell_is_escaped():
    doc = {**DOC, "results": [{**DOC["results"][0], "reference_name": "a | b"}]}
    assert "a \\| b" in docs_figures.render_table(doc)


def test_notes_get_a_column_only_when_there_are_some():
    assert "note" not in docs_figures.render_table(DOC)
    doc = {**DOC, "results": [{**DOC["results"][0], "note": "in-sample"}, DOC["results"][1]]}
    table = docs_figures.render_table(doc)
    assert "| row | unit | eegmon | reference | ratio | reference is | note |" in table
    assert "| mne get_data | in-sample |" in table
    assert "| `import_peak_rss` | MB | 119 | – | – | – | – |" in table


def test_unclosed_marker_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="bench_signal"):
        docs_figures.update_text("<!-- figures:bench_signal -->\nno end\n", tmp_path, source="x.md")


def test_bad_json_names_the_file(tmp_path):
    (tmp_path / "bench_archive-quick.json").write_text("{not json")
    with pytest.raises(ValueError, match="bench_archive-quick.json"):
        docs_figures.update_text(PAGE, tmp_path)


def test_cli_exit_codes(tmp_path, results, capsys):
    page = tmp_path / "p.md"
    page.write_text(PAGE)
    assert docs_figures.main([str(page), "--results", str(results)]) == 0
    assert "2 rows" in capsys.readouterr().out
    assert docs_figures.main([str(tmp_path / "missing.md")]) == 2
    assert "no such page" in capsys.readouterr().err


def test_rows_filter_keeps_matching_rows_only(results):
    page = ("<!-- figures:bench_archive-quick rows=^random_ -->\nold\n<!-- /figures:bench_archive-quick -->\n\n"
            "<!-- figures:bench_archive-quick rows=peak -->\nold\n<!-- /figures:bench_archive-quick -->\n")
    new, messages = docs_figures.update_text(page, results)
    first, second = new.split("<!-- /figures:bench_archive-quick -->")[:2]
    assert "`random_read_30s`" in first and "import_peak_rss" not in first
    assert "`import_peak_rss`" in second and "random_read_30s" not in second
    assert len(messages) == 2


def test_bad_rows_filter_is_an_error(results):
    page = "<!-- figures:bench_archive-quick rows=( -->\nold\n<!-- /figures:bench_archive-quick -->\n"
    with pytest.raises(ValueError, match="not a regular expression"):
        docs_figures.update_text(page, results)
