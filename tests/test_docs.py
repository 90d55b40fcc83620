"""README.md and docs/*.md: links that resolve, and no internal references."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_IDS = [str(p.relative_to(ROOT)) for p in PAGES]

# [text](target) outside code; images too. Targets with a scheme (https:, mailto:) are not files.
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
_CODE = re.compile(r"`[^`\n]*`")


def _prose(text: str) -> str:
    """The page without fenced code blocks and inline code, where links are not links."""
    return _CODE.sub("", _FENCE.sub("", text))


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text())
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} +(.+?) *#*$", text, re.MULTILINE)}


def test_slug_matches_github():
    assert _slug("Export (Ctrl+E, or `eegmon.viewer.export`)") == "export-ctrle-or-eegmonviewerexport"
    assert _slug("Archive layout (plain h5py)") == "archive-layout-plain-h5py"


def test_there_are_pages():
    assert (ROOT / "docs" / "index.md") in PAGES
    assert len(PAGES) > 5


@pytest.mark.parametrize("page", PAGES, ids=_IDS)
def test_relative_links_resolve(page: Path):
    broken = []
    for target in _LINK.findall(_prose(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue
        file_part, _, fragment = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif fragment and dest.suffix == ".md" and fragment not in _anchors(dest):
            broken.append(f"{target}: no heading with that anchor in {dest.name}")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=_IDS)
def test_no_internal_references(page: Path):
    text = page.read_text()
    assert not re.findall(r"(?i)\bissues? *#?\d+", text), "refers to an internal issue number"
    assert "/work/" not in text, "names a path on the development machine"
    # The real-EEG folder is named only as the documented default of EEGMON_REALDATA.
    for m in re.finditer(r"\.\./shared/realdata", text):
        before = text[max(0, m.start() - 12):m.start()]
        assert "default" in before, f"'../shared/realdata' not given as the default: ...{text[m.start() - 60:m.end()]}"


def test_readme_is_short_and_says_what_it_is():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) < 200
    assert "not a certified medical device" in text
    from eegmon.commands import COMMANDS

    for command in COMMANDS:
        assert f"| `eegmon {command}" in text, f"eegmon {command} missing from the command table"
