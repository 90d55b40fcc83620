"""Small pieces of the self-contained HTML reports (evaluation, forecast)."""

from __future__ import annotations

import base64
import html
import io


def png(fig) -> str:
    """A matplotlib figure as an inline ``<img>`` (PNG, base64); the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def fmt(x) -> str:
    """A table cell: 3 significant digits, ``n/a`` for None, ranges joined by an en dash."""
    if x is None:
        return "n/a"
    if isinstance(x, tuple | list):
        return "–".join(fmt(v) for v in x)
    return f"{x:.3g}" if isinstance(x, float) else html.escape(str(x))


def table(header: list[str], rows: list[list]) -> str:
    """An HTML table (cells through :func:`fmt`, escaped)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
