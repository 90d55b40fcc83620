"""Render the monthly report: a PDF of A4 pages, or one HTML file with the pages as images."""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path

from .._atomic import atomic_write
from ..errors import EegmonError
from .pages import PAGES

FORMATS = (".pdf", ".html")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _pdf(numbers: dict) -> bytes:
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": f"eegmon monthly report {numbers['month']}", "Creator": "eegmon"}) as pdf:
        for page in PAGES:
            pdf.savefig(page(numbers))
    return buf.getvalue()


def _html(numbers: dict) -> bytes:
    images = "\n".join(f'<img alt="{html.escape(page.__doc__.split(":")[0])}" '
                       f'src="data:image/png;base64,{base64.b64encode(_png(page(numbers))).decode()}">'
                       for page in PAGES)
    title = html.escape(f"eegmon monthly report: {numbers['title']} ({numbers['archive']})")
    data = html.escape(json.dumps(numbers, indent=1))
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:0 auto;padding:1em}} img{{max-width:100%;
border:1px solid #ccc;margin:.5em 0}} details{{margin-top:1em}}</style></head><body>
<h1>{title}</h1>
<p>Research software, not a certified medical device. Counts are of review items: a seizure found by several
detectors, or detected and annotated, is one seizure.</p>
{images}
<details><summary>The numbers (JSON)</summary><pre>{data}</pre></details>
</body></html>
"""
    return doc.encode()


def write_report(numbers: dict, path: str | os.PathLike, *, json_path: str | os.PathLike | None = None) -> Path:
    """Write the report as ``.pdf`` or ``.html`` (by the suffix) and, when asked, its numbers as JSON.

    Files are written whole (a temporary file renamed into place), so a failed run leaves none.
    """
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise EegmonError(f"the report must end in .pdf or .html, got {path.name!r}.", path)
    if not path.parent.is_dir():
        raise EegmonError("the folder to write the report into does not exist.", path.parent)
    data = _pdf(numbers) if path.suffix.lower() == ".pdf" else _html(numbers)
    with atomic_write(path) as f:
        f.write(data)
    if json_path is not None:
        with atomic_write(json_path, "w") as f:
            json.dump(numbers, f, indent=2)
            f.write("\n")
    return path
